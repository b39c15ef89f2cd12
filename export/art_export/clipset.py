"""Reading clip sets in the project's format (MMAction2 rawframes layout).

A set is a directory holding `labels.txt` (one class label per line),
`annotations.txt` (`<clip_dir> <num_frames> <class_id>` per line), `set.toml`
(fps, frame size, provenance) and one directory of `img_00001.jpg`, ... per clip.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image


class ClipSetError(ValueError):
    """A clip set is malformed; the message names the file and line."""


@dataclass(frozen=True)
class Clip:
    """One annotated clip of a set."""

    directory: Path
    num_frames: int
    label: int

    def frame_path(self, index: int) -> Path:
        """Path of the 0-based frame `index` (files are numbered from 1)."""
        return self.directory / f"img_{index + 1:05d}.jpg"

    @property
    def boxes_path(self) -> Path:
        """Where the clip's `boxes.json` (region ground truth) is, if it has one."""
        return self.directory / "boxes.json"

    def load_frames(self, indices: list[int] | None = None) -> np.ndarray:
        """Decodes frames to 8-bit RGB, uint8 [F, H, W, 3] (all frames by default)."""
        if indices is None:
            indices = list(range(self.num_frames))
        frames = []
        for i in indices:
            path = self.frame_path(i)
            try:
                with Image.open(path) as img:
                    frames.append(np.asarray(img.convert("RGB"), dtype=np.uint8))
            except OSError as err:
                raise ClipSetError(f"{path}: cannot decode frame: {err}") from err
        shapes = {f.shape for f in frames}
        if len(shapes) > 1:
            raise ClipSetError(f"{self.directory}: frames of different sizes {sorted(shapes)}")
        return np.stack(frames)


@dataclass(frozen=True)
class ClipSet:
    """A labelled clip collection."""

    root: Path
    labels: list[str]
    clips: list[Clip]
    fps: int
    width: int
    height: int
    provenance: dict

    @classmethod
    def open(cls, root: str | Path) -> "ClipSet":
        """Reads and validates a set's index files (frames are decoded lazily)."""
        root = Path(root)
        if not root.is_dir():
            raise ClipSetError(f"{root}: not a directory")
        labels_path = root / "labels.txt"
        ann_path = root / "annotations.txt"
        meta_path = root / "set.toml"
        for p in (labels_path, ann_path, meta_path):
            if not p.is_file():
                raise ClipSetError(f"{p}: missing")
        labels = [line.strip() for line in labels_path.read_text().splitlines()]
        while labels and not labels[-1]:
            labels.pop()
        for n, label in enumerate(labels, 1):
            if not label:
                raise ClipSetError(f"{labels_path}:{n}: empty label")
        if not labels:
            raise ClipSetError(f"{labels_path}: no labels")
        try:
            meta = tomllib.loads(meta_path.read_text())
        except tomllib.TOMLDecodeError as err:
            raise ClipSetError(f"{meta_path}: {err}") from err
        for key in ("fps", "width", "height"):
            if not isinstance(meta.get(key), int) or meta[key] <= 0:
                raise ClipSetError(f"{meta_path}: key `{key}` must be a positive integer")
        clips = []
        for n, line in enumerate(ann_path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 3:
                raise ClipSetError(
                    f"{ann_path}:{n}: expected `<clip_dir> <num_frames> <class_id>`, got {line!r}"
                )
            name, frames_s, label_s = parts
            try:
                num_frames, label = int(frames_s), int(label_s)
            except ValueError as err:
                raise ClipSetError(f"{ann_path}:{n}: {err}") from err
            if num_frames <= 0:
                raise ClipSetError(f"{ann_path}:{n}: num_frames must be positive")
            if not 0 <= label < len(labels):
                raise ClipSetError(
                    f"{ann_path}:{n}: class id {label} outside 0..{len(labels) - 1}"
                )
            clips.append(Clip(root / name, num_frames, label))
        if not clips:
            raise ClipSetError(f"{ann_path}: no clips")
        provenance = dict(meta.get("provenance", {}))
        if "twins" in provenance:
            _check_twins(str(provenance["twins"]), clips, meta_path, ann_path)
        return cls(
            root=root,
            labels=labels,
            clips=clips,
            fps=meta["fps"],
            width=meta["width"],
            height=meta["height"],
            provenance=provenance,
        )

    @property
    def paired(self) -> bool:
        """Whether the clips come in contrast pairs (`artrt synth --twins`):
        clips 2k and 2k+1 show one scene as two classes."""
        return "twins" in self.provenance


def _check_twins(spec: str, clips: list[Clip], meta_path: Path, ann_path: Path) -> None:
    """Refuses a contrast-pair set whose clips do not follow its pairs."""
    try:
        pairs = [tuple(int(v) for v in p.split(":", 1)) for p in spec.split(",")]
    except ValueError:
        pairs = []
    if not pairs or any(len(p) != 2 for p in pairs):
        raise ClipSetError(f"{meta_path}: provenance.twins {spec!r} is not A:B[,C:D...]")
    if len(clips) % 2:
        raise ClipSetError(f"{ann_path}: {len(clips)} clips, but contrast pairs ({spec}) need an even number")
    for k in range(len(clips) // 2):
        want = pairs[k % len(pairs)]
        got = (clips[2 * k].label, clips[2 * k + 1].label)
        if got != want:
            raise ClipSetError(
                f"{ann_path}:{2 * k + 1}: pair {k} has classes {got[0]}:{got[1]}, provenance.twins says {want[0]}:{want[1]}"
            )
