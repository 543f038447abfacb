"""The invariant kit: numerical checks that any LinearOperator (ours or a user's) must pass."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Union

import torch

from .base import Composition, LinearOperator, Shape, fmt_shape
from .iterative import power_iteration

# Default tolerances (relative errors), by the dtype the check runs in
TOLERANCES = {
    torch.float64: {"adjoint": 1e-10, "linearity": 1e-10, "batch": 1e-10, "pinv": 1e-2, "prox": 1e-4,
                    "norm_gap": 5e-2, "norm_slack": 1e-6, "precision": 1e-4},
    torch.float32: {"adjoint": 1e-4, "linearity": 1e-4, "batch": 1e-4, "pinv": 2e-2, "prox": 1e-2,
                    "norm_gap": 5e-2, "norm_slack": 1e-4, "precision": 1e-4},
}


@dataclass
class CheckReport:
    """Result of ``check``: every measured error, the tolerances they are held to, and the verdict.

    Errors are relative: adjoint |⟨Ax, y⟩ − ⟨x, Aᵀy⟩| / max(‖Ax‖‖y‖, ‖x‖‖Aᵀy‖); linearity
    ‖A(ax + bz) − aAx − bAz‖ / (|a|‖Ax‖ + |b|‖Az‖); pinv ‖A A⁺ A x − A x‖ / ‖A x‖; prox the relative residual
    of its optimality condition (AᵀA + I/γ) x = Aᵀy + z/γ; batch the largest relative difference between
    batched and one-by-one application (A and Aᵀ); precision ‖A x₃₂ − A x₆₄‖ / ‖A x₆₄‖; norm_gap
    (norm − power-iteration estimate) / norm.
    """

    operator: str
    input_shape: Shape
    output_shape: Shape
    dtype: str
    device: str
    adjoint_error: float = math.nan
    linearity_error: float = math.nan
    pinv_error: Optional[float] = None
    prox_error: Optional[float] = None
    norm: float = math.nan
    norm_estimate: float = math.nan
    norm_is_exact: bool = False
    norm_bound_ok: bool = False
    batch_error: Optional[float] = None
    precision_gap: float = math.nan
    dtype_ok: bool = False
    device_ok: bool = False
    input_unchanged: bool = False
    tolerances: Dict[str, float] = field(default_factory=dict)
    errors: List[str] = field(default_factory=list)

    def failures(self) -> List[str]:
        """One line per failed invariant (empty when everything passed)."""
        tol = self.tolerances
        out = list(self.errors)

        def over(name: str, value: Optional[float], key: str) -> None:
            if value is not None and not (value <= tol[key]):
                out.append(f"{name} {value:.3g} > {tol[key]:.1g}")

        over("adjoint error", self.adjoint_error, "adjoint")
        over("linearity error", self.linearity_error, "linearity")
        over("A A⁺ A error", self.pinv_error, "pinv")
        over("prox_l2 residual", self.prox_error, "prox")
        over("batch error", self.batch_error, "batch")
        over("float32/float64 gap", self.precision_gap, "precision")
        gap = (self.norm - self.norm_estimate) / self.norm if self.norm > 0 else math.nan
        low = -tol["norm_slack"] if self.norm_is_exact else -tol["norm_gap"]
        if not (low <= gap <= tol["norm_gap"]):
            out.append(f"norm {self.norm:.6g} disagrees with power iteration {self.norm_estimate:.6g}")
        if not self.norm_bound_ok:
            out.append("‖A x‖ exceeds norm · ‖x‖")
        if not self.dtype_ok:
            out.append("outputs do not follow the input dtype")
        if not self.device_ok:
            out.append("outputs do not follow the input device")
        if not self.input_unchanged:
            out.append("the operator modified its input in place")
        return out

    @property
    def passed(self) -> bool:
        return not self.failures()

    def raise_if_failed(self) -> "CheckReport":
        """Raise AssertionError listing the failures; return self when everything passed."""
        fails = self.failures()
        if fails:
            raise AssertionError(f"{self.operator} on {fmt_shape(self.input_shape)} ({self.dtype}, {self.device}): "
                                 + "; ".join(fails))
        return self

    def __str__(self) -> str:
        def f(v: Optional[float]) -> str:
            return "n/a" if v is None else f"{v:.2e}"

        return (f"{self.operator} {fmt_shape(self.input_shape)} → {fmt_shape(self.output_shape)} "
                f"[{self.dtype}, {self.device}] adjoint {f(self.adjoint_error)}, linearity {f(self.linearity_error)}, "
                f"AA⁺A {f(self.pinv_error)}, prox {f(self.prox_error)}, batch {f(self.batch_error)}, "
                f"f32/f64 {f(self.precision_gap)}, norm {self.norm:.5g} (power {self.norm_estimate:.5g}) — "
                + ("passed" if self.passed else "FAILED: " + "; ".join(self.failures())))


def describe(op: LinearOperator) -> str:
    """Short name of an operator: class name and its settings without the noise model."""
    extra = re.sub(r"(, )?noise=.*$", "", op.extra_repr())
    if isinstance(op, Composition):
        return f"{describe(op.outer)} @ {describe(op.inner)}"
    return f"{type(op).__name__}({extra})" if extra else type(op).__name__


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    den = float(b.norm())
    num = float((a - b).norm())
    return num / den if den > 0 else (0.0 if num == 0 else math.inf)


def _same(t: torch.Tensor, dtype: torch.dtype, device: torch.device) -> bool:
    return t.dtype == dtype and t.device.type == device.type and (device.index is None or t.device == device)


def check(op: LinearOperator, shape: Sequence[int], *, dtype: torch.dtype = torch.float64,
          device: Union[str, torch.device] = "cpu", generator: Optional[torch.Generator] = None,
          pinv: bool = True, prox: bool = True, norm_iters: int = 200,
          tolerances: Optional[Dict[str, float]] = None) -> CheckReport:
    """Run the invariant kit on ``op`` with random Gaussian inputs and return a ``CheckReport``.

    Checks: exact adjointness ⟨Ax, y⟩ = ⟨x, Aᵀy⟩, linearity, A A⁺ A = A (pseudo-inverse), the optimality of
    ``prox_l2``, the norm against an independent power iteration and the bound ‖Ax‖ ≤ ‖A‖‖x‖, batch
    consistency (a batch equals its items one by one), dtype and device following (float32 and float64 in →
    same out, on the input's device, with a float32/float64 gap ≤ 1e-4), and that inputs are not modified.
    Works with any subclass that defines only ``A`` and ``A_adjoint``.

    Args:
        op: the operator.
        shape: input shape (B, C, H, W); B ≥ 2 also exercises batch consistency item by item.
        dtype: torch.float64 (default; adjoint tolerance 1e-10) or torch.float32 (1e-4).
        device: where to run ("cpu", "cuda", …); the operator must follow its inputs there.
        generator: CPU generator for the random inputs (default: seeded with 0).
        pinv: also check A A⁺ A ≈ A (tolerance 1e-2 in float64, 2e-2 in float32: the iterative A⁺ of CG is
            approximate; closed forms reach ~1e-15 (Mask, Downsample) or ~1e-4 (regularised Wiener Blur)).
        prox: also check ``prox_l2``.
        norm_iters: power iterations for the independent norm estimate.
        tolerances: overrides of the default tolerances (keys as in ``check.TOLERANCES``).
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) != 4 or min(shape) < 1:
        raise ValueError(f"shape must be (B, C, H, W) with positive sizes, got {shape}")
    if dtype not in TOLERANCES:
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    device = torch.device(device)
    tol = dict(TOLERANCES[dtype])
    tol.update(tolerances or {})
    gen = generator if generator is not None else torch.Generator().manual_seed(0)

    def rand(s: Sequence[int], dt: torch.dtype = dtype) -> torch.Tensor:
        return torch.randn(tuple(s), generator=gen, dtype=torch.float64).to(device=device, dtype=dt)

    out_shape = tuple(int(s) for s in op.output_shape(shape))
    report = CheckReport(operator=describe(op), input_shape=shape, output_shape=out_shape, dtype=str(dtype).replace("torch.", ""),
                         device=str(device), tolerances=tol)
    x, z, y = rand(shape), rand(shape), rand(out_shape)
    x_copy, y_copy = x.clone(), y.clone()
    follows: List[torch.Tensor] = []

    with torch.no_grad():
        # Adjointness and linearity
        ax, aty = op.A(x), op.A_adjoint(y)
        follows += [ax, aty]
        if tuple(ax.shape) != out_shape or tuple(aty.shape) != shape:
            report.errors.append(f"A gives {fmt_shape(ax.shape)} (expected {fmt_shape(out_shape)}), Aᵀ gives "
                                 f"{fmt_shape(aty.shape)} (expected {fmt_shape(shape)})")
            return report
        lhs, rhs = float((ax * y).sum()), float((x * aty).sum())
        scale = max(float(ax.norm() * y.norm()), float(x.norm() * aty.norm()), 1e-300)
        report.adjoint_error = abs(lhs - rhs) / scale
        az = op.A(z)
        combo = op.A(2.0 * x - 3.0 * z)
        report.linearity_error = float((combo - 2.0 * ax + 3.0 * az).norm()) / max(
            2.0 * float(ax.norm()) + 3.0 * float(az.norm()), 1e-300)

        # Pseudo-inverse and proximal step
        if pinv:
            try:
                xd = op.A_dagger(ax)
                follows.append(xd)
                report.pinv_error = _rel(op.A(xd), ax)
            except NotImplementedError:
                report.pinv_error = None
        if prox:
            gamma = 0.5
            xp = op.prox_l2(z, y, gamma)
            follows.append(xp)
            rhs_p = op.A_adjoint(y) + z / gamma
            report.prox_error = _rel(op.A_adjoint(op.A(xp)) + xp / gamma, rhs_p)

        # Norm: closed form or power iteration, against an independent power iteration
        report.norm = float(op.norm(shape, dtype=dtype, device=device))
        report.norm_is_exact = op._norm_closed_form(shape) is not None
        report.norm_estimate = power_iteration(op, shape, iters=norm_iters, dtype=dtype, device=device, seed=1)
        report.norm_bound_ok = all(float(op.A(v).norm()) <= report.norm * float(v.norm()) * (1 + tol["norm_slack"])
                                   for v in (x, z))

        # Batch consistency: a batch equals its items applied one by one
        report.batch_error = _batch_error(op, x, y)

        # dtype and device following, float32 vs float64 agreement
        other = torch.float32 if dtype == torch.float64 else torch.float64
        ax_o, aty_o = op.A(x.to(other)), op.A_adjoint(y.to(other))
        dtype_ok = all(t.dtype == dtype for t in follows) and ax_o.dtype == other and aty_o.dtype == other
        report.dtype_ok = dtype_ok
        report.device_ok = all(_same(t, t.dtype, device) for t in follows + [ax_o, aty_o])
        ref = ax if dtype == torch.float64 else ax_o
        low = ax_o if dtype == torch.float64 else ax
        report.precision_gap = _rel(low.to(torch.float64), ref.to(torch.float64))

        report.input_unchanged = bool(torch.equal(x, x_copy) and torch.equal(y, y_copy))
    return report


def _batch_error(op: LinearOperator, x: torch.Tensor, y: torch.Tensor) -> Optional[float]:
    """Largest relative gap between op on a batch and on its items (None if the op is batch-specific)."""
    if x.shape[0] == 1:
        x = torch.cat([x, 0.5 * x.flip(-1)], 0)
        y = torch.cat([y, -y.flip(-2)], 0)
    try:
        ax, aty = op.A(x), op.A_adjoint(y)
        parts = [(op.A(x[i:i + 1]), op.A_adjoint(y[i:i + 1])) for i in range(x.shape[0])]
    except ValueError:
        return None
    errs = [max(_rel(a, ax[i:i + 1]), _rel(b, aty[i:i + 1])) for i, (a, b) in enumerate(parts)]
    return max(errs)
