"""The bundle's preprocessing rule, shared by training, calibration and golden data.

From a clip of N decoded 8-bit RGB frames:

1. sampling `segment-centre`: frame i of T is source frame floor((i + 0.5) * N / T);
2. resize `shorter-side-bilinear`: Pillow `Image.resize(.., BILINEAR)` (antialiased)
   of the 8-bit image so the shorter side is `resize_to` and the longer side is
   floor(long * resize_to / short + 0.5);
3. crop `centre`: offsets floor((W' - width) / 2), floor((H' - height) / 2);
4. x = (v / 255 - mean[c]) / std[c], laid out [T, 3, height, width].
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Preprocess:
    """Parameters of the preprocessing rule (written to `bundle.toml [input]`)."""

    frames: int = 8
    resize_to: int = 112
    width: int = 112
    height: int = 112
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def to_dict(self) -> dict:
        """Plain-dict form, for checkpoints."""
        d = asdict(self)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Preprocess":
        """Inverse of `to_dict`."""
        d = dict(d)
        d["mean"], d["std"] = tuple(d["mean"]), tuple(d["std"])
        return cls(**d)

    def sample_indices(self, num_frames: int) -> list[int]:
        """Segment-centre sampling of `frames` indices from `num_frames`."""
        return sample_indices(num_frames, self.frames)

    def resized_size(self, width: int, height: int) -> tuple[int, int]:
        """(W', H') after the shorter-side resize of a width x height image."""
        return resized_size(width, height, self.resize_to)

    def geometry(self, frames_u8: np.ndarray) -> np.ndarray:
        """Resize and centre-crop uint8 [F, H0, W0, 3] frames to uint8 [F, height, width, 3]."""
        if frames_u8.ndim != 4 or frames_u8.shape[-1] != 3 or frames_u8.dtype != np.uint8:
            raise ValueError(f"frames must be uint8 [F, H, W, 3], got {frames_u8.dtype} {frames_u8.shape}")
        h0, w0 = frames_u8.shape[1:3]
        rw, rh = self.resized_size(w0, h0)
        if rw < self.width or rh < self.height:
            raise ValueError(
                f"frames {w0}x{h0} resize to {rw}x{rh}, smaller than the {self.width}x{self.height} crop"
            )
        x0, y0 = (rw - self.width) // 2, (rh - self.height) // 2
        out = np.empty((frames_u8.shape[0], self.height, self.width, 3), dtype=np.uint8)
        for i, frame in enumerate(frames_u8):
            img = Image.fromarray(frame, mode="RGB")
            if (rw, rh) != (w0, h0):
                img = img.resize((rw, rh), Image.Resampling.BILINEAR)
            out[i] = np.asarray(img)[y0 : y0 + self.height, x0 : x0 + self.width]
        return out

    def normalize(self, frames_u8: np.ndarray) -> np.ndarray:
        """uint8 [..., H, W, 3] to float32 [..., 3, H, W] with x = (v / 255 - mean) / std."""
        x = frames_u8.astype(np.float32) / np.float32(255.0)
        x = (x - np.asarray(self.mean, dtype=np.float32)) / np.asarray(self.std, dtype=np.float32)
        return np.ascontiguousarray(np.moveaxis(x, -1, -3))

    def clip_tensor(self, all_frames_u8: np.ndarray) -> np.ndarray:
        """A whole clip's raw frames uint8 [N, H0, W0, 3] to the model input float32 [T, 3, h, w]."""
        idx = self.sample_indices(all_frames_u8.shape[0])
        return self.normalize(self.geometry(all_frames_u8[idx]))


def sample_indices(num_frames: int, frames: int) -> list[int]:
    """Frame i of `frames` is source frame floor((i + 0.5) * num_frames / frames)."""
    if num_frames <= 0:
        raise ValueError("a clip needs at least one frame")
    return [((2 * i + 1) * num_frames) // (2 * frames) for i in range(frames)]


def resized_size(width: int, height: int, resize_to: int) -> tuple[int, int]:
    """Shorter side to `resize_to`; longer side floor(long * resize_to / short + 0.5)."""
    short, long = min(width, height), max(width, height)
    scaled = (2 * long * resize_to + short) // (2 * short)
    return (resize_to, scaled) if width <= height else (scaled, resize_to)
