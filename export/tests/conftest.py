"""Shared fixtures: a tiny clip set, a briefly trained checkpoint and its bundle."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

from clipgen import write_clip_set  # noqa: E402

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def sets(tmp_path_factory) -> dict[str, Path]:
    """Two train sets, calibration and test sets of moving squares (4 classes, distinct seeds)."""
    root = tmp_path_factory.mktemp("sets")
    return {
        "train": write_clip_set(root / "train", clips_per_class=4, seed=11),
        "train2": write_clip_set(root / "train2", clips_per_class=2, seed=14),
        "calib": write_clip_set(root / "calib", clips_per_class=3, seed=12),
        "test": write_clip_set(root / "test", clips_per_class=3, seed=13),
    }


MODEL_ARGS = ["--dim", "32", "--channels", "8", "--heads", "2", "--resize-to", "64", "--width", "64", "--height", "64", "--frames", "4"]


@pytest.fixture(scope="session")
def checkpoint(sets, tmp_path_factory) -> Path:
    """A checkpoint after a few training batches on both training sets."""
    from art_export.cli import main

    out = tmp_path_factory.mktemp("ckpt") / "art.pt"
    rc = main(
        ["train", "--set", str(sets["train"]), "--set", str(sets["train2"]), "--val", str(sets["test"]), "--out", str(out), "--epochs", "2", "--batch-size", "8", "--seed", "3", "--quiet", *MODEL_ARGS]
    )
    assert rc == 0
    return out


@pytest.fixture(scope="session")
def bundle(sets, checkpoint, tmp_path_factory) -> Path:
    """The bundle exported from `checkpoint`."""
    from art_export.cli import main

    out = tmp_path_factory.mktemp("bundle") / "art-test"
    rc = main(["onnx", "--ckpt", str(checkpoint), "--calib", str(sets["calib"]), "--test", str(sets["test"]), "--out", str(out), "--name", "art-test", "--background", "move 3", "--quiet"])
    assert rc == 0
    return out
