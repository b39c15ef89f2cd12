"""Spatio-temporal backbones (section III-A): per-frame tokens and a global token.

Every backbone maps a video [B, T, 3, H, W] to frame tokens [B, T, h*w, D]
(rows first) and a global representation [B, D].

- `tiny`: a convolutional patch embedding and joint space-time transformer
  layers with a class token, after UniFormer's "project to spatio-temporal
  tokens, then transformer layers". Small enough to train on a laptop CPU.
- `resnet50-tsm`: ResNet-50 with the temporal shift module in every residual
  branch (the paper's CNN setting), its 2048-channel map projected to D.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import TransformerLayer


def patch_stem(dim: int, patch: int, channels: int = 3) -> nn.Sequential:
    """Convolutional patch embedding with stride `patch`: 3x3 stride-2 convolutions
    (BatchNorm, GELU) and a final 2x2 stride-2 projection to `dim`.

    Early overlapping convolutions make a small transformer learn much faster
    from scratch than one linear patch projection (Xiao et al., 2021).
    """
    steps = patch.bit_length() - 1
    if patch < 2 or patch & (patch - 1):
        raise ValueError(f"patch size {patch} must be a power of two >= 2")
    widths = [max(8, dim // 2 ** (steps - 2 - i)) for i in range(steps - 1)]
    layers, cin = [], channels
    for w in widths:
        layers += [nn.Conv2d(cin, w, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(w), nn.GELU()]
        cin = w
    layers.append(nn.Conv2d(cin, dim, kernel_size=2, stride=2))
    return nn.Sequential(*layers)


class TinyBackbone(nn.Module):
    """Patch embedding + joint space-time transformer with a class token."""

    def __init__(self, frames: int, height: int, width: int, dim: int, depth: int, heads: int, patch: int):
        super().__init__()
        if height % patch or width % patch:
            raise ValueError(f"input {width}x{height} is not a multiple of the patch size {patch}")
        self.grid = (height // patch, width // patch)
        self.frames = frames
        # Each frame enters with its difference from the previous frame (zero
        # for the first): a motion cue that singles out the performer.
        self.patch_embed = patch_stem(dim, patch, channels=6)
        n = self.grid[0] * self.grid[1]
        self.pos_space = nn.Parameter(torch.zeros(1, 1, n, dim))
        self.pos_time = nn.Parameter(torch.zeros(1, frames, 1, dim))
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.trunc_normal_(self.pos_space, std=0.02)
        nn.init.trunc_normal_(self.pos_time, std=0.02)
        nn.init.trunc_normal_(self.cls, std=0.02)
        self.layers = nn.ModuleList(TransformerLayer(dim, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)

    def forward(self, video: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, t = video.shape[:2]
        diff = torch.cat([torch.zeros_like(video[:, :1]), video[:, 1:] - video[:, :-1]], dim=1)
        x = self.patch_embed(torch.cat([video, diff], dim=2).flatten(0, 1))  # [B*T, D, h, w]
        d = x.shape[1]
        x = x.flatten(2).transpose(1, 2).reshape(b, t, -1, d)
        x = x + self.pos_space + self.pos_time
        n = x.shape[2]
        x = torch.cat([self.cls.expand(b, -1, -1), x.reshape(b, t * n, d)], dim=1)
        for layer in self.layers:
            x = layer(x)
        x = self.norm(x)
        tokens = x[:, 1:]
        # Global representation: the class token plus the token-wise maximum (a
        # direct path to the few tokens that hold a small performer, which
        # speeds up learning from scratch).
        return tokens.reshape(b, t, n, d), x[:, 0] + tokens.amax(dim=1)


def temporal_shift(x: torch.Tensor, frames: int, fold_div: int = 8) -> torch.Tensor:
    """TSM: shifts 1/fold_div of the channels one frame back and 1/fold_div forward."""
    bt, c, h, w = x.shape
    x = x.reshape(bt // frames, frames, c, h, w)
    fold = c // fold_div
    zeros = torch.zeros_like(x[:, :1, :fold])
    back = torch.cat([x[:, 1:, :fold], zeros], dim=1)
    fwd = torch.cat([zeros, x[:, :-1, fold : 2 * fold]], dim=1)
    return torch.cat([back, fwd, x[:, :, 2 * fold :]], dim=2).reshape(bt, c, h, w)


class Bottleneck(nn.Module):
    """ResNet bottleneck block with a temporal shift on the residual branch."""

    expansion = 4

    def __init__(self, cin: int, width: int, stride: int, frames: int):
        super().__init__()
        cout = width * self.expansion
        self.frames = frames
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.down is None else self.down(x)
        y = self.relu(self.bn1(self.conv1(temporal_shift(x, self.frames))))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return self.relu(y + identity)


class ResNet50TSM(nn.Module):
    """ResNet-50 with temporal shift; tokens from the stride-32 map, projected to `dim`."""

    def __init__(self, frames: int, height: int, width: int, dim: int):
        super().__init__()
        if height % 32 or width % 32:
            raise ValueError(f"input {width}x{height} is not a multiple of 32 (ResNet-50 stride)")
        self.grid = (height // 32, width // 32)
        self.frames = frames
        self.stem = nn.Sequential(
            nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        blocks, cin = [], 64
        for width_, count, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
            for i in range(count):
                blocks.append(Bottleneck(cin, width_, stride if i == 0 else 1, frames))
                cin = width_ * Bottleneck.expansion
        self.blocks = nn.Sequential(*blocks)
        self.proj = nn.Conv2d(cin, dim, 1)
        self.norm = nn.LayerNorm(dim)
        self.global_proj = nn.Linear(dim, dim)

    def forward(self, video: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, t = video.shape[:2]
        x = self.proj(self.blocks(self.stem(video.flatten(0, 1))))  # [B*T, D, h, w]
        d = x.shape[1]
        x = self.norm(x.flatten(2).transpose(1, 2)).reshape(b, t, -1, d)
        return x, self.global_proj(x.mean(dim=(1, 2)))


def build_backbone(name: str, frames: int, height: int, width: int, dim: int, depth: int, heads: int, patch: int) -> nn.Module:
    """The backbone called `name` (`tiny` or `resnet50-tsm`)."""
    if name == "tiny":
        return TinyBackbone(frames, height, width, dim, depth, heads, patch)
    if name == "resnet50-tsm":
        return ResNet50TSM(frames, height, width, dim)
    raise ValueError(f"unknown backbone {name!r} (expected `tiny` or `resnet50-tsm`)")
