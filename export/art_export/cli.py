"""`art-export`: train ART, run the ablation, export a bundle, quantise it again, evaluate a bundle."""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from .bundle import (
    MAX_BATCH,
    BundleError,
    ExportOptions,
    RequantizeOptions,
    bundle_preprocess,
    evaluate_files,
    requantize_bundle,
    synth_command,
    verify_bundle,
    write_bundle,
)
from .clipset import ClipSet, ClipSetError
from .data import ClipTensors
from .losses import LossWeights
from .model import VARIANTS, ArtConfig
from .onnx_export import CALIB_PERCENTILE
from .preprocess import Preprocess
from .regions import cell_coverage
from .relabel import relabel
from .text_bank import DEFAULT_TEMPLATES, build_text_bank
from .train import (
    TrainOptions,
    build_model,
    check_bf16,
    check_compiler,
    evaluate,
    load_checkpoint,
    load_set,
    load_sets,
    resolve_device,
    save_checkpoint,
    train,
)


def _model_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--backbone", choices=["tiny", "resnet50-tsm"], default="tiny")
    g.add_argument("--dim", type=int, default=96, help="token width D")
    g.add_argument("--channels", type=int, default=32, help="base width of the tiny backbone")
    g.add_argument("--stem", type=int, choices=[4, 8], default=4, help="stem stride of the tiny backbone (8: faster, less accurate)")
    g.add_argument(
        "--stem-kind",
        choices=["patch", "conv"],
        default="patch",
        help="tiny backbone stem: one stride x stride patch convolution, or overlapping 3x3 stride-2 convolutions",
    )
    g.add_argument(
        "--token-stride",
        type=int,
        choices=[16, 8],
        default=16,
        help="stride of the tiny backbone's token grid that the region queries attend over (8: 4x the tokens, finer regions; needs --stem 4)",
    )
    g.add_argument("--heads", type=int, default=4)
    g.add_argument("--top-k", type=int, default=4, help="text semantics chosen per video (eq. 1)")
    g.add_argument("--se-layers", type=int, default=1, help="spatial enhancement layers")
    g.add_argument("--rssa-layers", type=int, default=1, help="region cross-attention layers")
    g.add_argument("--frames", type=int, default=8, help="T, frames sampled per clip")
    g.add_argument("--resize-to", type=int, default=112, help="shorter side after resizing")
    g.add_argument("--width", type=int, default=112, help="crop width")
    g.add_argument("--height", type=int, default=112, help="crop height")
    g.add_argument("--template", action="append", dest="templates", help="prompt template with {label} (repeatable)")
    g.add_argument("--open-clip-weights", type=Path, help="local open_clip checkpoint for the text tower")
    g.add_argument("--open-clip-arch", default="ViT-B-16")


def _train_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=int, default=10)
    g.add_argument("--batch-size", type=int, default=16)
    g.add_argument("--lr", type=float, default=1e-3)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--max-steps", type=int, help="stop after this many optimiser steps")
    g.add_argument("--max-minutes", type=float, help="stop training after this many minutes (the best epoch so far is kept); the learning rate anneals over whichever of steps and minutes runs out first")
    g.add_argument("--no-augment", action="store_true")
    g.add_argument(
        "--region-weight",
        type=float,
        default=0.5,
        help="weight of the loss that draws the first tracklet's attention onto the performer, where every training clip has boxes.json (artrt synth --boxes); 0 turns it off",
    )
    g.add_argument(
        "--bf16",
        action="store_true",
        help="bfloat16 autocast in training (weights stay float32): faster on CPUs with AMX or AVX512-BF16, refused on other x86 CPUs",
    )
    g.add_argument(
        "--compile",
        action="store_true",
        help="run training steps through torch.compile (a minute or two of compilation at the first step, then faster steps)",
    )
    g.add_argument(
        "--threads",
        type=int,
        default=1,
        help="PyTorch CPU threads (1 is fastest on a busy machine: with 2, each step waits for the slower thread)",
    )
    g.add_argument(
        "--device",
        default="cpu",
        help="where to train: cpu, or cuda[:N] with a CUDA build of PyTorch (the checkpoint is the same either way)",
    )
    g.add_argument("--quiet", action="store_true", help="no progress bars")


def _percentile_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--calib-percentile",
        type=float,
        default=CALIB_PERCENTILE,
        metavar="P",
        help=f"INT8 activation ranges from the P-th percentile of their magnitudes on the calibration set; 100 takes the full range (MinMax) (default {CALIB_PERCENTILE})",
    )


def _check_percentile(args: argparse.Namespace) -> None:
    if not 0 < args.calib_percentile <= 100:
        raise ValueError(f"--calib-percentile {args.calib_percentile} must be in (0, 100]")


