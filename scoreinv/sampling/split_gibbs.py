"""Split Gibbs sampling with a diffusion prior (PnP-DM, Wu, Sun, Chen, Zhang, Yue & Bouman 2024)."""
from __future__ import annotations

import torch

from scoreinv.sampling.ancestral import ancestral
from scoreinv.sampling.steps import levels


def split_gibbs(denoiser, x: torch.Tensor, sigmas, *, guidance, generator=None, inner: int = 4,
                floor: float | None = None) -> torch.Tensor:
    """Alternate an exact likelihood draw and a diffusion-prior draw at a decreasing coupling ρ (PnP-DM).

    The chain targets π(x, z) ∝ p_θ(x) N(z; x, ρ² I) p(y | z): given x, the likelihood step draws
    z ~ p(z | x, y) (``guidance.draw``, Gaussian, exact); given z, the prior step draws x ~ p_θ(x | z), the
    posterior of a clean image seen through noise ρ, by running the prior's reverse process (DDPM ancestral steps)
    from σ = ρ at z down to the schedule's last level. The coupling ρ follows ``sigmas``: large ρ first, so that the
    chain moves far (structure), then small, where π's x-marginal approaches the posterior p(x | y).
    NFE = inner · len(sigmas).

    Args:
        denoiser: D(x, σ).
        x: start (B, C, H, W), e.g. a warm start plus ρ₀ noise.
        sigmas: the couplings ρ, decreasing, [0, 1] units.
        guidance: a :class:`~scoreinv.sampling.guidance.LikelihoodDraw`.
        generator: source of all randomness.
        inner: reverse-process levels of each prior step (≥ 1).
        floor: the noise level each prior step ends at, [0, 1] units, below the last ρ (None: a quarter of the last ρ).
    Returns:
        The last prior draw (B, C, H, W), projected onto {A x = y} when σ_y = 0.
    """
    rhos = levels(sigmas)
    if inner < 1:
        raise ValueError(f"inner must be >= 1, got {inner}")
    floor = rhos[-1] / 4 if floor is None else float(floor)
    if not 0 < floor < rhos[-1]:
        raise ValueError(f"floor must be in (0, {rhos[-1]:g}), got {floor}")
    for rho in rhos:
        # Likelihood step: z ~ p(z | x, y)
        z = guidance.draw(x, rho, generator)

        # Prior step: x ~ p(x | z), z = x + ρ n, by the reverse process from ρ
        x = prior_draw(denoiser, z, rho, floor, inner=inner, generator=generator)

    # Noiseless measurements kept exactly
    return guidance.kept(x)


def prior_draw(denoiser, z: torch.Tensor, rho: float, floor: float, *, inner: int, generator=None) -> torch.Tensor:
    """A draw from p_θ(x | z) for z = x + ρ n: ``inner`` DDPM ancestral levels geometric from ρ to ``floor``,
    each with Analytic-DPM's variance (:func:`~scoreinv.sampling.ancestral.ancestral`)
    (one level, the denoiser's mean, when inner = 1), ending on the denoised estimate.

    Args:
        denoiser: D(x, σ).
        z: the noisy image (B, C, H, W) at level ρ.
        rho: its noise level, [0, 1] units.
        floor: the last level, [0, 1] units.
        inner: levels (≥ 1).
        generator: source of all randomness.
    """
    steps = [rho] if inner == 1 else [rho * (floor / rho) ** (i / (inner - 1)) for i in range(inner)]
    return ancestral(denoiser, z, steps, generator=generator, eta=1.0, analytic=True)
