"""Measurement guidance: how a sampler is pulled toward consistency with y = A x + n.

Every sampler in :mod:`scoreinv.sampling` calls a guidance through two hooks only:

* ``denoised(denoiser, x, sigma)``: the guided estimate x̂₀ ≈ E[x₀ | x_σ, y]; the guided score is
  ``(x̂₀ − x) / σ²``. Unguided, this is ``D(x, σ)``.
* ``noisy(x, sigma, generator)``: an adjustment of the noisy iterate itself (only the λ-mixing of Song et al.
  2022 uses it); unguided, the identity.

The noise variance r² of x₀ given x_σ, shared by several rules below, is taken from a Gaussian prior with the
training data's variance σ_d²: r²(σ) = σ² σ_d² / (σ² + σ_d²) (exact when the prior is that Gaussian).
"""
from __future__ import annotations

import math

import torch


class Guidance:
    """No measurement: unconditional sampling."""

    def denoised(self, denoiser, x: torch.Tensor, sigma: float) -> torch.Tensor:
        return denoiser(x, sigma)

    def noisy(self, x: torch.Tensor, sigma: float, generator: torch.Generator | None) -> torch.Tensor:
        return x


class _Measured(Guidance):
    """Shared state of the guidances: the operator, the measurement, its noise level and the image shape."""

    def __init__(self, operator, y: torch.Tensor, *, sigma_y: float, x_shape):
        if not sigma_y >= 0:
            raise ValueError(f"sigma_y must be >= 0, got {sigma_y}")
        self.operator, self.y, self.sigma_y = operator, y, float(sigma_y)
        self.x_shape = tuple(x_shape)
        self._norm = None

    @property
    def norm(self) -> float:
        """‖A‖₂ by power iteration, computed once."""
        if self._norm is None:
            self._norm = float(self.operator.norm(self.x_shape))
        return self._norm


