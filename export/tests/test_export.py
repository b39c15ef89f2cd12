"""End to end: a short training run, export, quantisation and the bundle."""

import json
import shlex
import shutil
import tomllib
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import tomli_w
import torch

from art_export.bundle import BundleError, sha256, synth_command, verify_bundle
from art_export.clipset import ClipSet
from art_export.onnx_export import check_qdq, per_tensor_left_weights, run_onnx
from art_export.preprocess import Preprocess
from art_export.train import load_checkpoint


def manifest(bundle):
    return tomllib.loads((bundle / "bundle.toml").read_text())


def test_checkpoint_round_trip(checkpoint, sets):
    model, bank, ckpt = load_checkpoint(checkpoint)
    assert model.config.labels == ClipSet.open(sets["train"]).labels
    assert len(ckpt["history"]) == 2 and "val_top1" in ckpt["history"][0]
    assert ckpt["provenance"]["seed"] == 3
    assert [p["path"] for p in ckpt["provenance"]["train_sets"]] == [str(sets["train"]), str(sets["train2"])]
    assert ckpt["history"][0]["steps"] == 3  # 16 + 8 clips in batches of 8
    for record in ckpt["history"]:
        right = record["train_top1"] * 24 / 100  # training clips named right in the epoch
        assert 0 <= right <= 24 and right == pytest.approx(round(right), abs=0.01)
    assert bank.embeddings.shape[0] == 4


def test_checkpoint_of_another_format_is_refused_by_name(checkpoint, tmp_path):
    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=False)
    del ckpt["format"]
    old = tmp_path / "old.pt"
    torch.save(ckpt, old)
    with pytest.raises(ValueError, match=r"old\.pt: checkpoint format 1, this art-export reads format 3"):
        load_checkpoint(old)


def test_onnx_models_pass_the_checker_with_static_interface(bundle):
    for name in ("model.fp32.onnx", "model.fp32-frames.onnx", "model.int8.onnx", "model.int8-conv.onnx"):
        m = onnx.load(str(bundle / name))
        onnx.checker.check_model(m, full_check=True)
        assert m.opset_import[0].version == 17
        dims = lambda v: [d.dim_value for d in v.type.tensor_type.shape.dim]  # noqa: E731
        assert [i.name for i in m.graph.input] == ["video"]
        assert dims(m.graph.input[0]) == [1, 4, 3, 64, 64]
        assert [o.name for o in m.graph.output] == ["logits", "region_attn"]
        assert dims(m.graph.output[0]) == [1, 4]
        assert dims(m.graph.output[1]) == [1, 4, 2, 16]


def test_batched_export_runs_several_clips_at_once_as_one_at_a_time(sets, checkpoint, bundle, tmp_path):
    from art_export.cli import main

    out = tmp_path / "batched"
    rc = main(["onnx", "--ckpt", str(checkpoint), "--calib", str(sets["calib"]), "--out", str(out), "--name", "art-test", "--background", "move 3", "--max-batch", "3", "--quiet"])
    assert rc == 0
    entries = {e["path"]: e.get("max_batch", 1) for e in verify_bundle(out)["models"]}
    assert entries == {"model.fp32.onnx": 3, "model.fp32-frames.onnx": 1, "model.int8.onnx": 3, "model.int8-conv.onnx": 1}
    dims = lambda v: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]  # noqa: E731
    x = np.load(bundle / "golden/input.npy")
    x = np.concatenate([x, x[::-1], x[:1]])[:3]
    for name, batch in entries.items():
        g = onnx.load(str(out / name)).graph
        first = "batch" if batch > 1 else 1
        assert [dims(v) for v in (*g.input, *g.output)] == [[first, 4, 3, 64, 64], [first, 4], [first, 4, 2, 16]], name
        if batch == 1:
            continue
        one_by_one = run_onnx(out / name, x)
        together = onnxruntime.InferenceSession(str(out / name), providers=["CPUExecutionProvider"]).run(["logits", "region_attn"], {"video": x})
        for a, b in zip(one_by_one, together):
            assert a.shape == b.shape and np.abs(a - b).max() <= 1e-5, name
    # The batch-1 files of the same checkpoint compute the same function.
    for name in ("model.fp32.onnx", "model.fp32-frames.onnx"):
        assert np.abs(run_onnx(out / name, x)[0] - run_onnx(bundle / name, x)[0]).max() <= 1e-5
    m = manifest(out)
    m["models"][0]["max_batch"] = 0
    (out / "bundle.toml").write_text(tomli_w.dumps(m))
    with pytest.raises(BundleError, match=r"model\.fp32\.onnx: max_batch 0 must be an integer in 1\.\.=64"):
        verify_bundle(out)


