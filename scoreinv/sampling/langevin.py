"""Annealed Langevin dynamics (Song & Ermon 2019, NCSN; step size by NCSNv2's technique 4)."""
from __future__ import annotations

import math

import torch

from scoreinv.sampling.steps import UNGUIDED, guided_score, langevin_step, levels


def annealed_langevin(denoiser, x, sigmas, *, guidance=UNGUIDED, generator=None, steps_per_level: int = 5,
                      eps: float | None = None):
    """NCSN sampling: from the second level on, T Langevin steps x ← x + αᵢ s + √(2αᵢ) z per level, then a final
    denoising step.

    The start is already at the first level's noise, so Langevin runs from the second. Each level's step is
    NCSNv2's technique 4 for that level's own ratio γᵢ = σᵢ₋₁ / σᵢ, αᵢ = tᵢ σᵢ² (so any schedule, geometric or
    not, gets the step that brings the variance from γᵢ² σᵢ² closest to σᵢ² in T steps); with ``eps`` every level
    uses NCSNv2's single form αᵢ = ε σᵢ² / σ_L².

    Args:
        denoiser: D(x, σ).
        x: start (B, C, H, W) at noise level sigmas[0].
        sigmas: decreasing noise levels σ_1 > … > σ_L ([0, 1] units).
        guidance: measurement guidance (default: none).
        generator: source of all randomness.
        steps_per_level: T ≥ 1.
        eps: ε ([0, 1] units squared); default None: each level's step from :func:`ncsnv2_step_size`.
    Returns:
        The guided denoised estimate at σ_L (NCSNv2's final denoising), (B, C, H, W). NFE = (L − 1) T + 1.
    """
    sigmas = levels(sigmas)
    last = sigmas[-1]
    for previous, sigma in zip(sigmas, sigmas[1:]):
        # Step size of this level
        if eps is None:
            alpha = ncsnv2_step_size(steps_per_level, gamma=previous / sigma, sigma_last=sigma)
        else:
            alpha = eps * sigma ** 2 / last ** 2

        # Langevin steps at this level
        for _ in range(steps_per_level):
            x = guidance.noisy(x, sigma, generator)
            _, score = guided_score(denoiser, guidance, x, sigma)
            x = langevin_step(x, score, alpha, generator)

    # Final denoising
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