def _config(args: argparse.Namespace, labels: list[str], variant: str) -> ArtConfig:
    pre = Preprocess(frames=args.frames, resize_to=args.resize_to, width=args.width, height=args.height)
    return ArtConfig(
        labels=labels,
        preprocess=pre,
        backbone=args.backbone,
        dim=args.dim,
        channels=args.channels,
        stem=args.stem,
        stem_kind=args.stem_kind,
        token_stride=args.token_stride,
        heads=args.heads,
        top_k=min(args.top_k, len(labels)),
        se_layers=args.se_layers,
        rssa_layers=args.rssa_layers,
        templates=list(args.templates or DEFAULT_TEMPLATES),
        **VARIANTS[variant],
    )


def _options(args: argparse.Namespace) -> TrainOptions:
    if not 0.0 <= args.region_weight <= 100.0:
        raise ValueError(f"--region-weight {args.region_weight} must be within 0..100")
    return TrainOptions(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        max_steps=args.max_steps,
        max_minutes=args.max_minutes,
        augment=not args.no_augment,
        bf16=args.bf16,
        compile=args.compile,
        device=args.device,
        progress=not args.quiet,
        loss_weights=LossWeights(region=args.region_weight),
    )


def _set_provenance(path: Path) -> dict:
    s = ClipSet.open(path)
    return {"path": str(path), "set": s.provenance, "command": synth_command(s)}


def _training_commands(prov: dict) -> list[str]:
    """The commands that made a checkpoint: those of the checkpoint it started
    from, then its sets' `artrt synth` commands, then its training command."""
    commands = _training_commands(prov["init"]) if prov.get("init") else []
    for s in (*prov.get("train_sets", [prov.get("train_set")]), prov.get("val_set")):
        if s and s.get("command") and s["command"] not in commands:
            commands.append(s["command"])
    if prov.get("command"):
        commands.append(prov["command"])
    return commands


def cmd_train(args: argparse.Namespace) -> int:
    labels = ClipSet.open(args.set[0]).labels
    torch.manual_seed(args.seed)
    init_provenance = None
    relabelled = None
    if args.init:
        model, bank, init = load_checkpoint(args.init)
        init_provenance = init.get("provenance")
        if labels != model.config.labels:
            model, bank, relabelled = relabel(model, bank, labels, args.open_clip_weights, args.open_clip_arch)
            print(f"classes added: {relabelled['added'] or 'none'}; left out: {relabelled['dropped'] or 'none'}")
        config = model.config
    else:
        config = _config(args, labels, args.variant)
        bank = build_text_bank(labels, config.templates, args.open_clip_weights, args.open_clip_arch)
        model = build_model(config, bank)
    train_data = load_sets(args.set, config, not args.quiet)
    val_data = load_set(args.val, config, not args.quiet) if args.val else None
    history = train(model, train_data, val_data, _options(args))
    provenance = {
        "command": args.command_line,
        "seed": args.seed,
        "train_sets": [_set_provenance(s) for s in args.set],
        "val_set": _set_provenance(args.val) if args.val else None,
        "init": init_provenance,
        "relabelled": relabelled,
    }
    save_checkpoint(args.out, model, bank, history, provenance)
    print(f"saved {args.out}")
    return 0


def _pretrained_backbone(path: Path, config: ArtConfig) -> dict[str, torch.Tensor]:
    """The backbone weights of the checkpoint at `path`, refused unless its
    backbone has the settings `config` asks for."""
    source, _, _ = load_checkpoint(path)

    def shape(c: ArtConfig) -> dict:
        return {k: getattr(c, k) for k in ("backbone", "dim", "channels", "stem", "stem_kind", "token_stride", "preprocess")}

    theirs, ours = shape(source.config), shape(config)
    wrong = [f"{k} {theirs[k]} (asked for {ours[k]})" for k in theirs if theirs[k] != ours[k]]
    if wrong:
        raise ValueError(f"--backbone-from {path}: its backbone differs: " + ", ".join(wrong))
    return source.backbone.state_dict()


