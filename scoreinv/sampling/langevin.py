"""Annealed Langevin dynamics (Song & Ermon 2019, NCSN; step size by NCSNv2's technique 4)."""
from __future__ import annotations

import math

import torch

from scoreinv.sampling.steps import UNGUIDED, guided_score, langevin_step, levels


def annealed_langevin(denoiser, x, sigmas, *, guidance=UNGUIDED, generator=None, steps_per_level: int = 5,
                      eps: float | None = None):
    """NCSN sampling: T Langevin steps x ← x + αᵢ s + √(2αᵢ) z per level with αᵢ = ε σᵢ² / σ_L² (NCSNv2's
    form), then a final denoising step.

    Args:
        denoiser: D(x, σ).
        x: start (B, C, H, W) at noise level sigmas[0].
        sigmas: decreasing noise levels σ_1 > … > σ_L ([0, 1] units).
        guidance: measurement guidance (default: none).
        generator: source of all randomness.
        steps_per_level: T.
        eps: ε; default from :func:`ncsnv2_step_size` for these levels and T.
    Returns:
        The guided denoised estimate at σ_L (NCSNv2's final denoising), (B, C, H, W). NFE = L T + 1.
    """
    sigmas = levels(sigmas)
    last = sigmas[-1]
    if eps is None:
        gamma = sigmas[0] / sigmas[1] if len(sigmas) > 1 else 1.0
        eps = ncsnv2_step_size(steps_per_level, gamma=gamma, sigma_last=last)
    for sigma in sigmas:
        alpha = eps * sigma ** 2 / last ** 2
        for _ in range(steps_per_level):
            x = guidance.noisy(x, sigma, generator)
            _, score = guided_score(denoiser, guidance, x, sigma)
            x = langevin_step(x, score, alpha, generator)
    x = guidance.noisy(x, last, generator)
    return guidance.denoised(denoiser, x, last)


def ncsnv2_step_size(steps: int, *, gamma: float, sigma_last: float) -> float:
    """Technique 4 of NCSNv2: the ε that brings the variance of a level, after T steps started from the
    previous level, maximally close to its target σᵢ².

    For a Gaussian target and x ← x + α s + √(2α) z with α = ε σᵢ² / σ_L², the variance after T steps
    started from γ² σᵢ² is, in units of σᵢ² and with t = ε / σ_L² and b = 2t / (1 − (1 − t)²),
    (1 − t)^{2T} (γ² − b) + b. We return the ε minimising |that − 1| over a fine logarithmic grid of t.

    Args:
        steps: T, Langevin steps per level.
        gamma: γ = σᵢ₋₁ / σᵢ, ratio of consecutive levels.
        sigma_last: σ_L, the last level ([0, 1] units).
    """
    t = torch.logspace(-6, math.log10(0.99), 4000, dtype=torch.float64)
    return float(t[ncsnv2_variance_ratio(t, steps=steps, gamma=gamma).sub(1).abs().argmin()]) * sigma_last ** 2


def ncsnv2_variance_ratio(t: torch.Tensor, *, steps: int, gamma: float) -> torch.Tensor:
    """(1 − t)^{2T} (γ² − b) + b with b = 2t / (1 − (1 − t)²): variance after T steps / σᵢ² (see above)."""
    b = 2 * t / (1 - (1 - t) ** 2)
    return (1 - t) ** (2 * steps) * (gamma ** 2 - b) + b
