"""A trained model carried over to another class list, for fine-tuning on a
venue's clips whose labels add classes (or leave some out).

Every weight that does not depend on the class list is kept. Rows indexed by
class (the global and final heads' outputs, the text bank with its
encoder embedding, EMA and trainable agent, the prototypes) are kept for the
classes the model knows, matched by label, and start afresh for new ones:
their text-bank rows are the new labels' prompts embedded by the text
encoder the bank was built with, their head rows as a new model's (the final
head's correction at zero).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from .model import Art
from .text_bank import TextBank, build_text_bank

#: State entries with one row per class, in class order.
CLASS_ROWS = (
    "bank",
    "text_bank",
    "bank_ema",
    "agent_bank",
    "prototypes",
    "prototype_seen",
    "global_head.1.weight",
    "global_head.1.bias",
    "final_head.2.weight",
    "final_head.2.bias",
)


def relabel(
    model: Art,
    bank: TextBank,
    labels: list[str],
    open_clip_weights: Path | None = None,
    open_clip_arch: str = "ViT-B-16",
) -> tuple[Art, TextBank, dict]:
    """`model` and `bank` for the class list `labels`.

    Returns the new model, its bank, and what changed:
    `{"added": [...], "dropped": [...]}`.
    """
    if len(set(labels)) != len(labels):
        seen = set()
        twice = sorted({label for label in labels if label in seen or seen.add(label)})
        raise ValueError(f"labels {twice} appear more than once")
    old = list(model.config.labels)
    added = [label for label in labels if label not in old]
    dropped = [label for label in old if label not in labels]
    embeddings = np.zeros((len(labels), *bank.embeddings.shape[1:]), dtype=np.float32)
    for i, label in enumerate(labels):
        if label in old:
            embeddings[i] = bank.embeddings[old.index(label)]
    if added:
        fresh = build_text_bank(added, bank.templates, open_clip_weights, open_clip_arch)
        if fresh.encoder != bank.encoder or fresh.embeddings.shape[1:] != bank.embeddings.shape[1:]:
            raise ValueError(
                f"the model's text bank was embedded by {bank.encoder} "
                f"({bank.embeddings.shape[-1]} wide), the new labels by {fresh.encoder} "
                f"({fresh.embeddings.shape[-1]} wide): give the same encoder "
                "(--open-clip-weights for an open_clip bank)"
            )
        for label, rows in zip(added, fresh.embeddings):
            embeddings[labels.index(label)] = rows
    new_bank = TextBank(bank.encoder, bank.package, list(bank.templates), list(labels), embeddings)
    config = replace(model.config, labels=list(labels), top_k=min(model.config.top_k, len(labels)))
    tuned = Art(config, torch.from_numpy(embeddings))
    state = tuned.state_dict()
    for name, value in model.state_dict().items():
        if name not in state:
            raise ValueError(f"{name}: the new model has no such weight")
        if name in CLASS_ROWS:
            # The bank's rows for known classes are the trained ones (they
            # follow the agent by EMA), and the new ones the encoder's.
            for i, label in enumerate(labels):
                if label in old:
                    state[name][i] = value[old.index(label)]
        elif state[name].shape != value.shape:
            raise ValueError(f"{name}: shape {list(value.shape)} does not carry over to {list(state[name].shape)}")
        else:
            state[name] = value.clone()
    tuned.load_state_dict(state)
    return tuned, new_bank, {"added": added, "dropped": dropped}
