"""Attention building blocks written with plain MatMul/Softmax, so they export to
ONNX opset 17 as ordinary operators every backend runs."""

from __future__ import annotations

import math

import torch
from torch import nn


class MultiHeadAttention(nn.Module):
    """Multi-head attention; `forward` also returns the head-averaged weights."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.scale = 1.0 / math.sqrt(dim // heads)
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        return x.reshape(b, n, self.heads, d // self.heads).transpose(1, 2)

    def _attention(self, query: torch.Tensor, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        q = self._split(self.q(query)) * self.scale
        k = self._split(self.k(context))
        v = self._split(self.v(context))
        attn = torch.softmax(q @ k.transpose(-1, -2), dim=-1)  # [B, H, Nq, Nk]
        return self.out((attn @ v).transpose(1, 2).flatten(2)), attn

    def forward(self, query: torch.Tensor, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """query [B, Nq, D] attends over context [B, Nk, D]; returns ([B, Nq, D], [B, Nq, Nk])."""
        y, attn = self._attention(query, context)
        return y, attn.mean(dim=1)

    def attend(self, query: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """Like `forward` without the weights. Explicit MatMul/Softmax rather than
        PyTorch's fused kernel, whose CPU backward is several times slower at these
        sizes (a fifth of a training step of the tiny model)."""
        return self._attention(query, context)[0]


class FeedForward(nn.Sequential):
    """Two-layer MLP with GELU."""

    def __init__(self, dim: int, ratio: int = 4):
        super().__init__(nn.Linear(dim, dim * ratio), nn.GELU(), nn.Linear(dim * ratio, dim))


class TransformerLayer(nn.Module):
    """Pre-norm transformer encoder layer (self-attention + MLP)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = MultiHeadAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = FeedForward(dim)
        # Residual branches start at zero: the layer begins as the identity, so
        # stacked layers do not wash out a small object's tokens early in training.
        for proj in (self.attn.out, self.mlp[-1]):
            nn.init.zeros_(proj.weight)
            nn.init.zeros_(proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.attn.attend(h, h)
        return x + self.mlp(self.norm2(x))


class CrossAttentionLayer(nn.Module):
    """Pre-norm decoder layer: queries cross-attend over tokens, then an MLP."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm_q = nn.LayerNorm(dim)
        self.norm_kv = nn.LayerNorm(dim)
        self.attn = MultiHeadAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = FeedForward(dim)

    def forward(self, queries: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """queries [B, J, D], tokens [B, N, D]; returns updated queries and attention [B, J, N]."""
        y, attn = self.attn(self.norm_q(queries), self.norm_kv(tokens))
        queries = queries + y
        return queries + self.mlp(self.norm2(queries)), attn
