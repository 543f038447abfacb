"""The score network: a small, fully convolutional, noise-conditional U-Net.

No layer is tied to one resolution: a network trained on patches runs on any H x W. Sizes that are not
multiples of the down-sampling factor are padded (reflect) and cropped back inside ``forward``.
The preconditioning that turns this network into a denoiser lives in :mod:`scoreinv.model.denoiser`.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class NoiseEmbedding(nn.Module):
    """Sinusoidal features of the scalar noise input c_noise, then a two-layer MLP (as in EDM / DDPM)."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, c_noise: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        freqs = torch.exp(-math.log(1e4) * torch.arange(half, device=c_noise.device, dtype=torch.float32) / half)
        angles = (c_noise.float()[:, None] * 1e3) * freqs[None]
        features = torch.cat([angles.cos(), angles.sin()], dim=1).to(c_noise.dtype)
        return self.mlp(features)


class ResBlock(nn.Module):
    """GroupNorm - SiLU - conv, twice, with the noise embedding as a FiLM scale and shift in between."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(min(8, c_in // 4), c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.film = nn.Linear(emb_dim, 2 * c_out)
        self.norm2 = nn.GroupNorm(min(8, c_out // 4), c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(emb)[:, :, None, None].chunk(2, dim=1)
        h = F.silu(self.norm2(h) * (1 + scale) + shift)
        return self.skip(x) + self.conv2(h)


class UNet(nn.Module):
    """Noise-conditional U-Net F(x, c_noise) in the style of DDPM / EDM, without attention.

    Args:
        channels: image channels in and out (1 grey, 3 colour).
        base: feature channels at full resolution.
        mults: channel multiplier per level; the image is halved ``len(mults) - 1`` times.
        blocks: residual blocks per level on each side.
        emb_dim: width of the noise embedding.
        unshuffle: pixel-unshuffle factor of the stem (1: none). With 2 the U-Net runs at half the resolution on
            4 C channels and a pixel shuffle restores the image (Shi et al. 2016), a quarter of the FLOPs a call.
    """

    def __init__(self, *, channels: int = 1, base: int = 32, mults: tuple = (1, 2, 4), blocks: int = 2,
                 emb_dim: int = 128, unshuffle: int = 1):
        super().__init__()
        self.config = dict(channels=channels, base=base, mults=tuple(mults), blocks=blocks, emb_dim=emb_dim)
        if unshuffle != 1:
            self.config["unshuffle"] = unshuffle  # absent from the cards of priors without the stem
        self.unshuffle = unshuffle
        self.factor = unshuffle * 2 ** (len(mults) - 1)
        self.embed = NoiseEmbedding(emb_dim)
        self.stem = nn.Conv2d(channels * unshuffle ** 2, base, 3, padding=1)
        widths = [base * m for m in mults]

        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        skips, c = [], base
        for level, w in enumerate(widths):
            level_blocks = nn.ModuleList()
            for _ in range(blocks):
                level_blocks.append(ResBlock(c, w, emb_dim))
                c = w
            self.down.append(level_blocks)
            skips.append(c)
            if level < len(widths) - 1:
                self.downsample.append(nn.Conv2d(c, c, 3, stride=2, padding=1))

        self.middle = nn.ModuleList([ResBlock(c, c, emb_dim), ResBlock(c, c, emb_dim)])

        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for level in reversed(range(len(widths))):
            w = widths[level]
            level_blocks = nn.ModuleList()
            for i in range(blocks):
                level_blocks.append(ResBlock(c + (skips[level] if i == 0 else 0), w, emb_dim))
                c = w
            self.up.append(level_blocks)
            if level > 0:
                self.upsample.append(nn.Conv2d(c, widths[level - 1], 3, padding=1))
                c = widths[level - 1]

        self.head_norm = nn.GroupNorm(min(8, c // 4), c)
        self.head = nn.Conv2d(c, channels * unshuffle ** 2, 3, padding=1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        return self.body(_pad_to_multiple(x, self.factor), c_noise)[..., :height, :width]

    def body(self, x: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        """The network on (B, C, H, W) with H and W multiples of ``factor`` (``forward`` pads and crops around it)."""
        emb = self.embed(c_noise)

        # Encoder
        if self.unshuffle != 1:
            x = F.pixel_unshuffle(x, self.unshuffle)
        h = self.stem(x)
        skips = []
        for level, level_blocks in enumerate(self.down):
            for block in level_blocks:
                h = block(h, emb)
            skips.append(h)
            if level < len(self.downsample):
                h = self.downsample[level](h)

        # Bottleneck
        for block in self.middle:
            h = block(h, emb)

        # Decoder
        for i, level_blocks in enumerate(self.up):
            h = torch.cat([h, skips.pop()], dim=1)
            for block in level_blocks:
                h = block(h, emb)
            if i < len(self.upsample):
                h = self.upsample[i](F.interpolate(h, scale_factor=2.0, mode="nearest"))

        out = self.head(F.silu(self.head_norm(h)))
        return F.pixel_shuffle(out, self.unshuffle) if self.unshuffle != 1 else out


def _pad_to_multiple(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Pad the bottom and right edges so that H and W are multiples of ``factor`` (reflect where possible)."""
    pad_h = -x.shape[-2] % factor
    pad_w = -x.shape[-1] % factor
    if pad_h == 0 and pad_w == 0:
        return x
    mode = "reflect" if pad_h < x.shape[-2] and pad_w < x.shape[-1] else "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