def check_onnx_matches_pytorch(onnx_path, model, x):
    """Asserts that onnxruntime on `onnx_path` and PyTorch agree within 1e-4 on both outputs for input `x`; returns the region attention."""
    logits, attn = run_onnx(onnx_path, x)
    with torch.no_grad():
        out = model(torch.from_numpy(x))
    assert np.abs(logits - out["logits"].numpy()).max() <= 1e-4
    assert np.abs(attn - out["region_attn"].numpy()).max() <= 1e-4
    return attn


def test_pytorch_onnxruntime_parity(bundle, checkpoint):
    model, _, _ = load_checkpoint(checkpoint)
    check_onnx_matches_pytorch(bundle / "model.fp32.onnx", model, np.load(bundle / "golden/input.npy"))


def test_frames_file_runs_each_wide_convolution_per_frame_and_agrees(bundle):
    batched = onnx.load(str(bundle / "model.fp32.onnx"))
    frames = onnx.shape_inference.infer_shapes(onnx.load(str(bundle / "model.fp32-frames.onnx")), data_prop=True)
    kernels = {i.name: list(i.dims) for i in frames.graph.initializer}
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in frames.graph.value_info}
    wide = [n for n in frames.graph.node if n.op_type == "Conv" and kernels[n.input[1]][2:] != [1, 1]]
    assert wide and all(shapes[n.input[0]][0] == 1 for n in wide)
    wide_batched = [n for n in batched.graph.node if n.op_type == "Conv" and n.input[1] in kernels and kernels[n.input[1]][2:] != [1, 1]]
    assert len(wide) == 4 * len(wide_batched), "one convolution per frame (T = 4)"
    x = np.load(bundle / "golden/input.npy")
    for a, b in zip(run_onnx(bundle / "model.fp32.onnx", x), run_onnx(bundle / "model.fp32-frames.onnx", x)):
        assert np.abs(a - b).max() <= 1e-5


def test_finer_token_grid_exports_with_its_grid_and_agrees(sets, tmp_path):
    from art_export.cli import main
    from conftest import MODEL_ARGS

    ckpt, out = tmp_path / "fine.pt", tmp_path / "fine"
    args = ["train", "--set", str(sets["train"]), "--out", str(ckpt), "--epochs", "1", "--batch-size", "8", "--max-steps", "1", "--token-stride", "8", "--quiet", *MODEL_ARGS]
    assert main(args) == 0
    assert main(["onnx", "--ckpt", str(ckpt), "--calib", str(sets["calib"]), "--out", str(out), "--golden-clips", "1", "--quiet"]) == 0
    assert tomllib.loads((out / "bundle.toml").read_text())["model"]["grid"] == [8, 8]
    model, _, _ = load_checkpoint(ckpt)
    x = np.load(out / "golden/input.npy")
    for name in ("model.fp32.onnx", "model.fp32-frames.onnx"):
        assert check_onnx_matches_pytorch(out / name, model, x).shape == (1, 4, 2, 64)