def cmd_ablate(args: argparse.Namespace) -> int:
    labels = ClipSet.open(args.set[0]).labels
    bank = build_text_bank(labels, list(args.templates or DEFAULT_TEMPLATES), args.open_clip_weights, args.open_clip_arch)
    base = _config(args, labels, "art")
    train_data = load_sets(args.set, base, not args.quiet)
    val_data = load_set(args.val, base, not args.quiet)
    test_data = load_set(args.test, base, not args.quiet) if args.test else val_data
    rows = []
    names = {
        "backbone": "(1) Baseline (backbone only)",
        "rssa": "(2) Baseline + RSSA",
        "rssa-ta": "(3) Baseline + RSSA + TA",
        "art": "(4) Baseline + RSSA + TA + MTC loss (ART)",
    }
    backbone = _pretrained_backbone(args.backbone_from, base) if args.backbone_from else None
    seeds = args.seeds or [args.seed]
    for seed in seeds:
        for variant in args.variants:
            config = _config(args, labels, variant)
            torch.manual_seed(seed)
            model = build_model(config, bank)
            if backbone is not None:
                # A backbone-only model has no token projection for the queries.
                model.backbone.load_state_dict({k: backbone[k] for k in model.backbone.state_dict()})
            print(f"== {names[variant]}, seed {seed}")
            options = _options(args)
            options.seed = seed
            history = train(model, train_data, val_data, options)
            acc = evaluate(model, test_data)
            row = {
                "variant": variant.replace("-", "_"),
                "setting": names[variant],
                "seed": seed,
                "test_top1": round(acc["top1"], 2),
                "test_mean_class": round(acc["mean_class"], 2),
                "epochs": len(history),
                "steps": history[-1]["steps"],
                "minutes": round(sum(h["seconds"] for h in history) / 60, 1),
            }
            if "regions" in acc:
                row["test_region_hit"] = acc["regions"]["region_hit"]
                row["test_overlap"] = acc["regions"]["overlap"]
            rows.append(row)
    print()
    print("| setting | test top-1 % (mean ± sd over seeds) | seeds |")
    print("| --- | --- | --- |")
    for variant in args.variants:
        v = np.array([r["test_top1"] for r in rows if r["variant"] == variant.replace("-", "_")])
        sd = float(v.std(ddof=1)) if len(v) > 1 else 0.0
        print(f"| {names[variant]} | {v.mean():.1f} ± {sd:.1f} | {len(v)} |")
    if args.json:
        # The sets' `artrt synth` commands, then this one: what remakes the table.
        sets = [*args.set, args.val, *([args.test] if args.test else [])]
        synths = [c for c in dict.fromkeys(synth_command(ClipSet.open(s)) for s in sets) if c]
        table = {"commands": [*synths, args.command_line], "train_clips": len(train_data), "test_clips": len(test_data), "rows": rows}
        args.json.write_text(json.dumps(table, indent=2) + "\n")
    return 0


def cmd_onnx(args: argparse.Namespace) -> int:
    _check_percentile(args)
    if not 1 <= args.max_batch <= MAX_BATCH:
        raise ValueError(f"--max-batch {args.max_batch} must be in 1..={MAX_BATCH}")
    torch.manual_seed(0)
    model, bank, ckpt = load_checkpoint(args.ckpt)
    commands = _training_commands(ckpt.get("provenance", {}))
    for s in (_set_provenance(args.calib), _set_provenance(args.test) if args.test else None):
        if s and s.get("command") and s["command"] not in commands:
            commands.append(s["command"])
    commands.append(args.command_line)
    options = ExportOptions(
        name=args.name,
        calib=args.calib,
        test=args.test,
        golden_clips=args.golden_clips,
        commands=tuple(commands),
        progress=not args.quiet,
        background=args.background,
        calib_percentile=args.calib_percentile,
        checkpoint=args.ckpt,
        max_batch=args.max_batch,
    )
    report = write_bundle(model, bank, args.out, options)
    print(json.dumps({k: report[k] for k in report if k in ("calibration", "test", "sizes", "parity_fp32_max_abs_logits")}, indent=2))
    return 0


def cmd_quantize(args: argparse.Namespace) -> int:
    _check_percentile(args)
    verify_bundle(args.bundle)
    target = args.out or args.bundle
    if args.out is not None and args.out.exists():
        raise FileExistsError(f"--out {args.out} exists; give a new directory, or leave --out out to quantise {args.bundle} in place")
    options = RequantizeOptions(command=args.command_line, test=args.test, calib_percentile=args.calib_percentile, progress=not args.quiet)
    target.parent.mkdir(parents=True, exist_ok=True)
    # The work happens on a copy beside the target, which takes its place only
    # once it is complete: a failure leaves the bundle as it was.
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.") as tmp:
        work = Path(tmp) / "bundle"
        shutil.copytree(args.bundle, work)
        report = requantize_bundle(work, args.calib, options, log=lambda line: print(line, file=sys.stderr))
        if args.out is None:
            args.bundle.rename(Path(tmp) / "previous")
        work.rename(target)
    print(json.dumps({k: report[k] for k in report if k in ("calibration", "test", "sizes")}, indent=2))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    manifest = verify_bundle(args.bundle)
    pre = bundle_preprocess(manifest)
    clip_set = ClipSet.open(args.set)
    if clip_set.labels != manifest["model"]["labels"]:
        raise ClipSetError(f"{clip_set.root / 'labels.txt'}: labels differ from the bundle's")
    data = ClipTensors.load(clip_set, pre, not args.quiet)
    coverage = None if data.boxes is None else cell_coverage(data.boxes, tuple(manifest["model"]["grid"]), pre)
    models = evaluate_files(args.bundle, pre.normalize(data.frames), data.labels, len(manifest["model"]["labels"]), coverage)
    result = {"set": str(args.set), "provenance": clip_set.provenance, "models": models}
    print(json.dumps(result, indent=2))
    return 0


