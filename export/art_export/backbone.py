"""Spatio-temporal backbones (section III-A): per-frame tokens and a global token.

Every backbone maps a video [B, T, 3, H, W] to frame tokens [B, T, h*w, D]
(rows first) and a global representation [B, D].

- `tiny`: a small ResNet with the temporal shift module (the paper's CNN
  setting scaled down) on each frame and its difference from the previous
  frame, stride 16. Trains from scratch on a 2-core CPU in minutes, and its
  non-overlapping stem (kernel = stride) runs well on every backend. Its
  stride is 4, or 8 for fewer 3x3 convolutions at full resolution (which
  tract runs through a single-threaded im2col) at some cost in accuracy.
  Its frame tokens come from the stride-16 map, or (`token_stride` 8, stem
  4) from the stride-8 map with the stride-16 map added on top, so that
  region queries can single out details a few pixels wide.
- `resnet50-tsm`: ResNet-50 with the temporal shift module in every residual
  branch (the paper's CNN setting), its 2048-channel map projected to D.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ShiftBlock(nn.Module):
    """Basic residual block (two 3x3 convolutions) with a temporal shift on the branch."""

    def __init__(self, cin: int, cout: int, stride: int, frames: int):
        super().__init__()
        self.frames = frames
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.down is None else self.down(x)
        y = F.relu(self.bn1(self.conv1(temporal_shift(x, self.frames))))
        return F.relu(self.bn2(self.conv2(y)) + identity)


class TinyBackbone(nn.Module):
    """TSM ResNet of three basic blocks after a `stem` x `stem` stride-`stem` stem; stride 16.

    With stem 4 the blocks run at strides 4, 8 and 16; with stem 8 at 8, 16 and 16.
    Frame tokens are on the stride-`token_stride` grid: 16, or 8 (stem 4 only),
    where each token is the second block's feature plus its stride-16 cell's.

    Each frame enters with its difference from the previous frame (zero for
    the first): a motion cue that singles out the performer. The global
    representation keeps the order of frames: per-frame mean and max pooled
    features, concatenated over time and projected to `dim`.
    """

    stride = 16

    stems = (4, 8)
    stem_kinds = ("patch", "conv")
    token_strides = (16, 8)

    def __init__(
        self,
        frames: int,
        height: int,
        width: int,
        dim: int,
        channels: int = 32,
        stem: int = 4,
        stem_kind: str = "patch",
        token_stride: int = 16,
    ):
        super().__init__()
        if height % self.stride or width % self.stride:
            raise ValueError(f"input {width}x{height} is not a multiple of the backbone stride {self.stride}")
        if stem not in self.stems:
            raise ValueError(f"tiny backbone stem {stem} must be one of {self.stems}")
        if stem_kind not in self.stem_kinds:
            raise ValueError(f"tiny backbone stem kind {stem_kind!r} must be one of {self.stem_kinds}")
        if token_stride not in self.token_strides:
            raise ValueError(f"tiny backbone token stride {token_stride} must be one of {self.token_strides}")
        if token_stride == 8 and stem != 4:
            raise ValueError("tiny backbone token stride 8 needs stem 4 (with stem 8 no block runs at stride 8)")
        self.grid = (height // token_stride, width // token_stride)
        self.frames = frames
        c = channels
        self.stem = _stem(6, c, stem, stem_kind)
        last = self.stride // (2 * stem)
        self.blocks = nn.Sequential(
            ShiftBlock(c, c, 1, frames), ShiftBlock(c, 2 * c, 2, frames), ShiftBlock(2 * c, 4 * c, last, frames)
        )
        self.proj = nn.Conv2d(4 * c, dim, 1)
        self.fine = nn.Conv2d(2 * c, dim, 1) if token_stride == 8 else None
        self.temporal = nn.Sequential(nn.Linear(2 * frames * dim, dim), nn.GELU())

    def forward(self, video: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, t = video.shape[:2]
        diff = torch.cat([torch.zeros_like(video[:, :1]), video[:, 1:] - video[:, :-1]], dim=1)
        mid = self.blocks[1](self.blocks[0](self.stem(torch.cat([video, diff], dim=2).flatten(0, 1))))
        x = self.proj(self.blocks[2](mid))  # [B*T, D, h, w]
        flat = x.flatten(2)  # [B*T, D, N]
        pooled = torch.cat([flat.mean(dim=2), flat.amax(dim=2)], dim=1).reshape(b, -1)
        if self.fine is not None:
            x = self.fine(mid) + _upsample2(x)
        tokens = x.flatten(2).transpose(1, 2).reshape(b, t, -1, x.shape[1])
        return tokens, self.temporal(pooled)


def _upsample2(x: torch.Tensor) -> torch.Tensor:
    """Nearest 2x upsampling of [N, C, h, w] by expand and reshape (no Resize node in the graph)."""
    n, c, h, w = x.shape
    return x[:, :, :, None, :, None].expand(n, c, h, 2, w, 2).reshape(n, c, 2 * h, 2 * w)


def _stem(cin: int, cout: int, stride: int, kind: str) -> nn.Sequential:
    """`patch`: one `stride` x `stride` convolution with stride `stride` (kernel =
    stride). `conv`: log2(`stride`) overlapping 3x3 stride-2 convolutions, the
    first ones at half the width: every output sees its neighbourhood at full
    resolution, so a detail a few pixels wide reads the same wherever it falls
    on the stride grid."""
    if kind == "patch":
        return nn.Sequential(nn.Conv2d(cin, cout, stride, stride=stride, bias=False), nn.BatchNorm2d(cout), nn.ReLU())
    layers: list[nn.Module] = []
    steps = stride.bit_length() - 1
    for i in range(steps):
        width = cout if i == steps - 1 else cout // 2
        layers += [nn.Conv2d(cin, width, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
        cin = width
    return nn.Sequential(*layers)


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


def build_backbone(
    name: str,
    frames: int,
    height: int,
    width: int,
    dim: int,
    channels: int,
    stem: int,
    stem_kind: str = "patch",
    token_stride: int = 16,
) -> nn.Module:
    """The backbone called `name` (`tiny` or `resnet50-tsm`); `channels`, `stem`, `stem_kind` and
    `token_stride` are the tiny one's base width, stem stride, stem form and token grid stride."""
    if name == "tiny":
        return TinyBackbone(frames, height, width, dim, channels, stem, stem_kind, token_stride)
    if name == "resnet50-tsm":
        if token_stride != 16:
            raise ValueError(f"token stride {token_stride} is for the tiny backbone only")
        return ResNet50TSM(frames, height, width, dim)
    raise ValueError(f"unknown backbone {name!r} (expected `tiny` or `resnet50-tsm`)")
