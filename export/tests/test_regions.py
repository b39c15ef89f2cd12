import json

import numpy as np
import pytest

from art_export.clipset import ClipSet
from art_export.data import ClipTensors
from art_export.preprocess import Preprocess
from art_export.regions import cell_coverage, load_performer_boxes, region_report, to_crop

PRE = Preprocess(frames=4, resize_to=112, width=112, height=112)


def test_boxes_follow_the_resize_and_centre_crop():
    # 160x120 -> 149x112 (shorter side 112), crop x from 18.
    s = 149 / 160
    box = np.array([[18 / s + 10, 0.0, 18 / s + 30, 60.0]], dtype=np.float32)
    crop = to_crop(box, 160, 120, PRE)
    np.testing.assert_allclose(crop, [[10 * s, 0.0, 30 * s, 56.0]], rtol=1e-5)
    outside = to_crop(np.array([[0.0, 0.0, 10.0, 120.0]], dtype=np.float32), 160, 120, PRE)
    assert outside[0, 2] == 0.0  # left of the crop: no width left


def test_cell_coverage_marks_the_cells_the_box_covers_any_part_of():
    cov = cell_coverage(np.array([16.0, 0.0, 40.0, 16.0], dtype=np.float32), (7, 7), PRE)
    grid = cov.reshape(7, 7)
    assert grid[0, 1] == 1.0 and grid[0, 2] == 1.0 and grid[0, 0] == 0.0 and grid[0, 3] == 0.0
    assert grid[1:].sum() == 0.0  # touching the edge of row 1 is not covering it
    small = cell_coverage(np.array([20.0, 20.0, 22.0, 22.0], dtype=np.float32), (7, 7), PRE).reshape(7, 7)
    assert small.sum() == 1.0 and small[1, 1] == 1.0
    assert np.isnan(cell_coverage(np.full(4, np.nan, dtype=np.float32), (7, 7), PRE)).all()


def test_region_hit_and_overlap():
    cells = 4
    coverage = np.array([[[1.0, 1.0, 0.0, 0.0], [np.nan] * 4]])  # [1, 2, 4]: second frame unknown
    on = np.array([0.5, 0.5, 0.0, 0.0])
    off = np.array([0.0, 0.0, 0.25, 0.75])
    attn = np.stack([np.stack([on, off]), np.stack([off, off])])[None]  # [1, 2, 2, 4]
    r = region_report(attn, coverage)
    assert r["frames"] == 1 and r["region_hit"] == [1.0, 0.0] and r["best_region_hit"] == 1.0
    assert r["overlap"] == pytest.approx(0.5)  # frame 1: disjoint, frame 2: the same map
    assert attn.shape[-1] == cells


def test_boxes_load_at_the_sampled_frames_and_bad_ones_name_the_file(sets, tmp_path):
    clip_set = ClipSet.open(sets["test"])
    data = ClipTensors.load(clip_set, PRE, progress=False)
    assert data.boxes is not None and data.boxes.shape == (len(data), 4, 4)
    # The square is bright: the crop's pixels inside its box are brighter than the rest.
    i, t = 0, 1
    x0, y0, x1, y1 = np.round(data.boxes[i, t]).astype(int)
    frame = data.frames[i, t].astype(float).mean(-1)
    assert frame[y0 + 2 : y1 - 2, x0 + 2 : x1 - 2].mean() > frame.mean() + 40
    bad = tmp_path / "boxes.json"
    bad.write_text(json.dumps({"performer": [[5, 5, 1, 1]]}))
    with pytest.raises(ValueError, match=r"boxes\.json: frame 1"):
        load_performer_boxes(bad, [0], 1)
    bad.write_text("{}")
    with pytest.raises(ValueError, match=r"boxes\.json: not a boxes file"):
        load_performer_boxes(bad, [0], 1)
