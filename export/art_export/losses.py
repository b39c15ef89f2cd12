"""ART losses: cross-entropy (eqs. 10, 11), the multi-level tracklet contrastive
loss (eqs. 5-8) and the text-bank losses (eqs. 13-17)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .model import Art


def _off_diagonal_mean(sim: torch.Tensor) -> torch.Tensor:
    """Mean of max(0, s) over the off-diagonal entries of [..., J, J] similarity matrices."""
    j = sim.shape[-1]
    mask = ~torch.eye(j, dtype=torch.bool, device=sim.device)
    return sim.clamp(min=0)[..., mask].mean()


def spatial_loss(tracklets: torch.Tensor) -> torch.Tensor:
    """eq. 5: repels the region responses of one frame from each other.

    tracklets [B, J, T, D]; zero when every frame's responses are pairwise
    orthogonal or opposed, positive when two point the same way.
    """
    r = F.normalize(tracklets.transpose(1, 2), dim=-1)  # [B, T, J, D]
    return _off_diagonal_mean(r @ r.transpose(-1, -2))


def temporal_loss(tracklets: torch.Tensor, alpha: float = 0.6) -> torch.Tensor:
    """eq. 6: attracts each tracklet's responses in adjacent frames up to correlation `alpha`.

    Zero when cos(r_t, r_t+1) >= alpha for every tracklet and step; positive below.
    """
    r = F.normalize(tracklets, dim=-1)
    cos = (r[:, :, 1:] * r[:, :, :-1]).sum(dim=-1)  # [B, J, T-1]
    return (alpha - cos).clamp(min=0).mean()


def tracklet_loss(tracklets: torch.Tensor) -> torch.Tensor:
    """eq. 7: repels whole tracklets (their temporal means) from each other."""
    m = F.normalize(tracklets.mean(dim=2), dim=-1)  # [B, J, D]
    return _off_diagonal_mean(m @ m.transpose(-1, -2))


def attention_overlap_loss(region_attn: torch.Tensor) -> torch.Tensor:
    """Repels the region attention maps of one frame from each other.

    region_attn [B, T, J, N] (each map sums to 1): the mean over frames and
    pairs of queries of sum_n min(a_i[n], a_j[n]), 1 for identical maps and
    0 for maps on disjoint cells.
    """
    a = region_attn.unsqueeze(-2)  # [B, T, J, 1, N]
    overlap = torch.minimum(a, region_attn.unsqueeze(-3)).sum(dim=-1)  # [B, T, J, J]
    j = overlap.shape[-1]
    mask = ~torch.eye(j, dtype=torch.bool, device=overlap.device)
    return overlap[..., mask].mean()


def mtc_loss(gathered: torch.Tensor, region_attn: torch.Tensor, alpha: float = 0.6) -> torch.Tensor:
    """eq. 8: spatial + temporal + tracklet level over what the queries gathered
    from the frames ([B, J, T, D], without their prompts), plus the overlap of
    their attention maps, so that the tracklets differ by where they look."""
    return (
        spatial_loss(gathered)
        + temporal_loss(gathered, alpha)
        + tracklet_loss(gathered)
        + attention_overlap_loss(region_attn)
    )


def region_loss(region_attn: torch.Tensor, cells: torch.Tensor, tracklet: int = 0) -> torch.Tensor:
    """Draws one tracklet's attention onto the performer, where the clips
    come with the performer's boxes (synthetic sets, `artrt synth --boxes`).

    region_attn [B, T, J, N]; cells [B, T, N], 1 on the token cells the
    performer's box covers, 0 elsewhere, NaN in frames without a box. The
    mean over frames with a box of -log(attention on the performer): 0 when
    all of it is there.
    """
    known = ~torch.isnan(cells[..., 0])
    if not bool(known.any()):
        return region_attn.sum() * 0.0
    hit = (region_attn[:, :, tracklet] * torch.nan_to_num(cells)).sum(dim=-1)  # [B, T]
    return -torch.log(hit[known].clamp(min=1e-4)).mean()


def video_consistency_loss(embedding: torch.Tensor, agent_bank: torch.Tensor, labels: torch.Tensor, temperature: float) -> torch.Tensor:
    """eqs. 13-14: winner-take-all over templates, then cross-entropy against the true class.

    embedding [B, E] (unit), agent_bank [C, M, E], labels [B].
    """
    bank = F.normalize(agent_bank, dim=-1)
    scores = torch.einsum("be,cme->bcm", embedding, bank).amax(dim=-1) / temperature  # [B, C]
    return F.cross_entropy(scores, labels)


def prototype_consistency_loss(prototypes: torch.Tensor, seen: torch.Tensor, agent_bank: torch.Tensor, temperature: float) -> torch.Tensor:
    """eqs. 15-16: each class prototype must be most similar to its own class's semantics.

    prototypes [C, E] (unit), seen [C] bool (prototypes with data), agent_bank [C, M, E].
    """
    if not bool(seen.any()):
        return agent_bank.sum() * 0.0
    bank = F.normalize(agent_bank, dim=-1)
    sim = torch.einsum("pe,cme->pcm", prototypes, bank).amax(dim=-1) / temperature  # [C, C]
    target = torch.arange(prototypes.shape[0], device=prototypes.device)
    return F.cross_entropy(sim[seen], target[seen])


@dataclass(frozen=True)
class LossWeights:
    """Weights of eq. 18's terms."""

    mtc: float = 0.5
    text: float = 0.5
    region: float = 0.5


def total_loss(
    model: Art,
    out: dict[str, torch.Tensor],
    labels: torch.Tensor,
    weights: LossWeights = LossWeights(),
    cells: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """eq. 18 with its two cross-entropies averaged: L = (L_global + L_final) / 2
    + w_mtc L_MTC + w_text L_text (terms per the model's variant), plus
    w_region L_region where `cells` gives the performer's cells
    (`region_loss`).

    The final logits start equal to the global ones (the correction head is
    zero-initialised), so eq. 18's plain sum counts one classification loss
    twice at the start: it doubles the gradient into the global logits and
    halves every other term's weight against classification. The mean gives
    each variant the backbone-only model's classification gradient and keeps
    the weights' meaning the same in every variant.
    """
    c = model.config
    parts = {"global": F.cross_entropy(out["global_logits"], labels)}
    if c.use_rssa:
        parts["global"] = 0.5 * parts["global"]
        parts["final"] = 0.5 * F.cross_entropy(out["logits"], labels)
        if cells is not None and weights.region > 0:
            parts["region"] = weights.region * region_loss(out["region_attn"], cells)
        if c.use_mtc:
            parts["mtc"] = weights.mtc * mtc_loss(out["gathered"], out["region_attn"], c.mtc_alpha)
        emb = out["video_embedding"]
        text = video_consistency_loss(emb, model.agent_bank, labels, c.temperature)
        text = text + prototype_consistency_loss(model.prototypes, model.prototype_seen, model.agent_bank, c.temperature)
        parts["text"] = weights.text * text
    loss = sum(parts.values())
    return loss, {k: float(v.detach()) for k, v in parts.items()}
