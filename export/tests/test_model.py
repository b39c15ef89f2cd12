import pytest
import torch
import torch.nn.functional as F

from art_export.backbone import ResNet50TSM, TinyBackbone, temporal_shift
from art_export.model import VARIANTS, Art, ArtConfig, ExportModel
from art_export.preprocess import Preprocess

C, M, E = 5, 3, 24


def make(variant="art", top_k=3, frames=4, seed=0, **kw) -> Art:
    torch.manual_seed(seed)
    cfg = ArtConfig(
        labels=[f"c{i}" for i in range(C)],
        preprocess=Preprocess(frames=frames, resize_to=32, width=48, height=32),
        dim=16, channels=8, heads=2, top_k=top_k, **VARIANTS[variant], **kw,
    )
    return Art(cfg, torch.randn(C, M, E)).eval()


def test_tiny_backbone_shapes():
    bb = TinyBackbone(frames=3, height=32, width=48, dim=16, channels=8)
    tokens, g = bb(torch.randn(2, 3, 3, 32, 48))
    assert bb.grid == (2, 3)
    assert tokens.shape == (2, 3, 6, 16) and g.shape == (2, 16)


def test_tiny_backbone_wide_stem_keeps_the_token_grid():
    narrow = TinyBackbone(frames=2, height=32, width=48, dim=16, channels=8, stem=4)
    wide = TinyBackbone(frames=2, height=32, width=48, dim=16, channels=8, stem=8)
    assert wide.stem[0].stride == (8, 8) and narrow.stem[0].stride == (4, 4)
    tokens, _ = wide(torch.randn(1, 2, 3, 32, 48))
    assert wide.grid == narrow.grid == (2, 3)
    assert tokens.shape == (1, 2, 6, 16)
    with pytest.raises(ValueError, match="stem 2 must be one of"):
        TinyBackbone(frames=2, height=32, width=48, dim=16, channels=8, stem=2)


def test_tiny_backbone_stride_8_tokens_add_their_coarse_cell():
    torch.manual_seed(0)
    bb = TinyBackbone(frames=2, height=32, width=48, dim=16, channels=8, token_stride=8).eval()
    coarse = TinyBackbone(frames=2, height=32, width=48, dim=16, channels=8).eval()
    coarse.load_state_dict({k: v for k, v in bb.state_dict().items() if not k.startswith("fine.")})
    video = torch.randn(1, 2, 3, 32, 48)
    with torch.no_grad():
        tokens, g = bb(video)
        coarse_tokens, coarse_g = coarse(video)
        bb.fine.weight.zero_()
        bb.fine.bias.zero_()
        no_fine, _ = bb(video)
    assert bb.grid == (4, 6) and tokens.shape == (1, 2, 24, 16)
    torch.testing.assert_close(g, coarse_g)
    # With the fine projection at zero, token (row r, col c) is coarse cell (r // 2, c // 2).
    fine_grid = no_fine.reshape(1, 2, 4, 6, 16)
    expected = coarse_tokens.reshape(1, 2, 2, 3, 16).repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    torch.testing.assert_close(fine_grid, expected)
    assert not torch.allclose(tokens, no_fine)
    with pytest.raises(ValueError, match="token stride 8 needs stem 4"):
        TinyBackbone(frames=2, height=32, width=48, dim=16, channels=8, stem=8, token_stride=8)
    with pytest.raises(ValueError, match="token stride 4 must be one of"):
        TinyBackbone(frames=2, height=32, width=48, dim=16, channels=8, token_stride=4)


def test_region_attention_covers_the_stride_8_grid():
    model = make(token_stride=8)
    out = model(torch.randn(1, 4, 3, 32, 48))
    assert model.grid == (4, 6)
    assert out["region_attn"].shape == (1, 4, 2, 24)
    assert make("backbone", token_stride=8).backbone.fine is None


