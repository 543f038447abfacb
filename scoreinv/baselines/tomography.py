"""Classical CT reconstruction: filtered back-projection, CGLS and box-constrained SIRT stopped by the discrepancy
principle, and TV-regularised iterative reconstruction."""
from __future__ import annotations

import math

import torch

from scoreinv.baselines.tv import tv_solve

TV_CT_C = 0.04  # λ = c · σ_eff · ‖A‖ for TV-CT; see :func:`tv`
# τ of the stopping rule ‖A x − y‖ ≤ τ σ √M of CGLS and SIRT, chosen on ct/train slices (docs/benchmarks.md, CT
# baselines)
DISCREPANCY_TAU = 1.0
CGLS_MAX_ITER = 500
SIRT_MAX_ITER = 300  # a cost cap (see :func:`sirt`)


def fbp(y: torch.Tensor, op, *, sigma_y: float | None = None) -> torch.Tensor:
    """Filtered back-projection with the Ram-Lak filter (Ramachandran & Lakshminarayanan 1971), ``op.fbp``.

    Args:
        y: (B, C, n_angles, detectors) sinogram; op: an ``operators.ParallelBeamCT``; sigma_y: unused.
    Returns:
        (B, C, H, W) clipped to [0, 1].
    """
    return op.fbp(y).clamp(0, 1)


def tv(y: torch.Tensor, op, *, sigma_y: float, weight: float | None = None, iterations: int = 200) -> torch.Tensor:
    """TV-regularised iterative CT (Sidky & Pan 2008 style ½‖A x − y‖² + λ TV(x)) by the Chambolle–Pock solver.

    λ = c · σ_eff · ‖A‖ with c = ``TV_CT_C``, where σ_eff is ``sigma_y`` for Gaussian noise and, for photon
    counting noise (an ``op.noise`` with ``photons``), the root mean of its delta-method variance over the
    measured rays, √mean(exp(s·y) / (s² I₀)). c was chosen as the best mean PSNR over a grid on ct/*train*
    slices only (grid c ∈ {0.01, 0.02, 0.04, 0.08}; 4 slices, 60 views at I₀ = 1e5 and 30 views at 1e4);
    never on ct/test. Started from the clipped
    FBP, x kept in [0, 1] (the attenuation scale of ``scoreinv.problems.ct_units``, which includes x ≥ 0).

    Args:
        y: (B, C, n_angles, detectors) sinogram in the operator's units (line integrals in pixel lengths).
        op: an ``operators.ParallelBeamCT`` (``A``, ``A_adjoint``, ``norm``, ``fbp``, ``noise``).
        sigma_y: standard deviation of additive Gaussian noise on y (ignored for photon-counting noise).
        weight: λ (default from the rule above).
        iterations: Chambolle–Pock iterations (default 200).
    """
    x0 = fbp(y, op)
    if weight is None:
        weight = TV_CT_C * effective_sigma(y, op, sigma_y=sigma_y) * float(op.norm(tuple(x0.shape)))
    return tv_solve(y, op, weight=weight, iterations=iterations, x0=x0, constraint="box")


def effective_sigma(y: torch.Tensor, op, *, sigma_y: float) -> float:
    """σ_y, or for photon-counting noise the root-mean-square noise std of the rays, √mean(op.noise.variance(y)).

    Args:
        y: the measured sinogram; op: operator with ``noise``; sigma_y: Gaussian noise std in y's units.
    """
    noise = getattr(op, "noise", None)
    if noise is not None and hasattr(noise, "photons"):
        return math.sqrt(float(noise.variance(y.clamp_min(0)).double().mean()))
    return float(sigma_y)


def cgls(y: torch.Tensor, op, *, sigma_y: float, tau: float = DISCREPANCY_TAU,
         max_iterations: int = CGLS_MAX_ITER) -> torch.Tensor:
    """CGLS (Hestenes & Stiefel 1952; Björck 1996, Alg. 7.4.1) from x = 0, stopped by the discrepancy principle.

    Conjugate gradients on the normal equations AᵀA x = Aᵀy; the residual ‖A x_k − y‖ decreases monotonically,
    and each image of the batch stops at the first k with ‖A x_k − y‖ ≤ τ · σ_eff · √M (Morozov 1966), M the
    number of measured values of one image and σ_eff as in :func:`effective_sigma`. The early stop is the
    regulariser (semi-convergence); the result is then clipped to [0, 1], the CT scale of
    ``scoreinv.problems.ct_units``. τ = ``DISCREPANCY_TAU`` was chosen on ct/*train* slices only.

    Args:
        y: (B, C, n_angles, detectors) sinogram in the operator's units (line integrals in pixel lengths).
        op: a linear operator with ``A`` and ``A_adjoint`` (an ``operators.ParallelBeamCT``; any works).
        sigma_y: standard deviation of additive Gaussian noise on y, > 0 (ignored for photon-counting noise).
        tau: τ ≥ 1 of the stopping rule (default ``DISCREPANCY_TAU``).
        max_iterations: iteration limit (default ``CGLS_MAX_ITER``; each costs one A and one Aᵀ).
    Returns:
        (B, C, H, W) in [0, 1].
    """
    x, _ = cgls_iterate(y, op, sigma_y=sigma_y, tau=tau, max_iterations=max_iterations)
    return x.clamp(0, 1)


