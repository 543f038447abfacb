"""The probability-flow ODE in σ (Song et al. 2021), integrated with Heun's method (Karras et al. 2022)."""
from __future__ import annotations

from scoreinv.sampling.steps import UNGUIDED, levels


def probability_flow(denoiser, x, sigmas, *, guidance=UNGUIDED, generator=None):
    """Deterministic sampling along dx/dσ = −σ ∇log p_σ(x) = (x − x̂₀(x, σ)) / σ with Heun steps.

    Args:
        denoiser: D(x, σ).
        x: start (B, C, H, W) at noise level sigmas[0].
        sigmas: decreasing noise levels ([0, 1] units).
        guidance: measurement guidance (default: none).
        generator: unused unless the guidance draws noise.
    Returns:
        The guided denoised estimate at sigmas[-1], (B, C, H, W). NFE = 2 (len(sigmas) − 1) + 1.
    """
    sigmas = levels(sigmas)

    def slope(x, sigma):
        x = guidance.noisy(x, sigma, generator)
        return x, (x - guidance.denoised(denoiser, x, sigma)) / sigma

    for sigma, following in zip(sigmas, sigmas[1:]):
        x, d = slope(x, sigma)
        euler = x + (following - sigma) * d
        _, d_next = slope(euler, following)
        x = x + (following - sigma) * 0.5 * (d + d_next)
    x = guidance.noisy(x, sigmas[-1], generator)
    return guidance.denoised(denoiser, x, sigmas[-1])
