"""Plug-and-play half-quadratic splitting with a decreasing noise level (Zhang et al. 2021, DPIR; DiffPIR's loop)."""
from __future__ import annotations

import torch

from scoreinv.sampling.steps import UNGUIDED, gaussian_like, levels


def plug_and_play(denoiser, x: torch.Tensor, sigmas, *, guidance=UNGUIDED, generator=None,
                  eta: float = 0.0) -> torch.Tensor:
    """Alternate the prior's denoiser and the measurement's proximal step at decreasing σ (DPIR, Zhang et al. 2021).

    At each level x̂₀ = guidance.denoised(D, x, σᵢ) (denoise, then the data-consistency step with weight r²(σᵢ) / σ_y²
    of :class:`scoreinv.sampling.guidance.DataConsistency`), and the next iterate is x ← x̂₀ + η σᵢ₊₁ z. With η = 0 (the
    default) this is DPIR's deterministic HQS: σᵢ acts as the prior's regularisation strength and the result is a
    point estimate near the posterior mode; η = 1 re-noises fully to the next level (DiffPIR with ζ = 1), which
    gives posterior samples. NFE = len(sigmas).

    Args:
        denoiser: D(x, σ).
        x: start (B, C, H, W), e.g. a warm start (optionally plus σ₀ noise).
        sigmas: decreasing noise levels ([0, 1] units).
        guidance: measurement guidance (default: none).
        generator: source of all randomness (used only when eta > 0).
        eta: share of fresh noise re-injected at each level, in [0, 1].
    Returns:
        The guided denoised estimate at sigmas[-1], (B, C, H, W).
    """
    sigmas = levels(sigmas)
    for i, sigma in enumerate(sigmas):
        # Denoise (with the measurement)
        estimate = guidance.denoised(denoiser, x, sigma)
        if i == len(sigmas) - 1:
            return estimate

        # Optionally re-noise to the next level
        x = estimate + eta * sigmas[i + 1] * gaussian_like(x, generator) if eta > 0 else estimate
    raise AssertionError("unreachable")
