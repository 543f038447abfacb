"""Denoisers around a denoiser: counting its calls, and cycling it through the 8 flips and rotations."""
from __future__ import annotations

import torch
from torch import nn


class CountingDenoiser(nn.Module):
    """A denoiser that counts its calls (NFE) and ticks an optional progress bar (anything with ``update``)."""

    def __init__(self, denoiser: nn.Module, bar=None):
        super().__init__()
        self.denoiser, self.bar, self.calls = denoiser, bar, 0

    def forward(self, x: torch.Tensor, sigma) -> torch.Tensor:
        self.calls += 1
        if self.bar is not None:
            self.bar.update(1, sigma=float(sigma))
        return self.denoiser(x, sigma)


class DihedralCycle(nn.Module):
    """The ×8 geometric self-ensemble (Lim et al. 2017; Zhang et al. 2021, DPIR) spread over a sampler's steps.

    Call i denoises T_i x with T_i the (i mod 8)-th of the 8 flips and 90° rotations and maps the result back:
    T_i⁻¹ D(T_i x, σ). A prior trained with those augmentations is equivariant to them in law, so each call is
    as good as the plain one while successive calls make decorrelated errors that the iterations average out,
    at no extra network evaluation (docs/tuning.md has its effect on the benchmark).

    Args:
        denoiser: D(x, σ) on (B, C, H, W) images; non-square images are rotated too (H and W swap).
    """

    def __init__(self, denoiser: nn.Module):
        super().__init__()
        self.denoiser, self.calls = denoiser, 0

    def forward(self, x: torch.Tensor, sigma) -> torch.Tensor:
        turns, flip = self.calls % 4, self.calls % 8 >= 4
        self.calls += 1
        moved = torch.rot90(x.flip(-1) if flip else x, turns, dims=(-2, -1))
        back = torch.rot90(self.denoiser(moved, sigma), -turns, dims=(-2, -1))
        return back.flip(-1) if flip else back
