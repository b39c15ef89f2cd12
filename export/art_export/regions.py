"""Region hit: how much of each tracklet's attention falls on the performer.

A clip's `boxes.json` (written by `artrt synth --boxes`) gives the
performer's box in every frame, in the frame's pixels. The box is carried
through the bundle's geometry (shorter-side resize, centre crop) into the
model's input, onto the h x w token grid (equal cells dividing the crop).
A tracklet's region hit in a frame is the share of its attention on the
cells the box covers any part of: at the model's token resolution, the
attention on the performer (1 when all of it is, 0 when none is; a
performer smaller than a cell still scores 1 on the cells holding them). The overlap of the two tracklets is
sum_n min(a_1[n], a_2[n]) per frame: 1 for the same map, 0 for disjoint ones.
"""

from __future__ import annotations

import json

import numpy as np

from .preprocess import Preprocess

#: Key of the performer in `boxes.json`.
PERFORMER = "performer"


def load_performer_boxes(path, indices: list[int], num_frames: int) -> np.ndarray:
    """The performer's boxes [len(indices), 4] from a `boxes.json`; NaN rows
    for frames without one. Raises ValueError naming the file when malformed."""
    try:
        boxes = json.loads(path.read_text())
        rows = boxes[PERFORMER]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path}: not a boxes file with a `{PERFORMER}` key: {err}") from err
    if not isinstance(rows, list) or len(rows) != num_frames:
        raise ValueError(f"{path}: `{PERFORMER}` must list {num_frames} boxes, one per frame")
    out = np.full((len(indices), 4), np.nan, dtype=np.float32)
    for k, i in enumerate(indices):
        if rows[i] is not None:
            b = np.asarray(rows[i], dtype=np.float32)
            if b.shape != (4,) or not np.isfinite(b).all() or b[0] > b[2] or b[1] > b[3]:
                raise ValueError(f"{path}: frame {i + 1}: {rows[i]!r} is not [x0, y0, x1, y1]")
            out[k] = b
    return out


def to_crop(boxes: np.ndarray, width: int, height: int, pre: Preprocess) -> np.ndarray:
    """Boxes [..., 4] in a width x height frame to the model input's pixels
    (after the shorter-side resize and the centre crop), clipped to the crop."""
    rw, rh = pre.resized_size(width, height)
    x0, y0 = (rw - pre.width) // 2, (rh - pre.height) // 2
    sx, sy = rw / width, rh / height
    out = boxes * np.array([sx, sy, sx, sy], dtype=np.float32) - np.array([x0, y0, x0, y0], dtype=np.float32)
    lim = np.array([pre.width, pre.height, pre.width, pre.height], dtype=np.float32)
    return np.clip(out, 0.0, lim)


def cell_coverage(crop_boxes: np.ndarray, grid: tuple[int, int], pre: Preprocess) -> np.ndarray:
    """Which grid cells the box covers any part of: [..., 4] -> [..., h*w] of
    1 and 0 (NaN where the box is NaN)."""
    gh, gw = grid
    xs = np.arange(gw + 1, dtype=np.float32) * (pre.width / gw)
    ys = np.arange(gh + 1, dtype=np.float32) * (pre.height / gh)
    b = crop_boxes[..., None, :]
    ox = np.clip(np.minimum(b[..., 2], xs[1:]) - np.maximum(b[..., 0], xs[:-1]), 0.0, None) / (xs[1] - xs[0])
    oy = np.clip(np.minimum(b[..., 3], ys[1:]) - np.maximum(b[..., 1], ys[:-1]), 0.0, None) / (ys[1] - ys[0])
    cover = oy[..., :, None] * ox[..., None, :]  # [..., gh, gw]
    touched = np.where(np.isnan(cover), np.nan, (cover > 0).astype(np.float32))
    return touched.reshape(*crop_boxes.shape[:-1], gh * gw)


def region_report(attn: np.ndarray, coverage: np.ndarray) -> dict:
    """Region hit per tracklet, the best tracklet's, and the tracklets' overlap.

    attn [N, T, J, h*w] (each map sums to 1), coverage [N, T, h*w] from
    `cell_coverage` (NaN rows: frames without a box, left out of the hit).
    """
    attn = np.asarray(attn, dtype=np.float64)
    hit = (attn * np.asarray(coverage, dtype=np.float64)[:, :, None, :]).sum(axis=-1)  # [N, T, J]
    known = ~np.isnan(hit[:, :, 0])
    per_tracklet = [float(hit[:, :, j][known].mean()) if known.any() else float("nan") for j in range(attn.shape[2])]
    overlap = np.minimum(attn[:, :, 0], attn[:, :, 1]).sum(axis=-1)
    return {
        "frames": int(known.sum()),
        "region_hit": [round(v, 4) for v in per_tracklet],
        "best_region_hit": round(max(per_tracklet), 4),
        "overlap": round(float(overlap.mean()), 4),
    }