def test_int8_is_tensorrt_style_qdq(bundle):
    m = onnx.load(str(bundle / "model.int8.onnx"))
    ops = {n.op_type for n in m.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    dq_outputs = {n.output[0] for n in m.graph.node if n.op_type == "DequantizeLinear"}
    quantized = {n.op_type for n in m.graph.node if dq_outputs.intersection(n.input)}
    assert {"Conv", "MatMul", "Gemm", "Softmax"} <= quantized
    check_qdq(bundle / "model.int8.onnx")
    check_qdq(bundle / "model.int8-conv.onnx")
    int8_weights = [i for i in m.graph.initializer if i.data_type == onnx.TensorProto.INT8]
    assert int8_weights, "weights are stored as int8"
    per_channel = [n for n in m.graph.node if n.op_type == "DequantizeLinear" and any(a.name == "axis" for a in n.attribute)]
    assert per_channel, "weights are quantised per channel"


def test_int8_weights_fit_seven_bits_and_a_wider_one_is_refused(bundle, tmp_path):
    for name in ("model.int8.onnx", "model.int8-conv.onnx"):
        m = onnx.load(str(bundle / name))
        weights = [onnx.numpy_helper.to_array(i).astype(np.int16) for i in m.graph.initializer if i.data_type == onnx.TensorProto.INT8]
        assert weights and max(int(np.abs(w).max()) for w in weights) <= 64, name
    m = onnx.load(str(bundle / "model.int8.onnx"))
    weight = next(i for i in m.graph.initializer if i.data_type == onnx.TensorProto.INT8 and i.dims)
    wide = onnx.numpy_helper.to_array(weight).copy()
    wide.flat[0] = 127
    weight.CopyFrom(onnx.numpy_helper.from_array(wide, weight.name))
    onnx.save(m, str(tmp_path / "wide.onnx"))
    with pytest.raises(ValueError, match=f"weight `{weight.name}` reaches 127, beyond 7 bits"):
        check_qdq(tmp_path / "wide.onnx")


def _left_weight_matmul(path, per_channel):
    """x [1, 4, 8] multiplied from the left by a 7-bit weight [6, 4] through a
    DequantizeLinear, per channel (axis 0) or per tensor."""
    rng = np.random.default_rng(0)
    q = rng.integers(-64, 65, size=(6, 4)).astype(np.int8)
    scale = (rng.uniform(0.01, 0.05, size=6) if per_channel else np.array(0.03)).astype(np.float32)
    zp = np.zeros(scale.shape, np.int8)
    h = onnx.helper
    nodes = [
        h.make_node("DequantizeLinear", ["w_q", "w_scale", "w_zp"], ["w"], name="dq_w", **({"axis": 0} if per_channel else {})),
        h.make_node("MatMul", ["w", "x"], ["y"], name="matmul"),
    ]
    graph = h.make_graph(
        nodes, "left",
        [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4, 8])],
        [h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 6, 8])],
        [onnx.numpy_helper.from_array(q, "w_q"), onnx.numpy_helper.from_array(scale, "w_scale"), onnx.numpy_helper.from_array(zp, "w_zp")],
    )
    onnx.save(h.make_model(graph, opset_imports=[h.make_opsetid("", 17)], ir_version=8), str(path))
    return q.astype(np.float32) * (scale.reshape(-1, 1) if per_channel else scale)


def test_per_channel_left_weights_are_requantised_per_tensor_and_refused_otherwise(bundle, tmp_path):
    """onnxruntime's Arm QLinearMatMul refuses a per-channel weight on the
    left input, so the export requantises it per tensor and check_qdq refuses
    a file that still has one."""
    for name in ("model.int8.onnx", "model.int8-conv.onnx"):
        check_qdq(bundle / name)
    path = tmp_path / "left.onnx"
    w = _left_weight_matmul(path, per_channel=True)
    with pytest.raises(ValueError, match="weight `w_q` is quantised per channel on a MatMul's left input"):
        check_qdq(path)
    per_tensor_left_weights(path)
    check_qdq(path)
    m = onnx.load(str(path))
    assert not m.graph.node[0].attribute and not next(i for i in m.graph.initializer if i.name == "w_scale").dims
    x = np.random.default_rng(1).standard_normal((1, 4, 8)).astype(np.float32)
    (y,) = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    step = float(np.abs(w).max()) / 64
    assert np.abs(y - w @ x).max() <= step / 2 * np.abs(x).sum(axis=1).max() + 1e-6


