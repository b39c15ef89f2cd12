"""Classification accuracy: top-1, top-5, mean class accuracy, agreement."""

from __future__ import annotations

import numpy as np


def accuracy(logits: np.ndarray, labels: np.ndarray, num_classes: int) -> dict:
    """Top-1, top-5 and mean per-class accuracy (in percent) of logits [N, C] against labels [N]."""
    logits = np.asarray(logits)
    labels = np.asarray(labels)
    pred = logits.argmax(axis=1)
    k = min(5, logits.shape[1])
    topk = np.argsort(-logits, axis=1, kind="stable")[:, :k]
    per_class = []
    for c in range(num_classes):
        mask = labels == c
        if mask.any():
            per_class.append(float((pred[mask] == c).mean()))
    return {
        "clips": int(len(labels)),
        "top1": 100.0 * float((pred == labels).mean()),
        "top5": 100.0 * float((topk == labels[:, None]).any(axis=1).mean()),
        "mean_class": 100.0 * float(np.mean(per_class)),
    }


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Percentage of rows where two logit matrices pick the same top-1 class."""
    return 100.0 * float((np.asarray(a).argmax(axis=1) == np.asarray(b).argmax(axis=1)).mean())
