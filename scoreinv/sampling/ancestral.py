"""Denoise, then re-noise to the next level (DDIM/DDPM ancestral steps in σ; DDNM and DiffPIR's loop)."""
from __future__ import annotations

import math

import torch

from scoreinv.sampling.steps import UNGUIDED, gaussian_like, levels


def ancestral(denoiser, x: torch.Tensor, sigmas, *, guidance=UNGUIDED, generator=None, eta: float = 1.0,
              analytic: bool = False) -> torch.Tensor:
    """Ancestral sampling in the VE parametrisation (Song et al. 2021 DDIM, written in σ as in Karras et al. 2022).

    At each level x̂₀ = guidance.denoised(D, x, σᵢ), ε̂ = (x − x̂₀) / σᵢ and
    x ← x̂₀ + √(σᵢ₊₁² − s²) ε̂ + s z with s = η σᵢ₊₁ √(1 − σᵢ₊₁² / σᵢ²): η = 1 is the exact ancestral step of the
    forward process (DDPM), η = 0 the deterministic DDIM step. NFE = len(sigmas).

Substituting x̂₀ for x₀ drops the variance that x₀ still has given x_σ, so few levels give too narrow samples.
With ``analytic`` the step adds it back, (1 − c)² v z with c = √(σᵢ₊₁² − s²) / σᵢ, using the mean posterior
variance v = σᵢ² (1 − mean(ε̂²)) of Analytic-DPM (Bao et al. 2022), exact in expectation for any prior
(E‖x₀ − x̂₀‖² = σ² d − E‖x − x̂₀‖²) and computed per image from the residual, at no extra network call.

    Args:
        denoiser: D(x, σ).
        x: start (B, C, H, W) at noise level sigmas[0] (pure noise, or a warm start plus noise).
        sigmas: decreasing noise levels ([0, 1] units).
        guidance: measurement guidance (default: none).
        generator: source of all randomness.
        eta: share of fresh noise, in [0, 1].
        analytic: add the estimated variance of x₀ given x_σ to each step (see above).
    Returns:
        The guided denoised estimate at sigmas[-1], (B, C, H, W).
    """
    sigmas = levels(sigmas)
    for i, sigma in enumerate(sigmas):
        # Denoise (with the measurement)
        x = guidance.noisy(x, sigma, generator)
        estimate = guidance.denoised(denoiser, x, sigma)
        if i == len(sigmas) - 1:
            return estimate

        # Re-noise to the next level
        following = sigmas[i + 1]
        fresh = eta * following * math.sqrt(max(0.0, 1 - following ** 2 / sigma ** 2))
        direction = (x - estimate) / sigma
        kept = math.sqrt(following ** 2 - fresh ** 2)
        spread = fresh
        if analytic:
            variance = (sigma ** 2 * (1 - direction.pow(2).flatten(1).mean(1))).clamp_min(0)  # (B,)
            spread = (fresh ** 2 + (1 - kept / sigma) ** 2 * variance).sqrt().reshape(-1, *[1] * (x.ndim - 1))
        x = estimate + kept * direction + spread * gaussian_like(x, generator)
    raise AssertionError("unreachable")