def test_int8_kernels_compute_the_qdq_graph(bundle):
    """onnxruntime's fused integer kernels (all optimisations) against the QDQ
    graph run as written (none): with 7-bit weights no CPU's kernel saturates."""
    import onnxruntime as ort

    x = np.load(bundle / "golden/input.npy")

    def logits(path, level):
        opts = ort.SessionOptions()
        opts.graph_optimization_level = level
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        return np.concatenate([sess.run(["logits"], {"video": x[i : i + 1]})[0] for i in range(len(x))])

    for name in ("model.int8.onnx", "model.int8-conv.onnx"):
        fused = logits(bundle / name, ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
        written = logits(bundle / name, ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
        spread = float(np.ptp(written))
        assert np.abs(fused - written).max() <= 0.05 * spread, name


def test_quantize_command_recalibrates_the_int8_files_only(bundle, sets, tmp_path, capsys):
    from art_export.cli import main

    out = tmp_path / "recalibrated"
    args = ["quantize", "--bundle", str(bundle), "--calib", str(sets["train2"]), "--out", str(out), "--calib-percentile", "100", "--quiet"]
    assert main(args) == 0
    assert set(json.loads(capsys.readouterr().out)) == {"calibration", "sizes"}
    before, after = verify_bundle(bundle), verify_bundle(out)
    changed = {f for f in before["sha256"] if before["sha256"][f] != after["sha256"][f]}
    assert {"model.int8.onnx", "model.int8-conv.onnx", "report.json"} <= changed
    assert not changed & {"model.fp32.onnx", "model.fp32-frames.onnx", "golden/input.npy", "golden/model.fp32.logits.npy"}
    assert after["provenance"]["commands"] == [*before["provenance"]["commands"], shlex.join(["art-export", *args])]
    report = json.loads((out / "report.json").read_text())
    assert report["calibration"]["set"] == str(sets["train2"]) and "test" not in report
    assert report["parity_fp32_max_abs_logits"] == json.loads((bundle / "report.json").read_text())["parity_fp32_max_abs_logits"]
    check_qdq(out / "model.int8.onnx")
    x = np.load(out / "golden/input.npy")
    for entry in after["golden"]["outputs"]:
        np.testing.assert_allclose(run_onnx(out / entry["model"], x)[0], np.load(out / entry["logits"]), atol=1e-5)

    assert main(args) == 1
    assert f"--out {out} exists" in capsys.readouterr().err


def test_quantize_command_in_place_refuses_a_set_of_other_labels_and_changes_nothing(bundle, sets, tmp_path, capsys):
    from art_export.cli import main
    from clipgen import write_clip_set

    other = write_clip_set(tmp_path / "other", clips_per_class=1, seed=5, classes=3)
    copy = tmp_path / "copy"
    shutil.copytree(bundle, copy)
    assert main(["quantize", "--bundle", str(copy), "--calib", str(other), "--quiet"]) == 1
    assert f"{other / 'labels.txt'}: labels differ from the bundle's" in capsys.readouterr().err
    assert verify_bundle(copy)["sha256"] == verify_bundle(bundle)["sha256"], "a refused set changes nothing"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy", "other"], "no work directory is left behind"

    assert main(["quantize", "--bundle", str(copy), "--calib", str(sets["calib"]), "--calib-percentile", "100", "--quiet"]) == 0
    after = verify_bundle(copy)
    assert after["sha256"]["model.int8.onnx"] != verify_bundle(bundle)["sha256"]["model.int8.onnx"]
    assert after["provenance"]["commands"][-1].startswith("art-export quantize --bundle")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy", "other"]


def test_int8_conv_quantises_only_convolutions(bundle):
    m = onnx.load(str(bundle / "model.int8-conv.onnx"))
    consumers = {}
    for n in m.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n.op_type)
    fed = {op for n in m.graph.node if n.op_type == "DequantizeLinear" for op in consumers.get(n.output[0], [])}
    assert "Conv" in fed
    assert not fed & {"MatMul", "Gemm", "Softmax"}, fed
    full = onnx.load(str(bundle / "model.int8.onnx"))
    consumers = {}
    for n in full.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n.op_type)
    fed_full = {op for n in full.graph.node if n.op_type == "DequantizeLinear" for op in consumers.get(n.output[0], [])}
    assert fed_full & {"MatMul", "Gemm"}


def test_bundle_manifest_schema_and_hashes(bundle, sets):
    m = verify_bundle(bundle)
    assert m["schema"] == 1 and m["model"]["tracklets"] == 2 and m["model"]["grid"] == [4, 4]
    assert m["model"]["labels"] == ClipSet.open(sets["train"]).labels
    assert m["model"]["background"] == "move 3"
    assert m["input"]["frames"] == 4 and m["input"]["window"] == 16
    assert m["text"]["bank_shape"] == [4, 384]
    assert [e["path"] for e in m["models"]] == ["model.fp32.onnx", "model.fp32-frames.onnx", "model.int8.onnx", "model.int8-conv.onnx"]
    assert [e["path"] for e in m["models"] if "tract" in e["backends"]] == ["model.fp32-frames.onnx", "model.int8-conv.onnx"]
    for f, digest in m["sha256"].items():
        assert sha256(bundle / f) == digest
    assert any(c.startswith("art-export train") for c in m["provenance"]["commands"])
    assert any(c.startswith("art-export onnx") for c in m["provenance"]["commands"])


