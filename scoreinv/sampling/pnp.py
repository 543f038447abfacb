"""Plug-and-play half-quadratic splitting with a decreasing noise level (Zhang et al. 2021, DPIR; DiffPIR's loop),
in both orders of its two steps."""
from __future__ import annotations

import torch

from scoreinv.sampling.steps import UNGUIDED, gaussian_like, levels


def plug_and_play(denoiser, x: torch.Tensor, sigmas, *, guidance=UNGUIDED, generator=None,
                  eta: float = 0.0) -> torch.Tensor:
    """Alternate the prior's denoiser and the measurement's proximal step at decreasing σ (DPIR, Zhang et al. 2021,
    in DiffPIR's order: denoise, then the data step; :func:`half_quadratic_splitting` is DPIR's own order).

    At each level x̂₀ = guidance.denoised(D, x, σᵢ) (denoise, then the data-consistency step with weight r²(σᵢ) / σ_y²
    of :class:`scoreinv.sampling.guidance.DataConsistency`), and the next iterate is x ← x̂₀ + η σᵢ₊₁ z. With η = 0 (the
    default) this is deterministic HQS: σᵢ acts as the prior's regularisation strength and the result is a
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


def half_quadratic_splitting(denoiser, x: torch.Tensor, sigmas, *, guidance, generator=None,
                             eta: float = 0.0) -> torch.Tensor:
    """DPIR's own order of the two steps (Zhang et al. 2021): the data step first, the denoiser last.

    At each level z = guidance.consistent(x, σᵢ) (the data step of :class:`scoreinv.sampling.guidance.PlugAndPlay`,
    weight λ σ_y² / σᵢ² on the prior's side) and x̂₀ = D(z, σᵢ); the next iterate is x ← x̂₀ + η σᵢ₊₁ n. Ending on
    the denoiser removes the noise the last data step lets through weakly measured components (a motion blur's
    attenuated frequencies), which :func:`plug_and_play`'s order, ending on the data step, keeps. For a Gaussian
    prior its fixed point as σ → 0 is argmin ‖y − A x‖² / (2σ_y²) + λ R(x), R the prior's negative log density:
    the posterior mode when λ = 1. With σ_y = 0 the result is projected onto {A x = y}. NFE = len(sigmas).

    Args:
        denoiser: D(x, σ).
        x: start (B, C, H, W), e.g. a warm start (optionally plus σ₀ noise).
        sigmas: decreasing noise levels ([0, 1] units).
        guidance: a :class:`~scoreinv.sampling.guidance.PlugAndPlay` (anything with ``consistent`` and ``kept``).
        generator: source of all randomness (used only when eta > 0).
        eta: share of fresh noise re-injected at each level, in [0, 1].
    Returns:
        The last denoised estimate (B, C, H, W), consistent with noiseless measurements.
    """
    sigmas = levels(sigmas)
    for i, sigma in enumerate(sigmas):
        # Data step, then denoise
        estimate = denoiser(guidance.consistent(x, sigma), sigma)
        if i == len(sigmas) - 1:
            return guidance.kept(estimate)

        # Optionally re-noise to the next level
        x = estimate + eta * sigmas[i + 1] * gaussian_like(x, generator) if eta > 0 else estimate
    raise AssertionError("unreachable")
