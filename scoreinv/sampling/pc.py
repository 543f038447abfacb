"""Predictor-corrector sampling (Song et al. 2021, score SDE): a reverse-process predictor + Langevin corrector."""
from __future__ import annotations

import math

import torch

from scoreinv.sampling.steps import UNGUIDED, gaussian_like, guided_score, langevin_step, levels

PREDICTORS = ("ancestral", "reverse-diffusion")


def predictor_corrector(denoiser, x: torch.Tensor, sigmas, *, guidance=UNGUIDED, generator=None,
                        snr: float = 0.16, corrector_steps: int = 1, predictor: str = "ancestral") -> torch.Tensor:
    """PC sampler for the VE SDE (Song et al. 2021, Algorithms 2 and 4; the ancestral predictor of its eq. 47).

    Predictor from σᵢ to σᵢ₊₁: x ← x + (σᵢ² − σᵢ₊₁²) s(x, σᵢ) + √v z. The ancestral predictor's
    v = σᵢ₊₁² (σᵢ² − σᵢ₊₁²) / σᵢ² leaves noise of exactly σᵢ₊₁ where the prior is sharp, at any spacing of the
    levels; reverse diffusion's v = σᵢ² − σᵢ₊₁² (Euler–Maruyama) leaves noise near σᵢ when σᵢ₊₁ ≪ σᵢ, so it needs
    hundreds of levels. Corrector at σᵢ₊₁: Langevin steps with the signal-to-noise rule α = 2 (r ‖z‖ / ‖s‖)² per
    sample, x ← x + α s + √(2α) z. The guided score is (x̂₀ − x) / σ² from the guidance.
    NFE = (len(sigmas) − 1)(1 + corrector_steps) + 1.

    Args:
        denoiser: D(x, σ).
        x: start (B, C, H, W) at noise level sigmas[0].
        sigmas: decreasing noise levels ([0, 1] units).
        guidance: measurement guidance (default: none).
        generator: source of all randomness.
        snr: the corrector's signal-to-noise ratio r > 0 (Song et al. 2021: 0.16).
        corrector_steps: Langevin steps per level (≥ 0).
        predictor: "ancestral" (default) or "reverse-diffusion".
    Returns:
        The guided denoised estimate at sigmas[-1], (B, C, H, W).
    """
    if predictor not in PREDICTORS:
        raise ValueError(f"predictor must be one of {', '.join(PREDICTORS)}, got {predictor!r}")
    sigmas = levels(sigmas)
    for i, sigma in enumerate(sigmas):
        # Corrector: Langevin at this level
        for _ in range(corrector_steps if i > 0 else 0):
            x = guidance.noisy(x, sigma, generator)
            _, score = guided_score(denoiser, guidance, x, sigma)
            alpha = snr_step(score, snr)
            x = langevin_step(x, score, alpha, generator)

        # Predictor: a reverse-process step to the next level, or the final denoising
        x = guidance.noisy(x, sigma, generator)
        estimate, score = guided_score(denoiser, guidance, x, sigma)
        if i == len(sigmas) - 1:
            return estimate
        drop = sigma ** 2 - sigmas[i + 1] ** 2
        variance = drop * sigmas[i + 1] ** 2 / sigma ** 2 if predictor == "ancestral" else drop
        x = x + drop * score + math.sqrt(variance) * gaussian_like(x, generator)
    raise AssertionError("unreachable")


def snr_step(score: torch.Tensor, snr: float) -> torch.Tensor:
    """α = 2 (r ‖z‖ / ‖s‖)² per sample with ‖z‖ = √dim (the expected noise norm), shape (B, 1, 1, 1)."""
    dim = score[0].numel()
    score_norm = score.flatten(1).norm(dim=1).clamp_min(1e-12)
    return (2 * (snr * math.sqrt(dim) / score_norm) ** 2).reshape(-1, *[1] * (score.ndim - 1))