def test_golden_data_reproduces(bundle):
    m = manifest(bundle)
    inp = m["input"]
    pre = Preprocess(inp["frames"], inp["resize_to"], inp["width"], inp["height"], tuple(inp["mean"]), tuple(inp["std"]))
    x = np.load(bundle / m["golden"]["input"])
    for k, clip in enumerate(m["golden"]["clips"]):
        frames = np.load(bundle / clip)
        assert frames.dtype == np.uint8 and frames.shape == (16, 120, 160, 3)
        np.testing.assert_array_equal(pre.clip_tensor(frames), x[k])
    for out in m["golden"]["outputs"]:
        logits, attn = run_onnx(bundle / out["model"], x)
        np.testing.assert_allclose(logits, np.load(bundle / out["logits"]), atol=1e-5)
        np.testing.assert_allclose(attn, np.load(bundle / out["region_attn"]), atol=1e-5)


def test_report_compares_fp32_and_int8(bundle):
    r = json.loads((bundle / "report.json").read_text())
    models = r["calibration"]["models"]
    assert set(models) == {"model.fp32.onnx", "model.fp32-frames.onnx", "model.int8.onnx", "model.int8-conv.onnx"}
    for acc in models.values():
        assert {"top1", "top5", "mean_class", "agreement_with_fp32"} <= set(acc)
    assert models["model.fp32.onnx"]["agreement_with_fp32"] == 100.0
    assert r["parity_fp32_max_abs_logits"] <= 1e-4
    assert "test" in r and r["sizes"]["model.int8.onnx"] < r["sizes"]["model.fp32.onnx"]
    # The test set's clips have boxes: every file reports where its tracklets look.
    for acc in r["test"]["models"].values():
        regions = acc["regions"]
        assert regions["frames"] == 12 * 4 and len(regions["region_hit"]) == 2
        assert all(0.0 <= v <= 1.0 for v in [*regions["region_hit"], regions["overlap"]])
        assert regions["best_region_hit"] == max(regions["region_hit"])
    assert "regions" not in models["model.fp32.onnx"]


def test_tampered_bundle_is_rejected(bundle, tmp_path):
    def tampered(name: str, edit) -> Path:
        copy = tmp_path / name
        shutil.copytree(bundle, copy)
        edit(copy)
        return copy

    def edit_manifest(old: str, new: str):
        def edit(copy: Path) -> None:
            (copy / "bundle.toml").write_text((copy / "bundle.toml").read_text().replace(old, new))

        return edit

    with pytest.raises(BundleError, match="report.json"):
        verify_bundle(tampered("report", lambda c: (c / "report.json").write_text("{}\n")))
    with pytest.raises(BundleError, match="unknown \\['extra'\\]"):
        verify_bundle(tampered("extra", edit_manifest("[provenance]", "[provenance]\nextra = 1")))
    with pytest.raises(BundleError, match="background 'move 9' is not one of the labels"):
        verify_bundle(tampered("background", edit_manifest('background = "move 3"', 'background = "move 9"')))


def test_cli_reports_bad_input(tmp_path, capsys):
    from art_export.cli import main

    assert main(["onnx", "--ckpt", str(tmp_path / "none.pt"), "--calib", str(tmp_path), "--out", str(tmp_path / "o")]) == 1
    assert "none.pt" in capsys.readouterr().err
    assert main(["onnx", "--ckpt", "x.pt", "--calib", str(tmp_path), "--out", str(tmp_path / "o"), "--calib-percentile", "0"]) == 1
    assert "--calib-percentile 0.0 must be in (0, 100]" in capsys.readouterr().err
    for n in ("0", "65"):
        assert main(["onnx", "--ckpt", "x.pt", "--calib", str(tmp_path), "--out", str(tmp_path / "o"), "--max-batch", n]) == 1
        assert f"--max-batch {n} must be in 1..=64" in capsys.readouterr().err