def cgls_iterate(y: torch.Tensor, op, *, sigma_y: float, tau: float = DISCREPANCY_TAU,
                 max_iterations: int = CGLS_MAX_ITER) -> tuple[torch.Tensor, torch.Tensor]:
    """The unclipped iterate of :func:`cgls` and the iteration count at which each image stopped, shape (B,).

    Args:
        y: (B, C, n_angles, detectors) sinogram; op: operator with ``A`` and ``A_adjoint``;
        sigma_y: Gaussian noise std in y's units; tau: τ of the stopping rule; max_iterations: limit.
    """
    if not tau > 0:
        raise ValueError(f"tau must be positive, got {tau}")
    dtype, y = y.dtype, y.detach().double()
    batch = y.shape[0]
    target = tau * effective_sigma(y, op, sigma_y=sigma_y) * math.sqrt(y[0].numel())
    norm = lambda v: v.flatten(1).norm(dim=1)  # noqa: E731
    per_image = lambda v: v.view(-1, *([1] * (y.dim() - 1)))  # noqa: E731
    with torch.no_grad():
        r = y.clone()
        s = op.A_adjoint(r)
        x, p, gamma = torch.zeros_like(s), s.clone(), norm(s) ** 2
        active = norm(r) > target
        stopped = torch.zeros(batch, dtype=torch.long)
        for k in range(max_iterations):
            if not bool(active.any()):
                break
            q = op.A(p)
            alpha = torch.where(active, gamma / (norm(q) ** 2).clamp_min(1e-300), torch.zeros_like(gamma))
            x = x + per_image(alpha) * p
            r = r - per_image(alpha) * q
            stopped[active.cpu()] = k + 1
            active = active & (norm(r) > target)
            s = op.A_adjoint(r)
            gamma_new = norm(s) ** 2
            beta = torch.where(active, gamma_new / gamma.clamp_min(1e-300), torch.zeros_like(gamma))
            p, gamma = s + per_image(beta) * p, torch.where(active, gamma_new, gamma)
    return x.to(dtype), stopped


def sirt(y: torch.Tensor, op, *, sigma_y: float, tau: float = DISCREPANCY_TAU,
         max_iterations: int = SIRT_MAX_ITER) -> torch.Tensor:
    """Box-constrained SIRT (Gilbert 1972; Gregor & Benson 2008) from x = 0, stopped by the discrepancy principle.

    x ← P_[0,1](x + C Aᵀ R (y − A x)) with R = 1 / (A 1) and C = 1 / (Aᵀ 1) (row and column sums; rays or pixels
    with none are left out), projected onto the CT scale [0, 1] of ``scoreinv.problems.ct_units`` after every
    step. Each image stops at the first iterate with ‖A x − y‖ ≤ τ · σ_eff · √M as in :func:`cgls`, or at
    ``max_iterations``, a cost cap (limited-angle data usually reach it: on 8 ct/*train* slices the rule held
    after 181 iterations for 30 views, after 816 for 90 views over 90°).

    Args:
        y: (B, C, n_angles, detectors) sinogram in the operator's units (line integrals in pixel lengths).
        op: a linear operator with non-negative entries, ``A`` and ``A_adjoint`` (an ``operators.ParallelBeamCT``).
        sigma_y: standard deviation of additive Gaussian noise on y, > 0 (ignored for photon-counting noise).
        tau: τ of the stopping rule (default ``DISCREPANCY_TAU``).
        max_iterations: iteration cap (default ``SIRT_MAX_ITER``; each costs one A and one Aᵀ).
    Returns:
        (B, C, H, W) in [0, 1].
    """
    x, _ = sirt_iterate(y, op, sigma_y=sigma_y, tau=tau, max_iterations=max_iterations)
    return x


def sirt_iterate(y: torch.Tensor, op, *, sigma_y: float, tau: float = DISCREPANCY_TAU,
                 max_iterations: int = SIRT_MAX_ITER) -> tuple[torch.Tensor, torch.Tensor]:
    """The result of :func:`sirt` and the number of steps each image took, shape (B,).

    Args:
        y: (B, C, n_angles, detectors) sinogram; op: operator with ``A`` and ``A_adjoint``;
        sigma_y: Gaussian noise std in y's units; tau: τ of the stopping rule; max_iterations: cap.
    """
    if not tau > 0:
        raise ValueError(f"tau must be positive, got {tau}")
    y = y.detach()
    target = tau * effective_sigma(y, op, sigma_y=sigma_y) * math.sqrt(y[0].numel())
    with torch.no_grad():
        x = torch.zeros_like(op.A_adjoint(y))
        rows, cols = op.A(torch.ones_like(x)), op.A_adjoint(torch.ones_like(y))
        row_weight = torch.where(rows > 1e-6, 1 / rows.clamp_min(1e-6), torch.zeros_like(rows))
        col_weight = torch.where(cols > 1e-6, 1 / cols.clamp_min(1e-6), torch.zeros_like(cols))
        steps = torch.zeros(y.shape[0], dtype=torch.long)
        for _ in range(max_iterations):
            residual = y - op.A(x)
            active = residual.flatten(1).double().norm(dim=1) > target
            if not bool(active.any()):
                break
            update = (x + col_weight * op.A_adjoint(row_weight * residual)).clamp(0, 1)
            x = torch.where(active.view(-1, *([1] * (x.dim() - 1))).to(x.device), update, x)
            steps += active.cpu().long()
    return x, steps