def parser() -> argparse.ArgumentParser:
    """The `art-export` argument parser."""
    p = argparse.ArgumentParser(prog="art-export", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train ART on a clip set")
    t.add_argument("--set", type=Path, required=True, action="append", help="training clip set (repeat to train on several)")
    t.add_argument("--val", type=Path, help="validation clip set (best epoch kept)")
    t.add_argument("--out", type=Path, required=True, help="checkpoint to write")
    t.add_argument("--variant", choices=list(VARIANTS), default="art", help="Table IV setting")
    t.add_argument("--init", type=Path, help="start from this checkpoint (or the one in this bundle directory): its weights, text bank and model settings (fine-tuning); when --set has other labels, known classes keep their weights and new ones are embedded by the bank's text encoder")
    _model_args(t)
    _train_args(t)
    t.set_defaults(run=cmd_train)

    a = sub.add_parser("ablate", help="Table IV on a clip set: each setting trained with the same budget")
    a.add_argument("--set", type=Path, required=True, action="append", help="training clip set (repeat to train on several)")
    a.add_argument("--val", type=Path, required=True)
    a.add_argument("--test", type=Path, help="set the table is measured on (default: --val)")
    a.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    a.add_argument("--seeds", type=int, nargs="+", help="train every setting once per seed (default: --seed); the table gives mean and standard deviation")
    a.add_argument("--json", type=Path, help="also write the table as JSON: `rows` (variant, seed, test_top1, ...) and `commands`")
    a.add_argument("--backbone-from", type=Path, help="start every setting's backbone from this checkpoint's (or bundle directory's) backbone, as the paper's settings share a pretrained one; the rest of each model starts fresh")
    _model_args(a)
    _train_args(a)
    a.set_defaults(run=cmd_ablate)

    o = sub.add_parser("onnx", help="export a checkpoint to a model bundle")
    o.add_argument("--ckpt", type=Path, required=True)
    o.add_argument("--calib", type=Path, required=True, help="calibration clip set")
    o.add_argument("--test", type=Path, help="held-out clip set also reported")
    o.add_argument("--out", type=Path, required=True, help="bundle directory")
    o.add_argument("--name", default="art-tiny-gym")
    _percentile_arg(o)
    o.add_argument("--golden-clips", type=int, default=2)
    o.add_argument(
        "--max-batch",
        type=int,
        default=1,
        metavar="N",
        help=f"the ONNX Runtime and TensorRT files take up to N clips at once (a symbolic batch dimension), so that several cameras run in one call; 1 to {MAX_BATCH} (default 1: batch 1)",
    )
    o.add_argument("--background", metavar="LABEL", help="class that is no action: the runtime never reports it as an event")
    o.add_argument("--quiet", action="store_true")
    o.set_defaults(run=cmd_onnx)

    q = sub.add_parser("quantize", help="quantise a bundle's INT8 files again on another calibration set")
    q.add_argument("--bundle", type=Path, required=True)
    q.add_argument("--calib", type=Path, required=True, help="calibration clip set (the bundle's labels)")
    q.add_argument("--test", type=Path, help="held-out clip set also reported")
    q.add_argument("--out", type=Path, help="write a quantised copy here instead of changing --bundle")
    _percentile_arg(q)
    q.add_argument("--quiet", action="store_true")
    q.set_defaults(run=cmd_quantize)

    e = sub.add_parser("eval", help="accuracy of every model file of a bundle on a clip set (onnxruntime), and the region hit where its clips have boxes")
    e.add_argument("--bundle", type=Path, required=True)
    e.add_argument("--set", type=Path, required=True)
    e.add_argument("--quiet", action="store_true")
    e.set_defaults(run=cmd_eval)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `art-export` console script."""
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    args.command_line = shlex.join(["art-export", *argv])
    torch.set_num_threads(getattr(args, "threads", 1))
    try:
        if hasattr(args, "device"):
            device = resolve_device(args.device)
            if getattr(args, "compile", False):
                check_compiler(device)
            if getattr(args, "bf16", False):
                check_bf16(device)
            _options(args)
        return args.run(args)
    except (ClipSetError, BundleError, ValueError, FileNotFoundError, FileExistsError, RuntimeError) as err:
        print(f"art-export {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