def test_percentile_calibration_narrows_activation_ranges(bundle, tmp_path):
    from art_export.onnx_export import quantize_int8

    x = np.load(bundle / "golden/input.npy").astype(np.float32)

    def activation_scales(percentile):
        out = tmp_path / f"p{percentile}.onnx"
        quantize_int8(bundle / "model.fp32.onnx", out, x, conv_only=True, percentile=percentile)
        m = onnx.load(str(out))
        inits = {i.name: onnx.numpy_helper.to_array(i) for i in m.graph.initializer}
        return {n.input[0]: float(inits[n.input[1]]) for n in m.graph.node if n.op_type == "QuantizeLinear" and inits[n.input[1]].ndim == 0}

    full, clipped = activation_scales(100), activation_scales(99.9)
    assert full and full.keys() == clipped.keys()
    assert all(clipped[k] <= full[k] * (1 + 1e-6) for k in full), "a percentile never widens a range"
    assert sum(clipped[k] < full[k] * 0.999 for k in full) >= len(full) // 2


def test_ablation_runs_every_setting_with_the_same_budget(sets, tmp_path):
    from art_export.cli import main

    from conftest import MODEL_ARGS

    # A test set whose set.toml says `artrt synth` made it.
    test_set = tmp_path / "test"
    shutil.copytree(sets["test"], test_set)
    meta = tomllib.loads((test_set / "set.toml").read_text())
    meta["provenance"] = {"generator": "artrt-synth", "seed": 13}
    (test_set / "set.toml").write_text(tomli_w.dumps(meta))
    out = tmp_path / "ablation.json"
    rc = main(
        ["ablate", "--set", str(sets["train"]), "--set", str(sets["train"]), "--val", str(test_set), "--epochs", "1", "--max-steps", "2", "--batch-size", "8", "--seeds", "3", "4", "--quiet", "--json", str(out), *MODEL_ARGS]
    )
    assert rc == 0
    table = json.loads(out.read_text())
    assert table["train_clips"] == 2 * len(ClipSet.open(sets["train"]).clips), "every --set is trained on"
    # The synth command of each set that has one, then the ablation's own.
    assert synth_command(ClipSet.open(sets["train"])) is None
    assert table["commands"][0] == synth_command(ClipSet.open(test_set))
    assert f"--out {test_set} " in table["commands"][0] and "--seed 13" in table["commands"][0]
    assert len(table["commands"]) == 2 and table["commands"][1].startswith("art-export ablate")
    rows = table["rows"]
    assert [(r["variant"], r["seed"]) for r in rows] == [(v, s) for s in (3, 4) for v in ("backbone", "rssa", "rssa_ta", "art")]
    for r in rows:
        assert 0.0 <= r["test_top1"] <= 100.0 and 0.0 <= r["test_mean_class"] <= 100.0
        assert r["steps"] == 2
        # The test set has boxes: every setting with tracklets reports where they look.
        assert ("test_region_hit" in r) == (r["variant"] != "backbone")


