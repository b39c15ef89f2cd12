"""Training and evaluation of ART on clip sets (seeded, reproducible on CPU)."""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .clipset import ClipSet
from .data import ClipTensors, augment
from .losses import LossWeights, total_loss
from .metrics import accuracy
from .model import Art, ArtConfig
from .regions import cell_coverage, region_report
from .text_bank import TextBank


@dataclass
class TrainOptions:
    """Optimisation settings."""

    epochs: int = 10
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_steps: int = 100
    seed: int = 0
    max_steps: int | None = None
    max_minutes: float | None = None
    augment: bool = True
    bf16: bool = False
    compile: bool = False
    device: str = "cpu"
    progress: bool = True
    loss_weights: LossWeights = field(default_factory=LossWeights)


def seed_everything(seed: int) -> None:
    """Seeds PyTorch and NumPy and asks PyTorch for deterministic kernels."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def lr_factor(step: int, warmup: int, total_steps: int, elapsed_s: float, budget_s: float | None) -> float:
    """Learning-rate multiplier: linear warm-up, then a cosine to 0 over whichever
    runs out first, the steps or the time budget."""
    if step < warmup:
        return (step + 1) / warmup
    done = (step - warmup) / max(1, total_steps - warmup)
    if budget_s is not None:
        done = max(done, elapsed_s / budget_s)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, done)))


@torch.no_grad()
def predict_outputs(model: Art, data: ClipTensors, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray | None]:
    """Final-prediction logits [N, C] of `model` on every clip of `data`, and
    its region attention [N, T, 2, h*w] (None for a model without tracklets)."""
    model.eval()
    pre = model.config.preprocess
    device = next(model.parameters()).device
    logits, attn = [], []
    for start in range(0, len(data), batch_size):
        idx = np.arange(start, min(start + batch_size, len(data)))
        x, _ = data.batch(idx, pre)
        out = model(x.to(device))
        logits.append(out["logits"].float().cpu().numpy())
        if "region_attn" in out:
            attn.append(out["region_attn"].float().cpu().numpy())
    return np.concatenate(logits), (np.concatenate(attn) if attn else None)


def predict(model: Art, data: ClipTensors, batch_size: int = 32) -> np.ndarray:
    """Final-prediction logits [N, C] of `model` on every clip of `data`."""
    return predict_outputs(model, data, batch_size)[0]


def evaluate(model: Art, data: ClipTensors) -> dict:
    """Accuracy of `model` on `data` (top-1, top-5, mean class, in percent),
    with the region hit and overlap of its tracklets where `data` has boxes."""
    logits, attn = predict_outputs(model, data)
    result = accuracy(logits, data.labels, model.config.num_classes)
    if attn is not None and data.boxes is not None:
        result["regions"] = region_report(attn, cell_coverage(data.boxes, model.grid, model.config.preprocess))
    return result


def build_model(config: ArtConfig, bank: TextBank) -> Art:
    """A freshly initialised ART for `config`, with the bank's embeddings."""
    return Art(config, torch.from_numpy(bank.embeddings))


