"""Fine-tuning on another class list: what carries over, what starts afresh,
and a new class learnt from a checkpoint that never saw it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from clipgen import write_clip_set

from art_export.bundle import bundle_preprocess, verify_bundle
from art_export.clipset import ClipSet
from art_export.data import ClipTensors
from art_export.model import VARIANTS, Art, ArtConfig
from art_export.onnx_export import run_onnx
from art_export.preprocess import Preprocess
from art_export.relabel import CLASS_ROWS, relabel
from art_export.text_bank import build_text_bank
from art_export.train import load_checkpoint

TEMPLATES = ["a video of {label}.", "someone doing {label}."]


def small(labels: list[str]) -> tuple[Art, object]:
    torch.manual_seed(0)
    bank = build_text_bank(labels, TEMPLATES)
    cfg = ArtConfig(
        labels=labels,
        preprocess=Preprocess(frames=4, resize_to=32, width=48, height=32),
        dim=16, channels=8, heads=2, top_k=min(3, len(labels)), templates=TEMPLATES, **VARIANTS["art"],
    )
    model = Art(cfg, torch.from_numpy(bank.embeddings))
    # Trained-looking class rows: distinct from a new model's.
    with torch.no_grad():
        for name in ("final_head.2.weight", "final_head.2.bias", "bank"):
            model.state_dict()[name].add_(torch.rand_like(model.state_dict()[name]))
    return model, bank


def test_known_classes_keep_their_rows_and_new_ones_are_embedded_by_the_encoder():
    model, bank = small(["cartwheel", "round-off", "handspring"])
    tuned, new_bank, change = relabel(model, bank, ["handspring", "cartwheel", "aerial walkover"])
    assert change == {"added": ["aerial walkover"], "dropped": ["round-off"]}
    assert tuned.config.labels == new_bank.labels == ["handspring", "cartwheel", "aerial walkover"]
    old, new = model.state_dict(), tuned.state_dict()
    for name in CLASS_ROWS:
        torch.testing.assert_close(new[name][0], old[name][2])
        torch.testing.assert_close(new[name][1], old[name][0])
    fresh = build_text_bank(["aerial walkover"], TEMPLATES).embeddings[0]
    np.testing.assert_allclose(new_bank.embeddings[2], fresh, atol=1e-6)
    torch.testing.assert_close(new["bank"][2], torch.from_numpy(fresh), atol=1e-6, rtol=0)
    assert torch.count_nonzero(new["final_head.2.weight"][2]) == 0
    assert not new["prototype_seen"][2]
    for name, value in old.items():
        if name not in CLASS_ROWS:
            torch.testing.assert_close(new[name], value, msg=name)
    with torch.no_grad():
        out = tuned.eval()(torch.randn(2, 4, 3, 32, 48))
    assert out["logits"].shape == (2, 3)


def test_a_directory_without_a_checkpoint_is_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match="without checkpoint.pt"):
        load_checkpoint(tmp_path)


def test_a_class_list_that_cannot_carry_over_is_refused():
    model, bank = small(["cartwheel", "round-off"])
    with pytest.raises(ValueError, match=r"\['cartwheel'\] appear more than once"):
        relabel(model, bank, ["cartwheel", "cartwheel"])
    bank.encoder = "open_clip/ViT-B-16"
    with pytest.raises(ValueError, match="embedded by open_clip/ViT-B-16"):
        relabel(model, bank, ["cartwheel", "aerial walkover"])


def test_fine_tuning_learns_a_class_the_bundle_never_saw(bundle, checkpoint, sets, tmp_path, capsys):
    """The bundle's model knows four directions of motion; the venue's set
    adds a fifth (a diagonal). Fine-tuned from the checkpoint the bundle
    keeps, the model names the new class on held-out clips, and the exported
    bundle carries the new class list."""
    from art_export.cli import main

    base, _, _ = load_checkpoint(bundle)
    assert (bundle / "checkpoint.pt").read_bytes() == checkpoint.read_bytes()
    train = write_clip_set(tmp_path / "venue", classes=5, clips_per_class=8, seed=21)
    test = write_clip_set(tmp_path / "venue-test", classes=5, clips_per_class=4, seed=22)
    out = tmp_path / "venue.pt"
    args = ["train", "--init", str(bundle), "--set", str(train), "--out", str(out), "--epochs", "30", "--batch-size", "8", "--lr", "3e-3", "--seed", "1", "--quiet"]
    assert main(args) == 0
    assert "classes added: ['move 4']" in capsys.readouterr().out
    tuned, bank, ckpt = load_checkpoint(out)
    assert tuned.config.labels == bank.labels == [*base.config.labels, "move 4"]
    assert ckpt["provenance"]["relabelled"] == {"added": ["move 4"], "dropped": []}

    bundle = tmp_path / "bundle"
    assert main(["onnx", "--ckpt", str(out), "--calib", str(train), "--test", str(test), "--out", str(bundle), "--name", "art-venue", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["eval", "--bundle", str(bundle), "--set", str(test), "--quiet"]) == 0
    fp32 = json.loads(capsys.readouterr().out)["models"]["model.fp32.onnx"]
    assert fp32["top1"] >= 60, fp32
    # The deployed model names the new class.
    manifest = verify_bundle(bundle)
    pre = bundle_preprocess(manifest)
    data = ClipTensors.load(ClipSet.open(test), pre, False)
    predicted = run_onnx(bundle / "model.fp32.onnx", pre.normalize(data.frames))[0].argmax(axis=1)
    new = data.labels == 4
    assert manifest["model"]["labels"][4] == "move 4"
    assert (predicted[new] == 4).mean() >= 0.75, predicted[new]
