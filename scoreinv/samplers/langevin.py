"""Annealed Langevin dynamics (Song & Ermon 2019, NCSN; step size by NCSNv2's technique 4)."""
from __future__ import annotations

from .steps import UNGUIDED, guided_score, langevin_step, levels


def annealed_langevin(denoiser, x, sigmas, *, guidance=UNGUIDED, generator=None, steps_per_level: int = 5,
                      eps: float | None = None):
    """NCSN sampling: T Langevin steps per level with α_i = ε σᵢ² / σ_L², then a final denoising step.

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
    """Technique 4 of NCSNv2: the ε for which T steps leave the variance of a level at its target σᵢ².

    For a Gaussian target the variance after T steps started from γ² σᵢ² is
    (1 − ε/σ_L²)^{2T} (γ² − 2ε / (σ_L² − σ_L² (1 − ε/σ_L²)²)) + 2ε / (σ_L² − σ_L² (1 − ε/σ_L²)²) in units of σᵢ²;
    ε is solved (bisection) so that this equals 1.
    """
    s2 = sigma_last ** 2

    def variance_ratio(eps: float) -> float:
        shrink = 1 - eps / s2
        base = 2 * eps / (s2 - s2 * shrink ** 2)
        return shrink ** (2 * steps) * (gamma ** 2 - base) + base

    lo, hi = 1e-12 * s2, 0.999 * s2
    for _ in range(200):
        mid = (lo * hi) ** 0.5
        lo, hi = (mid, hi) if variance_ratio(mid) > 1 else (lo, mid)
    return (lo * hi) ** 0.5
