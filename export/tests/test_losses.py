import torch
import torch.nn.functional as F

from art_export.losses import (
    LossWeights,
    attention_overlap_loss,
    mtc_loss,
    prototype_consistency_loss,
    region_loss,
    spatial_loss,
    temporal_loss,
    total_loss,
    tracklet_loss,
    video_consistency_loss,
)
from test_model import C, make

E1, E2 = torch.eye(4)[0], torch.eye(4)[1]


def tracklets(a, b, t=3):
    """[1, 2, T, 4]: tracklet 0 constantly `a`, tracklet 1 constantly `b`."""
    return torch.stack([a.expand(t, 4), b.expand(t, 4)]).unsqueeze(0)


def test_spatial_loss_zero_when_orthogonal_positive_when_aligned():
    assert spatial_loss(tracklets(E1, E2)).item() == 0.0
    assert spatial_loss(tracklets(E1, -E1)).item() == 0.0
    torch.testing.assert_close(spatial_loss(tracklets(E1, 2 * E1)), torch.tensor(1.0))
    assert spatial_loss(tracklets(E1, E1 + E2)).item() > 0


def test_temporal_loss_zero_when_steady_positive_when_jumping():
    assert temporal_loss(tracklets(E1, E2), alpha=0.6).item() == 0.0
    jumping = torch.stack([E1, E2, E1]).expand(1, 2, 3, 4)
    torch.testing.assert_close(temporal_loss(jumping, alpha=0.6), torch.tensor(0.6))
    slightly = torch.stack([E1, F.normalize(E1 + 0.5 * E2, dim=0)]).expand(1, 2, 2, 4)
    assert temporal_loss(slightly, alpha=0.6).item() == 0.0  # cos 0.89 >= alpha
    assert temporal_loss(slightly, alpha=0.95).item() > 0.0


def test_tracklet_loss_zero_when_orthogonal_positive_when_same():
    assert tracklet_loss(tracklets(E1, E2)).item() == 0.0
    torch.testing.assert_close(tracklet_loss(tracklets(E1, E1)), torch.tensor(1.0))


def test_attention_overlap_one_for_the_same_map_zero_for_disjoint_cells():
    same = torch.full((1, 2, 2, 4), 0.25)
    torch.testing.assert_close(attention_overlap_loss(same), torch.tensor(1.0))
    disjoint = torch.tensor([[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.3, 0.7]]).expand(1, 3, 2, 4)
    assert attention_overlap_loss(disjoint).item() == 0.0
    half = torch.tensor([[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]]).expand(2, 1, 2, 3)
    torch.testing.assert_close(attention_overlap_loss(half), torch.tensor(0.5))


def test_mtc_is_the_sum_and_has_gradients():
    t = torch.randn(2, 2, 4, 8, requires_grad=True)
    a = torch.softmax(torch.randn(2, 4, 2, 6), dim=-1).requires_grad_()
    total = mtc_loss(t, a, 0.6)
    torch.testing.assert_close(total, spatial_loss(t) + temporal_loss(t, 0.6) + tracklet_loss(t) + attention_overlap_loss(a))
    total.backward()
    assert t.grad.abs().sum() > 0 and a.grad.abs().sum() > 0
    apart = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).expand(1, 3, 2, 2)
    assert mtc_loss(tracklets(E1, E2), apart, 0.6).item() == 0.0


def test_mtc_penalises_two_queries_that_look_at_the_same_cells_whatever_their_prompts():
    model = make().train()
    with torch.no_grad():
        # Both queries attend uniformly (no query projection), from prompts far apart.
        for layer in model.rssa:
            layer.attn.q.weight.zero_()
            layer.attn.q.bias.zero_()
        model.prompts.copy_(torch.stack([torch.ones(16), -torch.ones(16)]) * 3)
    x, y = torch.randn(2, 4, 3, 32, 48), torch.tensor([0, 1])
    out = model(x)
    torch.testing.assert_close(out["region_attn"][:, :, 0], out["region_attn"][:, :, 1])
    _, parts = total_loss(model, out, y)
    assert parts["mtc"] >= 0.5 * 1.0


def test_video_consistency_prefers_the_true_class():
    bank = F.normalize(torch.randn(3, 2, 8), dim=-1)
    emb = bank[1, 1].unsqueeze(0)  # equal to class 1's second template
    right = video_consistency_loss(emb, bank, torch.tensor([1]), 0.1)
    wrong = video_consistency_loss(emb, bank, torch.tensor([0]), 0.1)
    assert 0 <= right.item() < wrong.item()
    # winner-take-all over templates: the other template of class 1 does not matter
    bank2 = bank.clone()
    bank2[1, 0] = -bank[1, 1]
    torch.testing.assert_close(video_consistency_loss(emb, bank2, torch.tensor([1]), 0.1), right)