def test_eval_command_scores_every_model_file(bundle, sets, capsys):
    from art_export.cli import main

    assert main(["eval", "--bundle", str(bundle), "--set", str(sets["test"]), "--quiet"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["models"]) == {"model.fp32.onnx", "model.fp32-frames.onnx", "model.int8.onnx", "model.int8-conv.onnx"}
    report = json.loads((bundle / "report.json").read_text())["test"]["models"]
    for name, acc in result["models"].items():
        assert acc["clips"] == 12
        assert abs(acc["top1"] - report[name]["top1"]) < 1e-2
        assert acc["regions"] == report[name]["regions"]


def test_learning_rate_anneals_over_steps_or_time_whichever_ends_first():
    from art_export.train import lr_factor

    assert lr_factor(0, 10, 110, 0.0, None) == pytest.approx(0.1)
    assert lr_factor(10, 10, 110, 0.0, None) == pytest.approx(1.0)
    assert lr_factor(60, 10, 110, 0.0, None) == pytest.approx(0.5)
    assert lr_factor(110, 10, 110, 0.0, None) == pytest.approx(0.0)
    # Half the time budget spent after a tenth of the steps: half-way down the cosine.
    assert lr_factor(20, 10, 110, 30.0, 60.0) == pytest.approx(0.5)
    assert lr_factor(20, 10, 110, 90.0, 60.0) == pytest.approx(0.0)
    # Steps ahead of the clock: the steps decide.
    assert lr_factor(60, 10, 110, 1.0, 60.0) == pytest.approx(0.5)


def test_bf16_training_keeps_float32_weights(sets, tmp_path, monkeypatch):
    from art_export.cli import main
    from conftest import MODEL_ARGS

    # Emulated bfloat16 is slow, not wrong: two steps run on any CPU.
    monkeypatch.setattr("art_export.cli.check_bf16", lambda device: None)

    out = tmp_path / "bf16.pt"
    args = ["train", "--set", str(sets["train"]), "--out", str(out), "--epochs", "1", "--batch-size", "8", "--max-steps", "2", "--bf16", "--quiet", *MODEL_ARGS]
    assert main(args) == 0
    model, _, ckpt = load_checkpoint(out)
    assert all(p.dtype == torch.float32 for p in model.state_dict().values() if p.dtype.is_floating_point)
    assert "--bf16" in ckpt["provenance"]["command"]


def test_fine_tuning_starts_from_a_checkpoint_and_records_it(checkpoint, sets, tmp_path):
    from art_export.cli import _training_commands, main

    out = tmp_path / "tuned.pt"
    args = ["train", "--init", str(checkpoint), "--set", str(sets["train2"]), "--out", str(out), "--epochs", "1", "--batch-size", "8", "--max-steps", "1", "--quiet"]
    assert main(args) == 0
    base, _, base_ckpt = load_checkpoint(checkpoint)
    tuned, _, ckpt = load_checkpoint(out)
    assert tuned.config == base.config
    changed = [n for n, p in tuned.state_dict().items() if p.dtype.is_floating_point and not torch.equal(p, base.state_dict()[n])]
    assert changed, "one optimiser step changed no weight"
    assert ckpt["provenance"]["init"] == base_ckpt["provenance"]
    commands = _training_commands(ckpt["provenance"])
    assert commands == [base_ckpt["provenance"]["command"], ckpt["provenance"]["command"]]


def test_training_device_is_checked_before_any_work(tmp_path, capsys):
    from art_export.cli import main

    missing = str(tmp_path / "missing")
    assert main(["train", "--set", missing, "--out", str(tmp_path / "a.pt"), "--device", "tpu"]) == 1
    assert "--device 'tpu': expected cpu or cuda[:N]" in capsys.readouterr().err
    assert main(["train", "--set", missing, "--out", str(tmp_path / "a.pt"), "--device", "mps"]) == 1
    assert "--device 'mps': expected cpu or cuda[:N]" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert main(["train", "--set", missing, "--out", str(tmp_path / "a.pt"), "--device", "cuda"]) == 1
        assert "--device 'cuda': this PyTorch sees no CUDA GPU" in capsys.readouterr().err


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_training_on_cuda_writes_a_cpu_checkpoint(sets, tmp_path):
    from art_export.cli import main
    from conftest import MODEL_ARGS

    out = tmp_path / "cuda.pt"
    args = ["train", "--set", str(sets["train"]), "--val", str(sets["test"]), "--out", str(out), "--epochs", "1", "--batch-size", "8", "--max-steps", "2", "--device", "cuda", "--quiet", *MODEL_ARGS]
    assert main(args) == 0
    model, _, ckpt = load_checkpoint(out)
    assert all(p.device.type == "cpu" for p in model.state_dict().values())
    assert ckpt["history"][-1]["steps"] == 2


def test_compiled_training_repeats_itself_and_matches_eager_steps(sets, tmp_path, monkeypatch):
    import torch._inductor.config

    from art_export.cli import main
    from conftest import MODEL_ARGS

    def run(name, steps, *extra):
        out = tmp_path / f"{name}.pt"
        args = ["train", "--set", str(sets["train"]), "--out", str(out), "--epochs", "1", "--batch-size", "8", "--max-steps", str(steps), "--seed", "5", "--quiet", *MODEL_ARGS, *extra]
        assert main(args) == 0
        return load_checkpoint(out)

    first, second = run("compiled", 3, "--compile")[0].state_dict(), run("compiled-again", 3, "--compile")[0].state_dict()
    assert all(torch.equal(p, second[n]) for n, p in first.items()), "two compiled runs of one seed differ"

    # Compiled dropout draws its masks from its own generator; with eager's
    # generator both runs drop the same activations.
    monkeypatch.setattr(torch._inductor.config, "fallback_random", True)
    torch._dynamo.reset()
    eager, _, eager_ckpt = run("eager", 1)
    compiled, _, compiled_ckpt = run("compiled-fallback-random", 1, "--compile")
    losses = {k: v for k, v in eager_ckpt["history"][-1].items() if k.startswith("loss_")}
    assert losses and set(losses) == {k for k in compiled_ckpt["history"][-1] if k.startswith("loss_")}
    for k, v in losses.items():
        assert compiled_ckpt["history"][-1][k] == pytest.approx(v, abs=2e-3), k
    # One AdamW step moves each weight by about the learning rate; the compiled
    # kernels sum in another order, which can only flip the step of a weight
    # whose gradient is rounding noise.
    for n, p in eager.state_dict().items():
        if p.dtype.is_floating_point:
            assert torch.allclose(compiled.state_dict()[n], p, atol=2.5e-3), n


def test_bf16_without_native_support_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    from art_export.cli import main

    avx2 = {"architecture": "x86_64", "cpu_name": "AMD EPYC", "avx2": True, "amx_bf16": False, "avx512_bf16": False}
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: avx2)
    assert main(["train", "--set", str(tmp_path / "missing"), "--out", str(tmp_path / "a.pt"), "--bf16"]) == 1
    assert "--bf16: AMD EPYC has neither AMX nor AVX512-BF16" in capsys.readouterr().err
    for native in ({"amx_bf16": True}, {"avx512_bf16": True}):
        monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: {**avx2, **native})
        assert main(["train", "--set", str(tmp_path / "missing"), "--out", str(tmp_path / "a.pt"), "--bf16"]) == 1
        assert "missing" in capsys.readouterr().err, "refused for the set, not for --bf16"


