"""Iterative solvers shared by the operators: conjugate gradients on normal equations, and the spectral norm by
the Lanczos process (power iteration kept for comparison)."""
from __future__ import annotations

import math
from typing import Callable, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

import torch

# Defaults of the iterative fallbacks
CG_TOL = 1e-6
CG_MAX_ITER = 100
NORM_ITERS = 100
NORM_TOL = 1e-4       # relative Ritz residual of the top eigenvalue of AᵀA at which norm() stops
NORM_MAX_ITER = 300


def per_sample_dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Inner product of each batch item: (B, ...) × (B, ...) → (B,)."""
    return (a * b).reshape(a.shape[0], -1).sum(1)


def _expand(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """View a (B,) vector so it broadcasts against ``like`` (B, ...)."""
    return v.reshape(-1, *([1] * (like.ndim - 1)))


def conjugate_gradient(apply: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, x0: torch.Tensor, *,
                       tol: float = CG_TOL, max_iter: int = CG_MAX_ITER,
                       preconditioner: Optional[Callable[[torch.Tensor], torch.Tensor]] = None) -> torch.Tensor:
    """Solve the symmetric positive (semi-)definite system M x = b by (preconditioned) conjugate gradients
    (Hestenes–Stiefel 1952).

    Each batch item is solved independently (its own step sizes and stopping test), so results do not
    depend on what else is in the batch.

    Args:
        apply: x ↦ M x on tensors shaped like ``b``.
        b: right-hand side (B, ...).
        x0: starting point, same shape as ``b``.
        tol: stop an item when ‖b − M x‖ ≤ tol · ‖b‖ (relative, ≥ 0; the unpreconditioned residual).
        max_iter: maximum number of iterations (≥ 0).
        preconditioner: r ↦ P r with P symmetric positive definite, P ≈ M⁻¹ (default: none, P = I).
    """
    precondition = preconditioner if preconditioner is not None else (lambda v: v)
    x = x0.clone()
    r = b - apply(x)
    q = precondition(r)
    p = q.clone()
    rq = per_sample_dot(r, q)
    rs = per_sample_dot(r, r)
    stop = (tol * per_sample_dot(b, b).sqrt()) ** 2
    zero = torch.zeros_like(rs)
    for _ in range(max_iter):
        active = rs > stop
        if not bool(active.any()):
            break
        mp = apply(p)
        pmp = per_sample_dot(p, mp)
        alpha = torch.where(active & (pmp > 0), rq / torch.where(pmp > 0, pmp, torch.ones_like(pmp)), zero)
        x = x + _expand(alpha, x) * p
        r = r - _expand(alpha, r) * mp
        q = precondition(r)
        rq_new = per_sample_dot(r, q)
        beta = torch.where(active & (rq > 0), rq_new / torch.where(rq > 0, rq, torch.ones_like(rq)), zero)
        p = q + _expand(beta, p) * p
        rq = torch.where(active, rq_new, rq)
        rs = torch.where(active, per_sample_dot(r, r), rs)
    return x


def power_iteration(op, shape: Sequence[int], *, iters: int = NORM_ITERS,
                    dtype: torch.dtype = torch.float64, device: Union[str, torch.device] = "cpu",
                    rtol: float = 1e-7, seed: int = 0) -> float:
    """Estimate ‖A‖₂ by power iteration on AᵀA (von Mises 1929) from a seeded Gaussian start.

    Args:
        op: a LinearOperator (anything with A and A_adjoint).
        shape: input shape (B, C, H, W).
        iters: maximum iterations (≥ 1).
        dtype: float32 or float64.
        device: where to run.
        rtol: stop when the eigenvalue estimate changes by less than this (relative).
        seed: seed of the CPU generator drawing the start vector.
    """
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(tuple(shape), generator=g, dtype=torch.float64).to(device=device, dtype=dtype)
    v = v / v.norm()
    lam = 0.0
    with torch.no_grad():
        for _ in range(iters):
            w = op.A_adjoint(op.A(v))
            lam_new = float(w.norm())
            if lam_new == 0.0:
                return 0.0
            v = w / lam_new
            if abs(lam_new - lam) <= rtol * lam_new:
                lam = lam_new
                break
            lam = lam_new
    return math.sqrt(lam)


class TopEigen(NamedTuple):
    """Result of :func:`lanczos_top`: the top Ritz value θ, its relative residual ‖M u − θ u‖ / θ (an eigenvalue of
    M lies within residual · θ of θ), the iterations done, and the unit Ritz vector u (or None)."""

    value: float
    residual: float
    iterations: int
    vector: Optional[torch.Tensor]


def _lanczos_steps(apply: Callable[[torch.Tensor], torch.Tensor], v0: torch.Tensor
                   ) -> Iterator[Tuple[torch.Tensor, float, float]]:
    """The Lanczos recurrence from v0: yields (qₖ, αₖ, βₖ), with one local re-orthogonalisation per step."""
    q = v0 / v0.norm()
    q_prev, beta_prev = torch.zeros_like(q), 0.0
    while True:
        w = apply(q)
        alpha = float((q * w).sum())
        w = w - alpha * q - beta_prev * q_prev
        correction = float((q * w).sum())
        w = w - correction * q
        beta = float(w.norm())
        yield q, alpha + correction, beta
        if beta == 0.0:
            return
        q_prev, q, beta_prev = q, w / beta, beta


def lanczos_top(apply: Callable[[torch.Tensor], torch.Tensor], v0: torch.Tensor, *, tol: float = NORM_TOL,
                max_iter: int = NORM_MAX_ITER, vector: bool = False) -> TopEigen:
    """Largest eigenvalue of a symmetric positive semi-definite map M by the Lanczos process (Lanczos 1950), stopped
    when the Ritz residual βₖ|sₖ| is at most tol · θ (Paige 1972; Parlett, The Symmetric Eigenvalue Problem, §13).

    Unlike a change in the estimate, the residual does not stall on a plateau. The top Ritz value never exceeds
    the top eigenvalue (up to rounding), and converges much faster than power iteration on clustered spectra.

    Args:
        apply: v ↦ M v on tensors shaped like ``v0``.
        v0: non-zero start vector (any shape), e.g. Gaussian.
        tol: relative Ritz residual at which to stop (> 0).
        max_iter: maximum iterations (≥ 1), one ``apply`` each.
        vector: also return the unit Ritz vector (a second pass repeats the recurrence).
    """
    if not (tol > 0 and math.isfinite(tol)):
        raise ValueError(f"tol must be a finite number > 0, got {tol}")
    if int(max_iter) != max_iter or max_iter < 1:
        raise ValueError(f"max_iter must be an integer ≥ 1, got {max_iter}")
    if float(v0.norm()) == 0.0:
        raise ValueError("the start vector v0 is zero; pass a random non-zero vector")
    alphas: List[float] = []
    betas: List[float] = []
    theta, residual, s = 0.0, math.inf, None
    for _, alpha, beta in _lanczos_steps(apply, v0):
        alphas.append(alpha)
        t = torch.diag(torch.tensor(alphas, dtype=torch.float64))
        if betas:
            off = torch.tensor(betas, dtype=torch.float64)
            t = t + torch.diag(off, 1) + torch.diag(off, -1)
        evals, evecs = torch.linalg.eigh(t)
        theta, s = float(evals[-1]), evecs[:, -1]
        residual = beta * abs(float(s[-1])) / theta if theta > 0 else 0.0
        if theta <= 0.0 or residual <= tol or len(alphas) >= max_iter:
            break
        betas.append(beta)
    u = None
    if vector and s is not None:
        u = torch.zeros_like(v0)
        for k, (q, _, _) in zip(range(len(alphas)), _lanczos_steps(apply, v0)):
            u = u + float(s[k]) * q
        u = u / u.norm()
    return TopEigen(max(theta, 0.0), residual, len(alphas), u)


def spectral_norm(op, shape: Sequence[int], *, tol: float = NORM_TOL, max_iter: int = NORM_MAX_ITER,
                  dtype: torch.dtype = torch.float64, device: Union[str, torch.device] = "cpu",
                  seed: int = 0, vector: bool = False) -> Tuple[float, float, Optional[torch.Tensor]]:
    """‖A‖₂ as √θ of the Lanczos process on AᵀA from a seeded Gaussian start (see :func:`lanczos_top`).

    Args:
        op: anything with ``A`` and ``A_adjoint``.
        shape: input shape (B, C, H, W).
        tol: relative Ritz residual of θ at which to stop (> 0; the norm then has relative error ≲ tol / 2).
        max_iter: maximum iterations (≥ 1), one A and one Aᵀ each.
        dtype: float32 or float64.
        device: where to run.
        seed: seed of the CPU generator drawing the start vector.
        vector: also return the unit top right singular vector estimate (shape ``shape``).

    Returns:
        (norm, relative residual of θ, vector or None).
    """
    g = torch.Generator().manual_seed(seed)
    v0 = torch.randn(tuple(shape), generator=g, dtype=torch.float64).to(device=device, dtype=dtype)
    with torch.no_grad():
        top = lanczos_top(lambda v: op.A_adjoint(op.A(v)), v0, tol=tol, max_iter=max_iter, vector=vector)
    return math.sqrt(top.value), top.residual, top.vector
