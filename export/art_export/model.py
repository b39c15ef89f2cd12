"""ART (Action-Region Tracking), section III of the paper.

    video ─ backbone ─┬─ frame tokens X_t ─┐
                      └─ global token g ───┼─ top-K text semantics (the global head's top-K classes)
    RSSA, per frame:  SE([X_t ; S_K]) → (X̂_t, Ŝ_t)                       (eq. 1)
                      queries Q = prompts + text semantics from Ŝ_t       (eq. 2)
                      R_t = CrossAttn(Q, X̂_t), region attention A_t       (eq. 3)
    tracklets:        τ_j = [R_1j, ..., R_Tj], exactly two                (eq. 4)
    aggregation:      text-similarity temporal saliency per tracklet      (eq. 9)
    prediction:       global logits + classifier over [g ; τ̂_1 ; τ̂_2]    (eq. 11)

The text-constrained semantics bank S [C, M, E] (classes x templates x text
embedding) is frozen and follows the trainable agent bank by EMA (eq. 12),
anchored to the text encoder's embedding so that it keeps its semantics over
any number of steps; inside the exported graph it is a constant [C, E]
(template mean per class).

Three choices where the paper leaves room:
- The top-K semantics are those of the K classes the global head ranks
  highest, each weighted by K times its softmax over the K logits: the
  selection is trained by the global head's own cross-entropy, and the
  weights pass the final loss's gradient back into it. A similarity to a
  separate query (the paper's wording) leaves that query without gradient,
  since top-K indices carry none.
- The tracklet contrastive terms act on what each query gathered from the
  frame (its response without the query it started from) and on its
  attention map, so two queries can only satisfy them by looking at
  different regions, not through their distinct learnable prompts.
- S = normalize(a E0 + (1 - a) EMA(A)), E0 the encoder's embedding and a
  `bank_anchor`: the EMA alone (momentum 0.99) forgets E0 within a few
  hundred steps.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .backbone import build_backbone
from .layers import CrossAttentionLayer, TransformerLayer
from .preprocess import Preprocess

#: Table IV settings: which ART parts are on.
VARIANTS = {
    "backbone": dict(use_rssa=False, use_ta=False, use_mtc=False),
    "rssa": dict(use_rssa=True, use_ta=False, use_mtc=False),
    "rssa-ta": dict(use_rssa=True, use_ta=True, use_mtc=False),
    "art": dict(use_rssa=True, use_ta=True, use_mtc=True),
}


@dataclass
class ArtConfig:
    """Everything needed to rebuild an ART model (stored in checkpoints)."""

    labels: list[str]
    preprocess: Preprocess = field(default_factory=Preprocess)
    backbone: str = "tiny"
    dim: int = 96
    channels: int = 32
    stem: int = 4
    stem_kind: str = "patch"
    token_stride: int = 16
    heads: int = 4
    top_k: int = 4
    se_layers: int = 1
    rssa_layers: int = 1
    tracklets: int = 2
    use_rssa: bool = True
    use_ta: bool = True
    use_mtc: bool = True
    mtc_alpha: float = 0.6
    temperature: float = 0.1
    bank_momentum: float = 0.999
    bank_anchor: float = 0.5
    text_encoder: str = "sentence-transformers/all-MiniLM-L6-v2"
    templates: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Plain-dict form, for checkpoints."""
        d = asdict(self)
        d["preprocess"] = self.preprocess.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ArtConfig":
        """Inverse of `to_dict`."""
        d = dict(d)
        d["preprocess"] = Preprocess.from_dict(d["preprocess"])
        return cls(**d)

    @property
    def num_classes(self) -> int:
        """Number of classes C."""
        return len(self.labels)