@pytest.mark.parametrize("stem", [4, 8])
def test_tiny_backbone_conv_stem_is_overlapping_stride_2_convolutions(stem):
    bb = TinyBackbone(frames=2, height=32, width=48, dim=16, channels=8, stem=stem, stem_kind="conv")
    convs = [m for m in bb.stem if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == stem.bit_length() - 1
    assert all(c.kernel_size == (3, 3) and c.stride == (2, 2) for c in convs)
    assert convs[-1].out_channels == 8
    tokens, _ = bb(torch.randn(1, 2, 3, 32, 48))
    assert bb.grid == (2, 3) and tokens.shape == (1, 2, 6, 16)
    with pytest.raises(ValueError, match="stem kind 'pixel' must be one of"):
        TinyBackbone(frames=2, height=32, width=48, dim=16, channels=8, stem_kind="pixel")


def test_tiny_backbone_global_feature_depends_on_frame_order():
    torch.manual_seed(0)
    bb = TinyBackbone(frames=3, height=32, width=32, dim=16, channels=8).eval()
    video = torch.randn(1, 3, 3, 32, 32)
    with torch.no_grad():
        _, g = bb(video)
        _, g_reversed = bb(video.flip(1))
    assert not torch.allclose(g, g_reversed, atol=1e-4)


def test_tiny_backbone_rejects_misfit_input():
    with pytest.raises(ValueError, match="multiple of the backbone stride"):
        TinyBackbone(frames=2, height=30, width=48, dim=16, channels=8)


def test_resnet50_tsm_shapes():
    bb = ResNet50TSM(frames=2, height=64, width=64, dim=16).eval()
    with torch.no_grad():
        tokens, g = bb(torch.randn(1, 2, 3, 64, 64))
    assert bb.grid == (2, 2)
    assert tokens.shape == (1, 2, 4, 16) and g.shape == (1, 16)


def test_temporal_shift_moves_channel_folds_in_time():
    x = torch.arange(3, dtype=torch.float32).view(1, 3, 1, 1, 1).expand(1, 3, 16, 1, 1).reshape(3, 16, 1, 1)
    y = temporal_shift(x, frames=3).reshape(3, 16)
    assert y[:, 0].tolist() == [1, 2, 0]  # first fold: from the next frame
    assert y[:, 2].tolist() == [0, 0, 1]  # second fold: from the previous frame
    assert y[:, 5].tolist() == [0, 1, 2]  # the rest untouched


def test_forward_shapes_and_normalisation():
    model = make()
    out = model(torch.randn(2, 4, 3, 32, 48))
    assert out["logits"].shape == (2, C)
    assert out["global_logits"].shape == (2, C)
    assert out["region_attn"].shape == (2, 4, 2, 6)
    torch.testing.assert_close(out["region_attn"].sum(-1), torch.ones(2, 4, 2))
    assert out["tracklets"].shape == (2, 2, 4, 16)
    torch.testing.assert_close(out["saliency"].sum(-1), torch.ones(2, 2))
    assert out["top_k"].shape == (2, 3)
    torch.testing.assert_close(out["video_embedding"].norm(dim=-1), torch.ones(2))


def test_exactly_two_tracklets():
    model = make()
    assert model(torch.randn(1, 4, 3, 32, 48))["tracklets"].shape[1] == 2
    with pytest.raises(ValueError, match="exactly two tracklets"):
        make(tracklets=3)


def test_top_k_semantics_are_the_global_heads_top_classes_weighted_by_their_softmax():
    model = make(top_k=2)
    semantics = F.normalize(torch.randn(C, 16), dim=-1)
    logits = torch.tensor([[0.0, 2.0, -1.0, 3.0, 0.5], [4.0, 0.0, 0.0, 0.0, 1.0]], requires_grad=True)
    idx, sel = model.select_top_k(logits, semantics)
    assert idx.tolist() == [[3, 1], [0, 4]]
    for b in range(2):
        w = torch.softmax(logits[b, idx[b]], dim=0) * 2
        torch.testing.assert_close(sel[b], semantics[idx[b]] * w.unsqueeze(-1))
    sel[:, 1].sum().backward()
    assert logits.grad.abs().sum() > 0


def test_every_parameter_learns_from_the_total_loss():
    from art_export.losses import total_loss

    model = make().train()
    with torch.no_grad():
        # As after some training: the branches that start at zero no longer are.
        for p in model.parameters():
            if not p.any():
                p.normal_(std=0.1)
    model.update_prototypes(F.normalize(torch.randn(2, E), dim=-1), torch.tensor([0, 1]))
    loss, _ = total_loss(model, model(torch.randn(2, 4, 3, 32, 48)), torch.tensor([0, 1]))
    loss.backward()
    silent = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert silent == []


def test_top_k_bounds():
    with pytest.raises(ValueError, match="top_k"):
        make(top_k=C + 1)


def test_backbone_variant_predicts_from_the_global_token():
    model = make("backbone")
    out = model(torch.randn(1, 4, 3, 32, 48))
    assert torch.equal(out["logits"], out["global_logits"]) and "tracklets" not in out
    with pytest.raises(ValueError, match="RSSA"):
        ExportModel(model)


def test_final_prediction_is_the_global_one_plus_a_tracklet_correction_that_starts_at_zero():
    model = make().eval()
    video = torch.randn(1, 4, 3, 32, 48)
    out = model(video)
    torch.testing.assert_close(out["logits"], out["global_logits"])
    with torch.no_grad():
        model.final_head[-1].weight.normal_()
    out = model(video)
    correction = out["logits"] - out["global_logits"]
    assert correction.abs().max() > 1e-3
    with torch.no_grad():
        model.prompts.add_(torch.randn_like(model.prompts))
    moved = model(video)
    torch.testing.assert_close(moved["global_logits"], out["global_logits"])
    assert (moved["logits"] - moved["global_logits"] - correction).abs().max() > 1e-4


def test_without_ta_saliency_is_uniform():
    out = make("rssa")(torch.randn(1, 4, 3, 32, 48))
    torch.testing.assert_close(out["saliency"], torch.full((1, 2, 4), 0.25))


def test_bank_follows_agent_by_ema():
    model = make()
    before = model.bank.clone()
    with torch.no_grad():
        model.agent_bank.copy_(F.normalize(torch.randn(C, M, E), dim=-1))
    target = F.normalize(model.agent_bank.detach(), dim=-1)
    d0 = (before - target).norm()
    model.update_bank()
    assert (model.bank - target).norm() < d0
    torch.testing.assert_close(model.bank.norm(dim=-1), torch.ones(C, M))
    assert not model.bank.requires_grad


def test_bank_keeps_the_text_encoders_semantics_over_a_long_training():
    model = make()
    text = model.text_bank.clone()
    with torch.no_grad():
        # The agent as far from the encoder as it can go: orthogonal to every row.
        agent = torch.randn(C, M, E)
        agent -= (agent * text).sum(-1, keepdim=True) * text
        model.agent_bank.copy_(F.normalize(agent, dim=-1))
    for _ in range(7603):
        model.update_bank()
    cos = (model.bank * text).sum(-1)
    assert cos.min() >= 0.7
    toward = (model.bank * F.normalize(model.agent_bank.detach(), dim=-1)).sum(-1)
    assert toward.min() >= 0.7
    torch.testing.assert_close(model.text_bank, text)


def test_prototypes_track_class_embeddings():
    model = make()
    emb = F.normalize(torch.randn(4, E), dim=-1)
    model.update_prototypes(emb, torch.tensor([1, 1, 2, 2]))
    assert model.prototype_seen.tolist() == [False, True, True, False, False]
    torch.testing.assert_close(model.prototypes[2], F.normalize(emb[2:].mean(0), dim=-1))


def test_export_model_bakes_in_the_class_semantics():
    model = make()
    wrapper = ExportModel(model)
    assert wrapper.semantics.shape == (C, E)
    x = torch.randn(1, 4, 3, 32, 48)
    logits, attn = wrapper(x)
    torch.testing.assert_close(logits, model(x)["logits"])
    assert attn.shape == (1, 4, 2, 6)


def test_attention_matches_pytorch_reference():
    from art_export.layers import MultiHeadAttention

    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 4)
    q, ctx = torch.randn(3, 5, 16), torch.randn(3, 7, 16)
    split = lambda x: x.reshape(3, -1, 4, 4).transpose(1, 2)  # noqa: E731
    ref = F.scaled_dot_product_attention(split(mha.q(q)), split(mha.k(ctx)), split(mha.v(ctx)))
    ref = mha.out(ref.transpose(1, 2).flatten(2))
    y, weights = mha(q, ctx)
    assert torch.allclose(mha.attend(q, ctx), ref, atol=1e-5)
    assert torch.allclose(y, ref, atol=1e-5)
    assert weights.shape == (3, 5, 7)
    assert torch.allclose(weights.sum(-1), torch.ones(3, 5))