class _DataStep(_Measured):
    """The data-consistency step shared by :class:`DataConsistency` and :class:`PlugAndPlay`:
    x̂₀ = argmin_z ‖y − A z‖² / σ_y² + ‖z − D(x, σ)‖² / r²(σ), with r² from the subclass."""

    def __init__(self, operator, y, *, sigma_y: float, x_shape, cg_effort: float | None = None):
        super().__init__(operator, y, sigma_y=sigma_y, x_shape=x_shape)
        if cg_effort is not None and not cg_effort > 0:
            raise ValueError(f"cg_effort must be > 0 or None, got {cg_effort}")
        self.cg_effort = cg_effort

    def posterior_variance(self, sigma: float) -> float:
        raise NotImplementedError

    def denoised(self, denoiser, x, sigma):
        return self.consistent(denoiser(x, sigma), sigma)

    def consistent(self, estimate: torch.Tensor, sigma: float) -> torch.Tensor:
        if self.sigma_y == 0:
            return self.project(estimate)
        return self.prox(estimate, self.y, self.posterior_variance(sigma) / self.sigma_y ** 2)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """x + A⁺(y − A x): the nearest point of {A z = y} to ``x``."""
        return x + self.operator.A_dagger(self.y - self.operator.A(x))

    def kept(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` with noiseless measurements restored exactly (x + A⁺(y − A x) when σ_y = 0; else ``x``)."""
        return self.project(x) if self.sigma_y == 0 else x

    def prox(self, z: torch.Tensor, y: torch.Tensor, gamma: float) -> torch.Tensor:
        """The operator's ``prox_l2(z, y, γ)``, its conjugate gradients stopped after ⌈cg_effort · √κ⌉ steps."""
        if self.cg_effort is None:
            return self.operator.prox_l2(z, y, gamma)
        budget = math.ceil(self.cg_effort * math.sqrt(1 + self.norm ** 2 * gamma))
        return self.operator.prox_l2(z, y, gamma, max_iter=budget)


class LikelihoodScore(_DataStep):
    """Noise-annealed likelihood score (Jalal et al. 2021; Song et al. 2022), its covariance taken per component.

    Adds ∇ log p(y | x_σ) to the prior score, with y − A x_σ ~ N(0, σ_y² I + σ² A Aᵀ): the measurement noise plus
    the iterate's noise σ seen through A (exact under a flat prior, and an upper bound on the covariance under any
    prior, so the data are never over-trusted): ∇ = Aᵀ(σ_y² I + σ² A Aᵀ)⁻¹(y − A x). In x̂₀ form,
    x̂₀ = D(x, σ) + prox(x) − x with the operator's ``prox_l2(x, y, σ² / σ_y²)``, or with x + A⁺(y − A x) when
    σ_y = 0. Each component of gain g gets the weight g² / (σ_y² + g² σ²) ≤ 1 / σ², so Langevin steps of size
    below σ² stay stable; a single weight 1 / (σ_y² + ‖A‖² σ²) would leave weak components of a blur unguided.

    Args:
        operator: a linear operator with ``A``, ``A_dagger``, ``prox_l2``.
        y: measurement (B, ...), shaped like ``operator.A(x)``.
        sigma_y: measurement noise standard deviation ([0, 1] image units).
        x_shape: shape of the image (B, C, H, W).
        cg_effort: conjugate-gradient budget of the data step, as in :class:`DataConsistency`.
    """

    def posterior_variance(self, sigma: float) -> float:
        """σ²: the variance of x₀ given x_σ under a flat prior."""
        return sigma ** 2

    def denoised(self, denoiser, x, sigma):
        return denoiser(x, sigma) + self.consistent(x, sigma) - x


class DataConsistency(_DataStep):
    """Data consistency on the denoised estimate (DDNM, Wang et al. 2023; DiffPIR, Zhu et al. 2023).

    x̂₀ = argmin_z ‖y − A z‖² / σ_y² + ‖z − D(x, σ)‖² / r²(σ), i.e. the exact E[x₀ | x_σ, y] when p(x₀ | x_σ) is
    N(D(x, σ), r² I) with r²(σ) = σ² σ_d² / (σ² + σ_d²). With σ_y = 0 this is the projection z = D + A⁺(y − A D)
    (observed pixels kept exactly); with σ_y > 0, the operator's ``prox_l2`` with γ = r² / σ_y² (closed form or
    conjugate gradients).

    Args:
        operator: a linear operator with ``A``, ``A_dagger``, ``prox_l2``.
        y: measurement, shaped like ``operator.A(x)``.
        sigma_y: measurement noise standard deviation ([0, 1] image units).
        sigma_data: σ_d of the prior's training data, for r²(σ).
        x_shape: shape of the image (B, C, H, W).
        cg_effort: where ``prox_l2`` runs conjugate gradients (CT), stop each step after ⌈cg_effort · √κ⌉
            iterations, κ = 1 + ‖A‖² γ the condition number of its system (CG needs a few √κ to converge, so the
            budget follows the noise level: long solves early, short ones late); None (default): the operator's
            own stopping rule. Closed-form proxes ignore it.
    """

    def __init__(self, operator, y, *, sigma_y: float, sigma_data: float, x_shape, cg_effort: float | None = None):
        super().__init__(operator, y, sigma_y=sigma_y, x_shape=x_shape, cg_effort=cg_effort)
        self.sigma_data = float(sigma_data)

    def posterior_variance(self, sigma: float) -> float:
        """r²(σ) = σ² σ_d² / (σ² + σ_d²): variance of x₀ given x_σ under a Gaussian prior of variance σ_d²."""
        return sigma ** 2 * self.sigma_data ** 2 / (sigma ** 2 + self.sigma_data ** 2)


DPIR_PRIOR_WEIGHT = 0.23   # λ of Zhang et al. 2021 (DPIR)


class PlugAndPlay(_DataStep):
    """The data-consistency step of plug-and-play HQS (Zhang et al. 2021, DPIR), weighted by DPIR's rule.

    x̂₀ = argmin_z ‖y − A z‖² / σ_y² + λ ‖z − D(x, σ)‖² / σ², i.e. the step of :class:`DataConsistency` with
    r² = σ² / λ. A plug-and-play iterate is not x₀ + σ n: D(x, σ) then over-smooths by about what it takes for
    noise of level σ, so its error is of order σ (not the smaller MMSE error r²(σ) of a fresh noisy image) and the
    data are trusted more. With σ_y = 0 this is the projection, as in :class:`DataConsistency`.

    Args:
        operator: a linear operator with ``A``, ``A_dagger``, ``prox_l2``.
        y: measurement, shaped like ``operator.A(x)``.
        sigma_y: measurement noise standard deviation ([0, 1] image units).
        x_shape: shape of the image (B, C, H, W).
        lam: λ > 0, the prior's weight relative to the measurement's (DPIR: 0.23).
        cg_effort: conjugate-gradient budget of the data step, as in :class:`DataConsistency`.
    """

    def __init__(self, operator, y, *, sigma_y: float, x_shape, lam: float = DPIR_PRIOR_WEIGHT,
                 cg_effort: float | None = None):
        super().__init__(operator, y, sigma_y=sigma_y, x_shape=x_shape, cg_effort=cg_effort)
        if not lam > 0:
            raise ValueError(f"lam must be > 0, got {lam}")
        self.lam = float(lam)

    def posterior_variance(self, sigma: float) -> float:
        return sigma ** 2 / self.lam


class DPS(Guidance):
    """Diffusion posterior sampling (Chung et al. 2023): a gradient step on ‖y − A D(x, σ)‖ through D.

    x̂₀ = D(x, σ) − ζᵢ ∇ₓ‖y − A D(x, σ)‖² with DPS's normalised step ζᵢ = ζ / ‖y − A D(x, σ)‖; ζ = 0.5 is the
    paper's ζ = 1 rescaled from [−1, 1] to [0, 1] images. Needs no A⁺, only A and Aᵀ (through autograd);
    costs one backward pass through the network per step.

    Args:
        operator: a linear operator with ``A`` (differentiable).
        y: measurement, shaped like ``operator.A(x)``.
        zeta: the step scale ζ > 0.
    """

    def __init__(self, operator, y, *, zeta: float = 0.5):
        if not zeta > 0:
            raise ValueError(f"zeta must be > 0, got {zeta}")
        self.operator, self.y, self.zeta = operator, y, float(zeta)

    def denoised(self, denoiser, x, sigma):
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            estimate = denoiser(x, sigma)
            residual = (self.y - self.operator.A(estimate)).flatten(1).norm(dim=1)  # (B,)
            (grad,) = torch.autograd.grad(residual.pow(2).sum(), x)
        step = self.zeta / residual.detach().clamp_min(1e-12)
        return (estimate.detach() - step.reshape(-1, *[1] * (x.ndim - 1)) * grad).detach()


class Mixing(_DataStep):
    """λ-mixing of measured and current data (Song, Shen, Xing & Ermon 2022, sparse-view CT and MRI).

    Once a noise level, the noisy iterate's measured components are mixed with the measurement noised to its level,
    ŷ_σ = y + σ A z. With σ_y = 0 this is the paper's full replacement (λ = 1), x ← x + A⁺(ŷ_σ − A x). With
    σ_y > 0 it is the operator's ``prox_l2(x, ŷ_σ, Δ / σ_y²)``, which gives a component of gain g the weight
    λ = g² Δ / (g² Δ + σ_y²), where Δ = σ_prev² − σ² is the drop in variance since the previous level (σ² at the
    first): the implicit step of the noise-annealed likelihood over that drop. The weights then sum over a run to
    about g² σ₀² / σ_y², whatever the number of levels; a weight of the full σ² at every level would pile the
    measurement noise of weakly measured components up with the budget (and one λ through A⁺ divides it by the
    smallest gain). The guidance remembers the previous level: a call at the same level mixes nothing more, a call
    at a higher one starts a new run.

    Args:
        operator: a linear operator with ``A``, ``A_dagger``, ``prox_l2``.
        y: measurement, shaped like ``operator.A(x)``.
        sigma_y: measurement noise ([0, 1] units).
        x_shape: shape of the image (B, C, H, W).
        cg_effort: conjugate-gradient budget of the mixing step, as in :class:`DataConsistency`.
    """

    previous: float | None = None

    def noisy(self, x, sigma, generator):
        # The variance the level drops by (a new run: the whole σ²)
        fresh = self.previous is None or sigma > self.previous
        if not fresh and sigma == self.previous:
            return x
        drop = sigma ** 2 if fresh else self.previous ** 2 - sigma ** 2
        self.previous = sigma

        # Mix with the measurement noised to this level
        device = generator.device if generator is not None else x.device
        noise = torch.randn(x.shape, generator=generator, device=device, dtype=x.dtype).to(x.device)
        target = self.y + sigma * self.operator.A(noise)
        if self.sigma_y == 0:
            return x + self.operator.A_dagger(target - self.operator.A(x))
        return self.prox(x, target, drop / self.sigma_y ** 2)

    def denoised(self, denoiser, x, sigma):
        return denoiser(x, sigma)


class LikelihoodDraw(_DataStep):
    """The likelihood step of split Gibbs sampling (PnP-DM, Wu et al. 2024; Vono et al. 2019): a draw of
    z ~ p(z | x, y) ∝ exp(−‖y − A z‖² / (2σ_y²) − ‖z − x‖² / (2ρ²)).

    The draw is exact by perturbation-optimisation (Orieux et al. 2012): z = prox(x + ρ ε₁, y + σ_y ε₂) with
    γ = ρ² / σ_y², ε₁, ε₂ standard normal; it is exact wherever ``prox_l2`` is (closed forms), and as exact as its
    conjugate gradients elsewhere. With σ_y = 0 it is the projection of x + ρ ε₁ onto {z : A z = y}.

    Args:
        operator: a linear operator with ``A``, ``A_dagger``, ``prox_l2``.
        y: measurement, shaped like ``operator.A(x)``.
        sigma_y: measurement noise standard deviation ([0, 1] image units).
        x_shape: shape of the image (B, C, H, W).
        cg_effort: conjugate-gradient budget of the step, as in :class:`DataConsistency`.
    """

    def draw(self, x: torch.Tensor, rho: float, generator: torch.Generator | None) -> torch.Tensor:
        """z ~ p(z | x, y) for the coupling ρ > 0 ([0, 1] units), shaped like ``x``."""
        device = generator.device if generator is not None else x.device
        shifted = x + rho * torch.randn(x.shape, generator=generator, device=device, dtype=x.dtype).to(x.device)
        if self.sigma_y == 0:
            return self.project(shifted)
        noise = torch.randn(self.y.shape, generator=generator, device=device, dtype=self.y.dtype).to(self.y.device)
        return self.prox(shifted, self.y + self.sigma_y * noise, rho ** 2 / self.sigma_y ** 2)

    def denoised(self, denoiser, x, sigma):
        raise TypeError("LikelihoodDraw guides the split Gibbs sampler only (scoreinv.sampling.split_gibbs)")
