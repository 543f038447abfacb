"""Iterative solvers shared by the operators: conjugate gradients on normal equations and power iteration."""
from __future__ import annotations

import math
from typing import Callable, Optional, Sequence, Union

import torch

# Defaults of the iterative fallbacks
CG_TOL = 1e-6
CG_MAX_ITER = 100
NORM_ITERS = 100


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
