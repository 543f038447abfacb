"""Predictor-corrector sampling (Song et al. 2021, score SDE): reverse-diffusion predictor + Langevin corrector."""
from __future__ import annotations

import math

import torch

from scoreinv.sampling.steps import UNGUIDED, gaussian_like, guided_score, langevin_step, levels


def predictor_corrector(denoiser, x: torch.Tensor, sigmas, *, guidance=UNGUIDED, generator=None,
                        snr: float = 0.16, corrector_steps: int = 1) -> torch.Tensor:
    """PC sampler for the VE SDE (Song et al. 2021, Algorithms 2 and 4).

    Predictor: x ← x + (σᵢ² − σᵢ₊₁²) s(x, σᵢ) + √(σᵢ² − σᵢ₊₁²) z. Corrector at σᵢ₊₁: Langevin steps with the
    signal-to-noise rule α = 2 (r ‖z‖ / ‖s‖)² per sample, x ← x + α s + √(2α) z. The guided
    score is (x̂₀ − x) / σ² from the guidance. NFE = (len(sigmas) − 1)(1 + corrector_steps) + 1.

    Args:
        denoiser: D(x, σ).
        x: start (B, C, H, W) at noise level sigmas[0].
        sigmas: decreasing noise levels ([0, 1] units).
        guidance: measurement guidance (default: none).
        generator: source of all randomness.
        snr: the corrector's signal-to-noise ratio r.
        corrector_steps: Langevin steps per level.
    Returns:
        The guided denoised estimate at sigmas[-1], (B, C, H, W).
    """
    sigmas = levels(sigmas)
    for i, sigma in enumerate(sigmas):
        # Corrector: Langevin at this level
        for _ in range(corrector_steps if i > 0 else 0):
            x = guidance.noisy(x, sigma, generator)
            _, score = guided_score(denoiser, guidance, x, sigma)
            alpha = snr_step(score, snr)
            x = langevin_step(x, score, alpha, generator)

        # Predictor: reverse diffusion to the next level, or the final denoising
        x = guidance.noisy(x, sigma, generator)
        estimate, score = guided_score(denoiser, guidance, x, sigma)
        if i == len(sigmas) - 1:
            return estimate
        drop = sigma ** 2 - sigmas[i + 1] ** 2
        x = x + drop * score + math.sqrt(drop) * gaussian_like(x, generator)
    raise AssertionError("unreachable")


def snr_step(score: torch.Tensor, snr: float) -> torch.Tensor:
    """α = 2 (r ‖z‖ / ‖s‖)² per sample with ‖z‖ = √dim (the expected noise norm), shape (B, 1, 1, 1)."""
    dim = score[0].numel()
    score_norm = score.flatten(1).norm(dim=1).clamp_min(1e-12)
    return (2 * (snr * math.sqrt(dim) / score_norm) ** 2).reshape(-1, *[1] * (score.ndim - 1))