def train(
    model: Art,
    train_data: ClipTensors,
    val_data: ClipTensors | None,
    options: TrainOptions,
    log=print,
) -> list[dict]:
    """Trains `model` in place on `options.device`; keeps the weights of the best
    validation epoch and returns the model to the CPU.

    Returns the per-epoch history (losses, validation accuracy, seconds).
    """
    device = resolve_device(options.device)
    if options.compile:
        check_compiler(device)
    model.to(device)
    # The compiled module shares the model's parameters; only training steps
    # run through it, so evaluation (another mode) causes no recompilation.
    step_model = torch.compile(model) if options.compile else model
    seed_everything(options.seed)
    gen = torch.Generator().manual_seed(options.seed)
    rng = np.random.default_rng(options.seed)
    pre = model.config.preprocess
    params_decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "agent_bank" not in n]
    params_other = [p for n, p in model.named_parameters() if p.ndim < 2 or "agent_bank" in n]
    opt = torch.optim.AdamW(
        [{"params": params_decay, "weight_decay": options.weight_decay}, {"params": params_other, "weight_decay": 0.0}],
        lr=options.lr,
    )
    steps_per_epoch = math.ceil(len(train_data) / options.batch_size)
    total_steps = steps_per_epoch * options.epochs
    if options.max_steps is not None:
        total_steps = min(total_steps, options.max_steps)
    warmup = min(options.warmup_steps, max(1, total_steps // 10))

    budget = None if options.max_minutes is None else 60 * options.max_minutes
    start = time.monotonic()
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: lr_factor(step, warmup, total_steps, time.monotonic() - start, budget)
    )
    history: list[dict] = []
    best = (-1.0, None)
    step = 0
    # The performer's boxes, where the training clips have them, draw the
    # first tracklet's attention onto the performer; augmentation moves the
    # frames away from their boxes, so it turns this off.
    supervise = train_data.boxes is not None and model.config.use_rssa and options.loss_weights.region > 0
    if supervise and options.augment:
        log("region loss off: augmentation moves the frames away from their boxes (--no-augment keeps it)")
        supervise = False

    def out_of_time() -> bool:
        return budget is not None and time.monotonic() - start > budget

    for epoch in range(options.epochs):
        if step >= total_steps or out_of_time():
            break
        model.train()
        t0 = time.monotonic()
        order = train_data.shuffled(rng)
        wrong = seen = 0
        sums: dict[str, float] = {}
        batches = 0
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{options.epochs}", disable=not options.progress)
        for b in bar:
            if step >= total_steps:
                break
            if out_of_time():
                break
            idx = order[b * options.batch_size : (b + 1) * options.batch_size]
            x, y = train_data.batch(idx, pre)
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            if options.augment:
                x = augment(x, gen)
            cells = None
            if supervise:
                cells = torch.from_numpy(cell_coverage(train_data.boxes[idx], model.grid, pre)).to(device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=options.bf16):
                out = step_model(x)
                loss, parts = total_loss(model, out, y, options.loss_weights, cells)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            sched.step()
            step += 1
            if model.config.use_rssa:
                model.update_bank()
                model.update_prototypes(out["video_embedding"].detach().float(), y)
            batches += 1
            seen += len(y)
            wrong += int((out["logits"].detach().argmax(dim=1) != y).sum())
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + v
            bar.set_postfix(loss=f"{loss.item():.3f}")
        record = {"epoch": epoch + 1, "steps": step, "seconds": round(time.monotonic() - t0, 1)}
        record.update({f"loss_{k}": round(v / max(1, batches), 4) for k, v in sums.items()})
        record["train_top1"] = round(100.0 * (1 - wrong / max(1, seen)), 2)
        if val_data is not None:
            acc = evaluate(model, val_data)
            record.update(val_top1=round(acc["top1"], 2), val_mean_class=round(acc["mean_class"], 2))
            if "regions" in acc:
                record.update(val_region_hit=acc["regions"]["region_hit"], val_overlap=acc["regions"]["overlap"])
            if acc["top1"] >= best[0]:
                best = (acc["top1"], {k: v.clone() for k, v in model.state_dict().items()})
        history.append(record)
        log(" ".join(f"{k}={v}" for k, v in record.items()))
    if best[1] is not None:
        model.load_state_dict(best[1])
    model.to("cpu")
    model.eval()
    return history


def resolve_device(name: str) -> torch.device:
    """The torch device called `name` (`cpu`, `cuda`, `cuda:N`), refused with the
    reason when this machine does not have it."""
    expected = f"--device {name!r}: expected cpu or cuda[:N]"
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(expected) from err
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {name!r}: this PyTorch sees no CUDA GPU (torch {torch.__version__})")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"--device {name!r}: only {torch.cuda.device_count()} CUDA GPU(s) here")
    elif device.type != "cpu":
        raise ValueError(expected)
    return device


def check_compiler(device: torch.device) -> None:
    """`--compile` on the CPU builds C++ kernels at the first step: refuses it
    up front, with the reason, when no C++ compiler is on the PATH."""
    if device.type == "cpu" and not any(shutil.which(c) for c in ("g++", "c++", "clang++")):
        raise ValueError("--compile: no C++ compiler (g++, c++ or clang++) on the PATH to build the CPU kernels")


def check_bf16(device: torch.device) -> None:
    """`--bf16` pays only where the CPU computes bfloat16 natively (AMX or
    AVX512-BF16 on x86): elsewhere autocast emulates it and a training step
    of the default bundle's model took about 6 s instead of 0.9 s in float32
    (2-core AVX2 machine), which a `--max-minutes` budget would turn into a
    far weaker model. Refuses it up front on such an x86 CPU."""
    if device.type != "cpu":
        return
    caps = torch.cpu.get_capabilities()
    if caps.get("architecture") == "x86_64" and not (caps.get("amx_bf16") or caps.get("avx512_bf16")):
        cpu = caps.get("cpu_name") or "this CPU"
        raise ValueError(f"--bf16: {cpu} has neither AMX nor AVX512-BF16, so bfloat16 is emulated and training runs several times slower than float32; leave --bf16 out")


#: Checkpoint format. 3: the top-K semantics come from the global head and the
#: bank is anchored to the encoder's embedding (`Art`); format 2 had a separate
#: top-K query and an unanchored bank, format 1 a prediction from the fused head alone.
CHECKPOINT_FORMAT = 3


def save_checkpoint(path: Path, model: Art, bank: TextBank, history: list[dict], provenance: dict) -> None:
    """Writes config, weights, text bank, training history and provenance."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "format": CHECKPOINT_FORMAT,
            "config": model.config.to_dict(),
            "state_dict": model.state_dict(),
            "text_bank": bank.to_dict(),
            "history": history,
            "provenance": provenance,
        },
        path,
    )


#: The checkpoint a bundle was exported from, inside the bundle.
CHECKPOINT_FILE = "checkpoint.pt"


def load_checkpoint(path: Path) -> tuple[Art, TextBank, dict]:
    """Rebuilds the model saved by `save_checkpoint` (or the one a bundle
    directory was exported from); returns (model, bank, checkpoint dict)."""
    path = Path(path)
    if path.is_dir():
        if not (path / CHECKPOINT_FILE).is_file():
            raise ValueError(
                f"{path}: a directory without {CHECKPOINT_FILE}: give a checkpoint, "
                f"or a bundle exported with its checkpoint (art-export onnx keeps it as {CHECKPOINT_FILE})"
            )
        path = path / CHECKPOINT_FILE
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except (OSError, RuntimeError) as err:
        raise ValueError(f"{path}: cannot read checkpoint: {err}") from err
    for key in ("config", "state_dict", "text_bank"):
        if key not in ckpt:
            raise ValueError(f"{path}: not an art-export checkpoint (missing `{key}`)")
    found = ckpt.get("format", 1)
    if found != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{path}: checkpoint format {found}, this art-export reads format {CHECKPOINT_FORMAT} "
            "(top-K semantics from the global head, an anchored text bank); retrain the model"
        )
    config = ArtConfig.from_dict(ckpt["config"])
    bank = TextBank.from_dict(ckpt["text_bank"])
    model = build_model(config, bank)
    model.load_state_dict(ckpt["state_dict"])
    model.eval()
    return model, bank, ckpt


def load_sets(paths: list[str | Path], config: ArtConfig, progress: bool = True) -> ClipTensors:
    """Opens clip sets, checks their labels against the model's, and preprocesses
    them into one set, in order."""
    sets = [ClipSet.open(p) for p in paths]
    for clip_set in sets:
        if clip_set.labels != config.labels:
            raise ValueError(
                f"{clip_set.root / 'labels.txt'}: labels differ from the model's "
                f"({len(clip_set.labels)} vs {len(config.labels)} classes)"
            )
    return ClipTensors.load(sets, config.preprocess, progress)


def load_set(path: str | Path, config: ArtConfig, progress: bool = True) -> ClipTensors:
    """`load_sets` of one set."""
    return load_sets([path], config, progress)
