"""A small learnable clip set in the project's clip-set format, written with
Pillow so the Python tests need no Rust toolchain.

Class c moves a bright square across a noisy background in direction c
(right, left, down, up, ...): telling classes apart needs temporal order.
Each clip's `boxes.json` holds the square's box in every frame (the square
is the performer).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

DIRECTIONS = [(1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, -1)]


def write_clip_set(root: Path, classes: int = 4, clips_per_class: int = 6, seed: int = 1, frames: int = 16, width: int = 160, height: int = 120) -> Path:
    """Writes labels.txt, annotations.txt, set.toml and JPEG frames under `root`."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    labels = [f"move {i}" for i in range(classes)]
    (root / "labels.txt").write_text("\n".join(labels) + "\n")
    (root / "set.toml").write_text(
        f'fps = 30\nwidth = {width}\nheight = {height}\n\n[provenance]\ngenerator = "pytest"\n'
        f'version = "0.1.0"\nseed = {seed}\ndescription = "moving squares"\n'
    )
    lines = []
    for c in range(classes):
        dx, dy = DIRECTIONS[c % len(DIRECTIONS)]
        for k in range(clips_per_class):
            name = f"clip_{c:02d}_{k:03d}"
            (root / name).mkdir(exist_ok=True)
            x0 = width / 2 + rng.uniform(-10, 10) - dx * 40
            y0 = height / 2 + rng.uniform(-8, 8) - dy * 30
            colour = rng.integers(150, 256, size=3)
            boxes = []
            for f in range(frames):
                img = rng.integers(0, 60, size=(height, width, 3), dtype=np.uint8)
                x = int(x0 + dx * 80 * f / frames)
                y = int(y0 + dy * 60 * f / frames)
                img[max(0, y - 10) : y + 10, max(0, x - 10) : x + 10] = colour
                Image.fromarray(img).save(root / name / f"img_{f + 1:05d}.jpg", quality=90)
                box = [max(0, x - 10), max(0, y - 10), min(width, x + 10), min(height, y + 10)]
                boxes.append(box if box[0] < box[2] and box[1] < box[3] else None)
            (root / name / "boxes.json").write_text(json.dumps({"performer": boxes}))
            lines.append(f"{name} {frames} {c}")
    (root / "annotations.txt").write_text("\n".join(lines) + "\n")
    return root