def test_compile_without_a_cpp_compiler_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    from art_export.cli import main

    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert main(["train", "--set", str(tmp_path / "missing"), "--out", str(tmp_path / "a.pt"), "--compile"]) == 1
    assert "--compile: no C++ compiler" in capsys.readouterr().err


def test_boxes_in_the_training_set_draw_the_first_tracklet_onto_the_performer(sets, tmp_path, capsys):
    from art_export.cli import main
    from conftest import MODEL_ARGS

    def history(*extra):
        out = tmp_path / f"r{len(extra)}.pt"
        args = ["train", "--set", str(sets["train"]), "--out", str(out), "--epochs", "1", "--max-steps", "2", "--batch-size", "8", "--quiet", *MODEL_ARGS, *extra]
        assert main(args) == 0
        return torch.load(out, weights_only=False)["history"][0]

    assert "loss_region" in history("--no-augment")
    assert "loss_region" not in history("--no-augment", "--region-weight", "0")
    assert "loss_region" not in history()
    assert "augmentation moves the frames away from their boxes" in capsys.readouterr().out
    assert main(["train", "--set", str(tmp_path / "missing"), "--out", str(tmp_path / "x.pt"), "--region-weight", "-1"]) == 1
    assert "--region-weight -1.0 must be within 0..100" in capsys.readouterr().err


def test_ablation_starts_every_setting_from_the_given_backbone(sets, checkpoint, monkeypatch, capsys):
    import art_export.cli as cli

    from conftest import MODEL_ARGS

    source, _, _ = load_checkpoint(checkpoint)
    started = []

    def record(model, *args, **kwargs):
        started.append((model.config.use_rssa, {k: v.clone() for k, v in model.backbone.state_dict().items()}))
        return [{"steps": 0, "seconds": 0.0}]

    monkeypatch.setattr(cli, "train", record)
    base = ["ablate", "--set", str(sets["train"]), "--val", str(sets["test"]), "--variants", "backbone", "art", "--quiet"]
    assert cli.main([*base, "--backbone-from", str(checkpoint), *MODEL_ARGS]) == 0
    assert [rssa for rssa, _ in started] == [False, True]
    for _, weights in started:
        assert weights.keys() == source.backbone.state_dict().keys()
        for name, value in source.backbone.state_dict().items():
            torch.testing.assert_close(weights[name], value, msg=name)

    # Without the option each setting starts from its own initialisation.
    started.clear()
    assert cli.main([*base, *MODEL_ARGS]) == 0
    assert any(not torch.equal(started[1][1][k], v) for k, v in source.backbone.state_dict().items())

    # A backbone of another shape is refused by name before any training.
    started.clear()
    other = [*MODEL_ARGS]
    other[other.index("--dim") + 1] = "16"
    assert cli.main([*base, "--backbone-from", str(checkpoint), *other]) == 1
    assert started == [] and "dim 32 (asked for 16)" in capsys.readouterr().err