def test_prototype_consistency_near_zero_when_aligned():
    bank = F.normalize(torch.eye(3).unsqueeze(1).repeat(1, 2, 1), dim=-1)
    seen = torch.tensor([True, True, True])
    aligned = prototype_consistency_loss(torch.eye(3), seen, bank, 0.05)
    swapped = prototype_consistency_loss(torch.eye(3)[[1, 2, 0]], seen, bank, 0.05)
    assert aligned.item() < 1e-6 < swapped.item()
    none = prototype_consistency_loss(torch.eye(3), torch.zeros(3, dtype=torch.bool), bank, 0.05)
    assert none.item() == 0.0


def test_total_loss_terms_follow_the_variant():
    x, y = torch.randn(2, 4, 3, 32, 48), torch.tensor([0, 1])
    terms = {}
    for variant in ("backbone", "rssa", "rssa-ta", "art"):
        model = make(variant).train()
        loss, parts = total_loss(model, model(x), y)
        loss.backward()
        terms[variant] = set(parts)
        assert loss.item() > 0
    assert terms["backbone"] == {"global"}
    assert terms["rssa"] == terms["rssa-ta"] == {"global", "final", "text"}
    assert terms["art"] == {"global", "final", "text", "mtc"}


def test_every_variant_starts_with_the_backbone_only_classification_gradient():
    x, y = torch.randn(3, 4, 3, 32, 48), torch.tensor([0, 1, 2])
    only_ce = LossWeights(mtc=0.0, text=0.0, region=0.0)
    for variant in ("backbone", "rssa", "rssa-ta", "art"):
        model = make(variant).train()
        out = model(x)
        out["global_logits"].retain_grad()
        loss, _ = total_loss(model, out, y, only_ce)
        loss.backward()
        expected = (torch.softmax(out["global_logits"].detach(), -1) - F.one_hot(y, C).float()) / len(y)
        torch.testing.assert_close(out["global_logits"].grad, expected, msg=variant)


def test_text_bank_losses_train_the_agent_bank_and_not_the_backbone():
    model = make()
    labels = torch.tensor([0, 1])
    model.update_prototypes(F.normalize(torch.randn(2, model.prototypes.shape[1]), dim=-1), labels)
    out = model(torch.randn(2, 4, 3, 32, 48))
    text = video_consistency_loss(out["video_embedding"], model.agent_bank, labels, 0.1)
    text = text + prototype_consistency_loss(model.prototypes, model.prototype_seen, model.agent_bank, 0.1)
    text.backward()
    assert model.agent_bank.grad is not None and model.agent_bank.grad.abs().sum() > 0
    assert model.video_embed.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.backbone.parameters())
    assert all(p.grad is None for p in model.se.parameters())


def test_region_loss_draws_the_first_tracklet_onto_the_performers_cells():
    cells = torch.tensor([[[1.0, 1.0, 0.0, 0.0], [float("nan")] * 4]])  # [1, 2, 4]: frame 2 has no box
    on = torch.tensor([0.5, 0.5, 0.0, 0.0])
    off = torch.tensor([0.0, 0.1, 0.4, 0.5])
    attn = torch.stack([torch.stack([on, off]), torch.stack([off, on])])[None]  # [1, T=2, J=2, 4]
    assert region_loss(attn, cells).item() == 0.0
    swapped = attn.flip(2)
    torch.testing.assert_close(region_loss(swapped, cells), -torch.log(torch.tensor(0.1)))
    assert region_loss(attn, torch.full((1, 2, 4), float("nan"))).item() == 0.0
    logits = torch.randn(1, 2, 2, 4, requires_grad=True)
    region_loss(torch.softmax(logits, -1), cells).backward()
    assert logits.grad[0, 0, 0].abs().sum() > 0 and logits.grad[0, 0, 1].abs().sum() == 0


def test_total_loss_has_a_region_term_only_with_boxes():
    model = make().train()
    x, y = torch.randn(2, 4, 3, 32, 48), torch.tensor([0, 1])
    out = model(x)
    cells = torch.zeros(2, 4, 6)
    cells[..., 0] = 1.0
    _, parts = total_loss(model, out, y, cells=cells)
    assert parts["region"] > 0
    _, parts = total_loss(model, out, y)
    assert "region" not in parts
