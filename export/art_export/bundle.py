"""Writing (and re-reading for checks) the model bundle that `artrt` loads.

Layout and `bundle.toml` schema: the "Model bundle format" section of the
repository README.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import shlex
import shutil
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tomli_w
import torch

from . import onnx_export
from .clipset import ClipSet
from .data import ClipTensors
from .metrics import accuracy, agreement
from .model import Art
from .preprocess import Preprocess
from .regions import cell_coverage, region_report
from .text_bank import TextBank
from .train import CHECKPOINT_FILE

SCHEMA = 1
FP32 = "model.fp32.onnx"
FP32_FRAMES = "model.fp32-frames.onnx"
INT8 = "model.int8.onnx"
INT8_CONV = "model.int8-conv.onnx"
#: (file, precision, quantization, backends that run it)
MODEL_FILES = (
    (FP32, "fp32", "none", ["trt", "cuda", "ort-cpu"]),
    (FP32_FRAMES, "fp32", "none", ["tract"]),
    (INT8, "int8", "qdq-full", ["trt", "cuda", "ort-cpu"]),
    (INT8_CONV, "int8", "qdq-conv", ["tract"]),
)
#: The most clips a batched file may take at once (`--max-batch`).
MAX_BATCH = 64
ATOL_LOGITS = 1e-3
#: INT8 runtimes may round requantisation differently (other CPUs' kernels,
#: tract, TensorRT); a wrong kernel, or one that saturates, is off by more.
ATOL_LOGITS_INT8 = 1.0
#: Largest accepted PyTorch/onnxruntime difference on FP32 logits.
PARITY_TOLERANCE = 1e-4


class BundleError(ValueError):
    """A bundle failed a check; the message names the file and key."""


@dataclass
class ExportOptions:
    """What `write_bundle` needs besides the model."""

    name: str
    calib: Path
    test: Path | None = None
    golden_clips: int = 2
    commands: tuple[str, ...] = ()
    #: Label of the class that is no action (the runtime never reports it).
    background: str | None = None
    #: Percentile of activation magnitudes that sets the INT8 ranges (100: MinMax).
    calib_percentile: float = onnx_export.CALIB_PERCENTILE
    progress: bool = True
    #: The checkpoint exported, kept in the bundle so that fine-tuning can start from it.
    checkpoint: Path | None = None
    #: Clips the ONNX Runtime and TensorRT files take at once: 1 exports them
    #: with batch 1, more with a symbolic batch dimension of at most this size.
    max_batch: int = 1


@dataclass
class RequantizeOptions:
    """What `requantize_bundle` needs besides the bundle and calibration set."""

    command: str
    test: Path | None = None
    calib_percentile: float = onnx_export.CALIB_PERCENTILE
    progress: bool = True


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def synth_command(clip_set: ClipSet) -> str | None:
    """The `artrt synth` command that recreates a synthetic set, from its set.toml provenance."""
    prov = clip_set.provenance
    if prov.get("generator") != "artrt-synth" or "seed" not in prov:
        return None
    clips = prov.get("clips", len(clip_set.clips))
    framing = f" --framing {prov['framing']}" if prov.get("framing", "centred") != "centred" else ""
    twins = f" --twins {prov['twins']}" if "twins" in prov else ""
    view = f" --view {prov['view']}" if "view" in prov else ""
    boxes = " --boxes" if all(c.boxes_path.is_file() for c in clip_set.clips) else ""
    return f"artrt synth --out {shlex.quote(str(clip_set.root))} --clips {clips} --seed {prov['seed']}{framing}{twins}{view}{boxes}"


#: The files that take several clips where the bundle's do: those of ONNX
#: Runtime and TensorRT. tract's run one clip at a time.
BATCHED = (FP32, INT8)


def model_entries(max_batch: int) -> list[dict]:
    """The `[[models]]` entries: the `BATCHED` files say `max_batch` when
    they take several clips."""
    if not 1 <= max_batch <= MAX_BATCH:
        raise BundleError(f"max_batch {max_batch} must be in 1..={MAX_BATCH}")
    return [
        {"path": f, "precision": p, "quantization": q, "backends": b, **({"max_batch": max_batch} if max_batch > 1 and f in BATCHED else {})}
        for f, p, q, b in MODEL_FILES
    ]


def _model_stem(file: str) -> str:
    return file.removesuffix(".onnx")


def _pick_golden(labels: np.ndarray, count: int) -> list[int]:
    """Indices of the first clip of each of the first `count` distinct classes."""
    picked, seen = [], set()
    for i, y in enumerate(labels):
        if int(y) not in seen:
            picked.append(i)
            seen.add(int(y))
        if len(picked) == count:
            break
    return picked


def evaluate_files(out_dir: Path, inputs: np.ndarray, labels: np.ndarray, num_classes: int, coverage: np.ndarray | None = None) -> dict:
    """Accuracy of every model file on inputs, with top-1 agreement against FP32,
    and with `coverage` ([N, T, h*w], `regions.cell_coverage` of the performer's
    boxes) the region hit and overlap of the tracklets."""
    outputs = {f: onnx_export.run_onnx(out_dir / f, inputs) for f, *_ in MODEL_FILES}
    result = {}
    for f, *_ in MODEL_FILES:
        logits, attn = outputs[f]
        acc = accuracy(logits, labels, num_classes)
        acc["agreement_with_fp32"] = agreement(logits, outputs[FP32][0])
        result[f] = {k: round(v, 3) if isinstance(v, float) else v for k, v in acc.items()}
        if coverage is not None:
            result[f]["regions"] = region_report(attn, coverage)
    return result


def write_bundle(model: Art, bank: TextBank, out_dir: Path, options: ExportOptions, log=print) -> dict:
    """Exports both FP32 and both INT8 models, golden data, report and manifest to `out_dir`.

    Returns the report. Raises BundleError if PyTorch and onnxruntime disagree.
    """
    cfg, pre = model.config, model.config.preprocess
    entries = model_entries(options.max_batch)
    if options.background is not None and options.background not in cfg.labels:
        raise BundleError(f"background class {options.background!r} is not one of the model's labels")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "golden").mkdir(exist_ok=True)
    if options.checkpoint is not None:
        shutil.copyfile(options.checkpoint, out_dir / CHECKPOINT_FILE)

    batched = options.max_batch > 1
    log(f"export {FP32}" + (f" (up to {options.max_batch} clips at once)" if batched else ""))
    onnx_export.export_fp32(model, out_dir / FP32, batch=batched)
    with tempfile.TemporaryDirectory() as tmp:
        # The per-frame file splits each clip's frames, so it comes from a batch-1 graph.
        single = Path(tmp) / FP32 if batched else out_dir / FP32
        if batched:
            onnx_export.export_fp32(model, single)
        split = onnx_export.split_frame_convs(single, out_dir / FP32_FRAMES)
    log(f"{FP32_FRAMES}: {split} convolutions split per frame")

    calib_set = ClipSet.open(options.calib)
    if calib_set.labels != cfg.labels:
        raise BundleError(f"{calib_set.root / 'labels.txt'}: labels differ from the model's")
    calib = ClipTensors.load(calib_set, pre, options.progress)
    calib_inputs = pre.normalize(calib.frames)
    _quantize_files(out_dir, calib_inputs, options.calib_percentile, log)

    # Golden data: raw frames, the exact preprocessed inputs, every model's outputs.
    golden_idx = _pick_golden(calib.labels, options.golden_clips)
    golden_inputs, clip_files = [], []
    for k, i in enumerate(golden_idx):
        frames = calib_set.clips[i].load_frames()
        rel = f"golden/clip_{k}.frames.npy"
        np.save(out_dir / rel, frames)
        clip_files.append(rel)
        golden_inputs.append(pre.clip_tensor(frames))
    golden_inputs = np.stack(golden_inputs).astype(np.float32)
    np.save(out_dir / "golden/input.npy", golden_inputs)
    outputs = [
        {"model": file, "logits": f"golden/{_model_stem(file)}.logits.npy", "region_attn": f"golden/{_model_stem(file)}.region_attn.npy"}
        for file, *_ in MODEL_FILES
    ]
    _write_golden_outputs(out_dir, golden_inputs, outputs)

    with torch.no_grad():
        torch_logits = torch.cat([model(torch.from_numpy(golden_inputs[i : i + 1]))["logits"] for i in range(len(golden_inputs))]).numpy()
    parities = {}
    for file in (FP32, FP32_FRAMES):
        parities[file] = float(np.abs(torch_logits - np.load(out_dir / f"golden/{_model_stem(file)}.logits.npy")).max())
        log(f"PyTorch vs onnxruntime on {file}: max |logits diff| = {parities[file]:.2e}")
        if parities[file] > PARITY_TOLERANCE:
            raise BundleError(f"{out_dir / file}: onnxruntime differs from PyTorch by {parities[file]:.2e} > {PARITY_TOLERANCE}")
    parity = parities[FP32]

    report = _write_report(out_dir, parity, calib_set, calib_inputs, calib.labels, options.test, pre, model.grid, cfg.num_classes, options.progress, log)

    manifest = {
        "schema": SCHEMA,
        "model": {
            "name": options.name,
            "backbone": cfg.backbone,
            "tracklets": cfg.tracklets,
            "grid": list(model.grid),
            "labels": list(cfg.labels),
            **({"background": options.background} if options.background is not None else {}),
        },
        "input": {
            "frames": pre.frames,
            "window": int(calib_set.clips[golden_idx[0]].num_frames),
            "fps": calib_set.fps,
            "sampling": "segment-centre",
            "resize": "shorter-side-bilinear",
            "resize_to": pre.resize_to,
            "crop": "centre",
            "width": pre.width,
            "height": pre.height,
            "mean": list(pre.mean),
            "std": list(pre.std),
        },
        "text": {
            "encoder": bank.encoder,
            "package": bank.package,
            "templates": list(bank.templates),
            "bank_shape": [cfg.num_classes, int(bank.embeddings.shape[-1])],
        },
        "models": entries,
        "golden": {
            "clips": clip_files,
            "classes": [int(calib.labels[i]) for i in golden_idx],
            "input": "golden/input.npy",
            "atol_logits": ATOL_LOGITS,
            "atol_logits_int8": ATOL_LOGITS_INT8,
            "outputs": outputs,
        },
        "sha256": {},
        "provenance": {
            "commands": list(options.commands),
            "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        },
    }
    _write_manifest(out_dir, manifest)
    return report


def requantize_bundle(bundle: Path, calib: Path, options: RequantizeOptions, log=print) -> dict:
    """Quantises a bundle's INT8 files again from its FP32 file, calibrated on
    the clip set `calib` (a venue's own clips, say), and rewrites their golden
    outputs, `report.json`, the hashes and the provenance. The FP32 files,
    golden clips and inputs stay as they are. Returns the new report."""
    m = verify_bundle(bundle)
    files = [(e["path"], e["precision"], e["quantization"], e["backends"]) for e in m["models"]]
    if files != [(f, p, q, b) for f, p, q, b in MODEL_FILES]:
        raise BundleError(f"{bundle / 'bundle.toml'}: [[models]] are {[e['path'] for e in m['models']]}, this art-export quantises bundles of {[f for f, *_ in MODEL_FILES]}")
    pre = bundle_preprocess(m)
    labels = m["model"]["labels"]
    calib_set = ClipSet.open(calib)
    if calib_set.labels != labels:
        raise BundleError(f"{calib_set.root / 'labels.txt'}: labels differ from the bundle's")
    data = ClipTensors.load(calib_set, pre, options.progress)
    inputs = pre.normalize(data.frames)
    quantized = _quantize_files(bundle, inputs, options.calib_percentile, log)
    outputs = [o for o in m["golden"]["outputs"] if o["model"] in quantized]
    _write_golden_outputs(bundle, np.load(bundle / m["golden"]["input"]), outputs)
    try:
        parity = json.loads((bundle / "report.json").read_text())["parity_fp32_max_abs_logits"]
    except (OSError, ValueError, KeyError) as err:
        raise BundleError(f"{bundle / 'report.json'}: no FP32 parity to carry over ({err})") from err
    report = _write_report(bundle, parity, calib_set, inputs, data.labels, options.test, pre, tuple(m["model"]["grid"]), len(labels), options.progress, log)
    m["provenance"]["commands"].append(options.command)
    _write_manifest(bundle, m)
    return report


def bundle_preprocess(manifest: dict) -> Preprocess:
    """The preprocessing rule a bundle's manifest (`[input]`) states."""
    inp = manifest["input"]
    return Preprocess(frames=inp["frames"], resize_to=inp["resize_to"], width=inp["width"], height=inp["height"], mean=tuple(inp["mean"]), std=tuple(inp["std"]))


def _quantize_files(out_dir: Path, calib_inputs: np.ndarray, percentile: float, log) -> list[str]:
    """Writes every INT8 file of MODEL_FILES from the FP32 file (with batch 1
    for a file not in `BATCHED`); returns their names."""
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        single = Path(tmp) / FP32
        onnx_export.pin_batch(out_dir / FP32, single)
        for file, _, quant, _ in MODEL_FILES:
            if quant == "none":
                continue
            log(f"quantise {file} ({quant}, {len(calib_inputs)} calibration clips)")
            source = out_dir / FP32 if file in BATCHED else single
            onnx_export.quantize_int8(source, out_dir / file, calib_inputs, conv_only=quant == "qdq-conv", percentile=percentile, log=log)
            written.append(file)
    return written


def _write_golden_outputs(out_dir: Path, golden_inputs: np.ndarray, outputs: list[dict]) -> None:
    """Runs each `[[golden.outputs]]` entry's model on the golden inputs and saves what onnxruntime gives."""
    for out in outputs:
        logits, attn = onnx_export.run_onnx(out_dir / out["model"], golden_inputs)
        np.save(out_dir / out["logits"], logits.astype(np.float32))
        np.save(out_dir / out["region_attn"], attn.astype(np.float32))


def _write_report(out_dir, parity, calib_set, calib_inputs, calib_labels, test, pre, grid, num_classes, progress, log) -> dict:
    """Writes `report.json`: FP32/INT8 accuracy on the calibration set (and on
    `test`, with the region hit where its clips have boxes), file sizes."""
    log("accuracy on the calibration set")
    report = {
        "parity_fp32_max_abs_logits": parity,
        "calibration": {
            "set": str(calib_set.root),
            "provenance": calib_set.provenance,
            "models": evaluate_files(out_dir, calib_inputs, calib_labels, num_classes),
        },
        "sizes": {f: (out_dir / f).stat().st_size for f, *_ in MODEL_FILES},
    }
    report["sizes"]["int8_over_fp32"] = round(report["sizes"][INT8] / report["sizes"][FP32], 4)
    if test is not None:
        log("accuracy on the test set")
        test_set = ClipSet.open(test)
        data = ClipTensors.load(test_set, pre, progress)
        report["test"] = {
            "set": str(test_set.root),
            "provenance": test_set.provenance,
            "models": evaluate_files(out_dir, pre.normalize(data.frames), data.labels, num_classes, None if data.boxes is None else cell_coverage(data.boxes, grid, pre)),
        }
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def _write_manifest(out_dir: Path, manifest: dict) -> None:
    """Hashes every other file into `[sha256]`, writes `bundle.toml` and re-reads the bundle."""
    files = sorted(p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*") if p.is_file() and p.name != "bundle.toml")
    manifest["sha256"] = {f: sha256(out_dir / f) for f in files}
    (out_dir / "bundle.toml").write_text(tomli_w.dumps(manifest))
    verify_bundle(out_dir)


#: Keys a table may have besides the required ones.
OPTIONAL = {"model": {"background"}}

REQUIRED = {
    "": {"schema", "model", "input", "text", "models", "golden", "sha256", "provenance"},
    "model": {"name", "backbone", "tracklets", "grid", "labels"},
    "input": {"frames", "window", "fps", "sampling", "resize", "resize_to", "crop", "width", "height", "mean", "std"},
    "text": {"encoder", "package", "templates", "bank_shape"},
    "golden": {"clips", "classes", "input", "atol_logits", "atol_logits_int8", "outputs"},
    "provenance": {"commands", "created"},
}


def verify_bundle(bundle: Path) -> dict:
    """Re-reads a bundle: exact key sets, every file present with its SHA-256,
    golden array shapes consistent with the manifest. Returns the manifest."""
    path = bundle / "bundle.toml"
    try:
        m = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise BundleError(f"{path}: {err}") from err
    for table, keys in REQUIRED.items():
        got = set(m if not table else m.get(table, {}))
        got_required = got - OPTIONAL.get(table, set())
        if got_required != keys:
            where = f"[{table}]" if table else "top level"
            raise BundleError(f"{path}: {where} keys missing {sorted(keys - got)} unknown {sorted(got_required - keys)}")
    background = m["model"].get("background")
    if background is not None and background not in m["model"]["labels"]:
        raise BundleError(f"{path}: [model] background {background!r} is not one of the labels")
    if m["schema"] != SCHEMA:
        raise BundleError(f"{path}: schema {m['schema']} != {SCHEMA}")
    for entry in m["models"]:
        if set(entry) - {"max_batch"} != {"path", "precision", "quantization", "backends"}:
            raise BundleError(f"{path}: [[models]] entry {entry.get('path')} has keys {sorted(entry)}")
        batch = entry.get("max_batch", 1)
        if type(batch) is not int or not 1 <= batch <= MAX_BATCH:
            raise BundleError(f"{path}: [[models]] entry {entry['path']}: max_batch {batch!r} must be an integer in 1..={MAX_BATCH}")
    for out in m["golden"]["outputs"]:
        if set(out) != {"model", "logits", "region_attn"}:
            raise BundleError(f"{path}: [[golden.outputs]] entry {out.get('model')} has keys {sorted(out)}")
    on_disk = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file() and p.name != "bundle.toml"}
    if on_disk != set(m["sha256"]):
        raise BundleError(f"{path}: [sha256] lists {sorted(set(m['sha256']) ^ on_disk)} wrongly")
    for f, digest in m["sha256"].items():
        if sha256(bundle / f) != digest:
            raise BundleError(f"{path}: [sha256] \"{f}\" does not match the file")
    t, c = m["input"]["frames"], len(m["model"]["labels"])
    n = m["model"]["grid"][0] * m["model"]["grid"][1]
    x = np.load(bundle / m["golden"]["input"])
    k = len(m["golden"]["clips"])
    if x.shape != (k, t, 3, m["input"]["height"], m["input"]["width"]) or x.dtype != np.float32:
        raise BundleError(f"{bundle / m['golden']['input']}: shape {x.shape} {x.dtype} disagrees with the manifest")
    for out in m["golden"]["outputs"]:
        lo, ra = np.load(bundle / out["logits"]), np.load(bundle / out["region_attn"])
        if lo.shape != (k, c) or ra.shape != (k, t, m["model"]["tracklets"], n):
            raise BundleError(f"{bundle / out['logits']}: shapes {lo.shape} {ra.shape} disagree with the manifest")
    return m