def _cos(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of the last dimension, broadcasting a [..., n, d] with b [..., m, d]."""
    return F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).transpose(-1, -2)


class Art(nn.Module):
    """The ART model; `forward` returns a dict of every intermediate the losses need."""

    def __init__(self, config: ArtConfig, bank: torch.Tensor):
        super().__init__()
        c = config
        if c.tracklets != 2:
            raise ValueError("ART here uses exactly two tracklets")
        if bank.ndim != 3 or bank.shape[0] != c.num_classes:
            raise ValueError(f"text bank must be [C={c.num_classes}, M, E], got {list(bank.shape)}")
        if not 1 <= c.top_k <= c.num_classes:
            raise ValueError(f"top_k {c.top_k} must be within 1..{c.num_classes}")
        if not 0.0 <= c.bank_anchor <= 1.0 or not 0.0 <= c.bank_momentum < 1.0:
            raise ValueError(f"bank_anchor {c.bank_anchor} must be within 0..1 and bank_momentum {c.bank_momentum} within 0..1 (excluded)")
        self.config = c
        p = c.preprocess
        self.backbone = build_backbone(c.backbone, p.frames, p.height, p.width, c.dim, c.channels, c.stem, c.stem_kind, c.token_stride if c.use_rssa else 16)
        self.grid = self.backbone.grid
        d, e = c.dim, bank.shape[-1]
        bank = F.normalize(bank.float(), dim=-1)
        # S: frozen bank (no gradient), the anchored EMA of the trainable agent A.
        self.register_buffer("bank", bank.clone())
        self.register_buffer("text_bank", bank.clone())
        self.register_buffer("bank_ema", bank.clone())
        self.agent_bank = nn.Parameter(bank.clone())
        self.register_buffer("prototypes", torch.zeros(c.num_classes, e))
        self.register_buffer("prototype_seen", torch.zeros(c.num_classes, dtype=torch.bool))
        self.global_head = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, c.num_classes))
        if c.use_rssa:
            self.text_proj = nn.Linear(e, d)
            self.type_embed = nn.Parameter(torch.zeros(2, d))
            nn.init.trunc_normal_(self.type_embed, std=0.02)
            self.se = nn.ModuleList(TransformerLayer(d, c.heads) for _ in range(c.se_layers))
            # Unit-scale prompts (as DETR's queries) so the two queries differ from the start.
            self.prompts = nn.Parameter(torch.randn(c.tracklets, d))
            self.rssa = nn.ModuleList(CrossAttentionLayer(d, c.heads) for _ in range(c.rssa_layers))
            self.response_norm = nn.LayerNorm(d)
            fused = d * (1 + c.tracklets)
            # The final prediction is the global one plus this head's correction from
            # [g ; tracklets]; the correction starts at zero, so the full model begins
            # where the backbone alone does and the tracklets only add to it.
            self.final_head = nn.Sequential(nn.LayerNorm(fused), nn.Dropout(0.1), nn.Linear(fused, c.num_classes))
            nn.init.zeros_(self.final_head[-1].weight)
            nn.init.zeros_(self.final_head[-1].bias)
            self.video_embed = nn.Linear(fused, e)

    def class_semantics(self) -> torch.Tensor:
        """The frozen bank reduced to one unit vector per class, [C, E] (the graph constant)."""
        return F.normalize(self.bank.mean(dim=1), dim=-1)

    def select_top_k(self, global_logits: torch.Tensor, semantics: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Top-K action-related semantics per video: those of the K classes the
        global head ranks highest, each scaled by K times its softmax over the K
        logits (1 on average; the scale carries the gradient into the head).

        global_logits [B, C], semantics [C, D] -> (indices [B, K], selected [B, K, D]).
        """
        top = torch.topk(global_logits, self.config.top_k, dim=-1)
        weights = torch.softmax(top.values, dim=-1) * self.config.top_k  # [B, K]
        selected = semantics[top.indices] * weights.unsqueeze(-1)  # [B, K, D]
        return top.indices, selected

    def forward(self, video: torch.Tensor, semantics: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """video [B, T, 3, H, W] -> logits, global_logits, region_attn, tracklets, ..."""
        c = self.config
        tokens, g = self.backbone(video)  # [B, T, N, D], [B, D]
        out = {"global_logits": self.global_head(g), "global": g}
        if not c.use_rssa:
            out["logits"] = out["global_logits"]
            return out
        b, t, n, d = tokens.shape
        if semantics is None:
            semantics = self.class_semantics()
        sem = self.text_proj(semantics)  # [C, D]
        top_idx, sel = self.select_top_k(out["global_logits"], sem)  # [B, K, D]
        k = sel.shape[1]
        # eq. 1: spatial semantic enhancement of every frame with the top-K semantics.
        sel_t = sel.unsqueeze(1).expand(b, t, k, d)
        z = torch.cat([tokens + self.type_embed[0], sel_t + self.type_embed[1]], dim=2).reshape(b * t, n + k, d)
        for layer in self.se:
            z = layer(z)
        x_hat, s_hat = z[:, :n], z[:, n:]
        # eq. 2: region queries = learnable prompts + the text semantics they attend to.
        pick = torch.softmax(_cos(self.prompts, s_hat) / c.temperature, dim=-1)  # [B*T, J, K]
        queries = self.prompts + pick @ s_hat  # [B*T, J, D]
        initial = queries
        # eq. 3: cross-attention of the region queries over the frame's enhanced tokens.
        attn = None
        for layer in self.rssa:
            queries, attn = layer(queries, x_hat)
        responses = self.response_norm(queries).reshape(b, t, c.tracklets, d)
        # What each query gathered from the frame, without the query it started from.
        gathered = (queries - initial).reshape(b, t, c.tracklets, d).transpose(1, 2)
        region_attn = attn.reshape(b, t, c.tracklets, n)
        # eq. 4: tracklet j = the j-th response of every frame, [B, J, T, D].
        tracklets = responses.transpose(1, 2)
        # eq. 9: text-similarity temporal saliency, or plain temporal mean (Table IV (2)).
        if c.use_ta:
            sim = _cos(tracklets, sel.unsqueeze(1)) / c.temperature  # [B, J, T, K]
            saliency = torch.softmax(sim, dim=2).mean(dim=3)  # [B, J, T], sums to 1 over T
        else:
            saliency = torch.full(tracklets.shape[:3], 1.0 / t, dtype=tracklets.dtype, device=tracklets.device)
        pooled = (saliency.unsqueeze(-1) * tracklets).sum(dim=2)  # [B, J, D]
        # eq. 11: final prediction from the global representation and the tracklets.
        fused = torch.cat([g, pooled.flatten(1)], dim=1)
        out.update(
            logits=out["global_logits"] + self.final_head(fused),
            region_attn=region_attn,
            tracklets=tracklets,
            gathered=gathered,
            saliency=saliency,
            top_k=top_idx,
            # The text-bank losses train the agent bank A (eqs. 12, 17) towards the
            # video representation; they do not pull the backbone towards the text.
            video_embedding=F.normalize(self.video_embed(fused.detach()), dim=-1),
        )
        return out

    @torch.no_grad()
    def update_bank(self) -> None:
        """eq. 12 with an anchor, after each optimiser step on the agent A:
        EMA <- m EMA + (1 - m) A, then S <- normalize(a E0 + (1 - a) EMA)."""
        c = self.config
        m = c.bank_momentum
        self.bank_ema.mul_(m).add_(F.normalize(self.agent_bank.detach(), dim=-1), alpha=1.0 - m)
        self.bank_ema.copy_(F.normalize(self.bank_ema, dim=-1))
        mixed = c.bank_anchor * self.text_bank + (1.0 - c.bank_anchor) * self.bank_ema
        self.bank.copy_(F.normalize(mixed, dim=-1))

    @torch.no_grad()
    def update_prototypes(self, embeddings: torch.Tensor, labels: torch.Tensor, momentum: float = 0.9) -> None:
        """Class prototypes (eq. 15): EMA of each class's video embeddings, decoupled from the heads."""
        for cls in labels.unique():
            mean = F.normalize(embeddings[labels == cls].mean(dim=0), dim=-1)
            if self.prototype_seen[cls]:
                mean = F.normalize(momentum * self.prototypes[cls] + (1 - momentum) * mean, dim=-1)
            self.prototypes[cls] = mean
            self.prototype_seen[cls] = True


class ExportModel(nn.Module):
    """The deployed graph: video [1, T, 3, H, W] -> (logits [1, C], region_attn [1, T, 2, h*w]).

    The class semantics are baked in as a constant, so no text encoder runs on the device.
    """

    def __init__(self, model: Art):
        super().__init__()
        if not model.config.use_rssa:
            raise ValueError("only a model with RSSA (tracklets) can be exported")
        self.model = model
        self.register_buffer("semantics", model.class_semantics().detach().clone())

    def forward(self, video: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.model(video, self.semantics)
        return out["logits"], out["region_attn"]
