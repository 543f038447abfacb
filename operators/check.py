"""The invariant kit: numerical checks that any LinearOperator (ours or a user's) must pass."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Union

import torch

from .base import Composition, LinearOperator, Shape, fmt_shape
from .iterative import spectral_norm

# Default tolerances (relative errors), by the dtype the check runs in. "pinv" holds an exact A⁺ to all four
# Penrose conditions; "pinv_approx" and "pinv_symmetry_approx" hold an iterative or regularised one (see check)
TOLERANCES = {
    torch.float64: {"adjoint": 1e-10, "linearity": 1e-10, "batch": 1e-10, "pinv": 1e-10, "pinv_approx": 1e-2,
                    "pinv_symmetry_approx": 0.2, "prox": 1e-4, "norm_gap": 1e-3, "norm_slack": 1e-5,
                    "norm_tol": 1e-7, "precision": 1e-4},
    torch.float32: {"adjoint": 1e-4, "linearity": 1e-4, "batch": 1e-4, "pinv": 1e-4, "pinv_approx": 2e-2,
                    "pinv_symmetry_approx": 0.2, "prox": 1e-2, "norm_gap": 1e-3, "norm_slack": 1e-4,
                    "norm_tol": 1e-4, "precision": 1e-4},
}
ADJOINT_DRAWS = 4   # independent random pairs (x, y) behind the adjoint statistic
PINV_KINDS = ("exact", "iterative", "regularised")


@dataclass
class CheckReport:
    """Result of ``check``: every measured error, the tolerances they are held to, and the verdict.

    Errors are relative. adjoint: the larger of (a) the RMS over random pairs of ⟨Ax, y⟩ − ⟨x, Aᵀy⟩, divided by
    the RMS of max(‖Ax‖‖y‖/√m, ‖x‖‖Aᵀy‖/√n) (n, m the input and output sizes; this estimates ‖Aᵀ_claimed − Aᵀ‖_F
    / ‖A‖_F, so a 1 % wrong adjoint reads ≈ 1e-2 whatever the size) and (b) |‖Ax‖² − ⟨x, Aᵀ(Ax)⟩| / ‖Ax‖², the
    correlated pair y = Ax. linearity ‖A(ax + bz) − aAx − bAz‖ / (|a|‖Ax‖ + |b|‖Az‖). The four Penrose conditions
    of A⁺ (x, y random; y is outside the range of A in general): pinv ‖A A⁺ A x − A x‖ / ‖A x‖, pinv_reflexive
    ‖A⁺ A A⁺ y − A⁺ y‖ / ‖A⁺ y‖, and the asymmetries of A A⁺ (on outputs) and A⁺ A (on inputs), each the RMS of
    ⟨u, M v⟩ − ⟨M u, v⟩ over random pairs relative to ‖M‖_F as estimated by ‖M v‖‖u‖/√N. prox the relative
    residual of its optimality condition (AᵀA + I/γ) x = Aᵀy + z/γ; batch the largest relative difference between
    batched and one-by-one application (A and Aᵀ); precision ‖A x₃₂ − A x₆₄‖ / ‖A x₆₄‖. norm_estimate: an
    independent Lanczos estimate (a lower bound); norm_top_gain ‖A v‖ for its unit top singular vector v, which
    must not exceed the reported norm.
    """

    operator: str
    input_shape: Shape
    output_shape: Shape
    dtype: str
    device: str
    adjoint_error: float = math.nan
    linearity_error: float = math.nan
    pinv_kind: str = "exact"
    pinv_error: Optional[float] = None
    pinv_reflexive_error: Optional[float] = None
    pinv_range_symmetry: Optional[float] = None
    pinv_domain_symmetry: Optional[float] = None
    prox_error: Optional[float] = None
    norm: float = math.nan
    norm_estimate: float = math.nan
    norm_top_gain: float = math.nan
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
        if self.pinv_kind == "exact":
            over("A A⁺ A error", self.pinv_error, "pinv")
            over("A⁺ A A⁺ error", self.pinv_reflexive_error, "pinv")
            over("A A⁺ asymmetry", self.pinv_range_symmetry, "pinv")
            over("A⁺ A asymmetry", self.pinv_domain_symmetry, "pinv")
        else:
            over("A A⁺ A error", self.pinv_error, "pinv_approx")
            over("A A⁺ asymmetry", self.pinv_range_symmetry, "pinv_symmetry_approx")
            over("A⁺ A asymmetry", self.pinv_domain_symmetry, "pinv_symmetry_approx")
        over("prox_l2 residual", self.prox_error, "prox")
        over("batch error", self.batch_error, "batch")
        over("float32/float64 gap", self.precision_gap, "precision")
        if self.checked_norm:
            gap = (self.norm - self.norm_estimate) / self.norm if self.norm > 0 else math.nan
            if not (-tol["norm_slack"] <= gap <= tol["norm_gap"]):
                out.append(f"norm {self.norm:.7g} disagrees with the Lanczos estimate {self.norm_estimate:.7g}")
            if not self.norm_bound_ok:
                out.append(f"‖A v‖ = {self.norm_top_gain:.7g} for the top singular vector v exceeds norm "
                           f"{self.norm:.7g}")
        if not self.dtype_ok:
            out.append("outputs do not follow the input dtype")
        if not self.device_ok:
            out.append("outputs do not follow the input device")
        if not self.input_unchanged:
            out.append("the operator modified its input in place")
        return out

    @property
    def checked_norm(self) -> bool:
        """Whether the norm was checked (``check(..., norm=False)`` skips it)."""
        return not math.isnan(self.norm)

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
                f"Penrose ({self.pinv_kind} A⁺) {f(self.pinv_error)} / {f(self.pinv_reflexive_error)} / "
                f"{f(self.pinv_range_symmetry)} / {f(self.pinv_domain_symmetry)}, prox {f(self.prox_error)}, "
                f"batch {f(self.batch_error)}, f32/f64 {f(self.precision_gap)}, norm {self.norm:.6g} (Lanczos "
                f"{self.norm_estimate:.6g}, ‖A v‖ {self.norm_top_gain:.6g}) — "
                + ("passed" if self.passed else "FAILED: " + "; ".join(self.failures())))


def pinv_kind_of(op: LinearOperator) -> str:
    """How ``op.A_dagger`` relates to the Moore–Penrose inverse: the operator's ``pinv_kind`` when it declares one,
    else "iterative" for the inherited conjugate-gradient fallback and "exact" for an A_dagger of its own."""
    kind = getattr(op, "pinv_kind", None)
    if kind is None:
        kind = "iterative" if getattr(type(op), "A_dagger", None) is LinearOperator.A_dagger else "exact"
    if kind not in PINV_KINDS:
        raise ValueError(f"pinv_kind must be one of {', '.join(PINV_KINDS)} or None, got {kind!r}")
    return kind


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


def _dot(a: torch.Tensor, b: torch.Tensor) -> float:
    """⟨a, b⟩ accumulated in float64, so that the kit measures the operator's rounding, not its own."""
    return float((a.to(torch.float64) * b.to(torch.float64)).sum())


def _sq(t: torch.Tensor) -> float:
    return _dot(t, t)


def _asymmetry(apply: Callable[[torch.Tensor], torch.Tensor], pairs: Sequence[tuple]) -> float:
    """RMS of ⟨u, M v⟩ − ⟨M u, v⟩ over the pairs, relative to ‖M‖_F as estimated by ‖M v‖‖u‖/√N: ≈ ‖M − Mᵀ‖_F /
    ‖M‖_F for Gaussian pairs."""
    gaps, scales = 0.0, 0.0
    for u, v in pairs:
        mu, mv = apply(u), apply(v)
        gaps += (_dot(u, mv) - _dot(mu, v)) ** 2
        scales += (_sq(mv) * _sq(u) + _sq(mu) * _sq(v)) / (2 * u.numel())
    return math.sqrt(gaps / scales) if scales > 0 else (0.0 if gaps == 0 else math.inf)


def _adjoint_error(op: LinearOperator, x: torch.Tensor, ax: torch.Tensor, pairs: Sequence[tuple]) -> float:
    """The adjoint statistic of ``CheckReport``: random pairs (any wrong part of Aᵀ, symmetric or not) and the
    correlated pair y = Ax (its symmetric part exactly, free of the random pairs' χ² spread)."""
    gaps, scales = 0.0, 0.0
    for u, v in pairs:
        au, atv = op.A(u), op.A_adjoint(v)
        gaps += (_dot(au, v) - _dot(u, atv)) ** 2
        scales += max(_sq(au) * _sq(v) / v.numel(), _sq(u) * _sq(atv) / u.numel())
    random_pairs = math.sqrt(gaps / scales) if scales > 0 else (0.0 if gaps == 0 else math.inf)
    energy = _sq(ax)
    correlated = abs(energy - _dot(x, op.A_adjoint(ax))) / energy if energy > 0 else 0.0
    return max(random_pairs, correlated)


def check(op: LinearOperator, shape: Sequence[int], *, dtype: torch.dtype = torch.float64,
          device: Union[str, torch.device] = "cpu", generator: Optional[torch.Generator] = None,
          pinv: bool = True, prox: bool = True, norm: bool = True, norm_iters: int = 300,
          tolerances: Optional[Dict[str, float]] = None) -> CheckReport:
    """Run the invariant kit on ``op`` with random Gaussian inputs and return a ``CheckReport``.

    Checks: adjointness ⟨Ax, y⟩ = ⟨x, Aᵀy⟩ (normalised so that a 1 % error in Aᵀ fails in float32 and float64),
    linearity, the four Penrose conditions of A⁺, the optimality of ``prox_l2``, the norm against an independent
    Lanczos estimate and ‖A v‖ ≤ ‖A‖ for its top singular vector v, batch consistency (a batch equals its items
    one by one), dtype and device following (float32 and float64 in → same out, on the input's device, with a
    float32/float64 gap ≤ 1e-4), and that inputs are not modified. Works with any subclass that defines only ``A``
    and ``A_adjoint``.

    The Penrose conditions A A⁺ A = A, A⁺ A A⁺ = A⁺, (A A⁺)ᵀ = A A⁺ and (A⁺ A)ᵀ = A⁺ A are all held to "pinv"
    (1e-10 in float64, 1e-4 in float32) when A⁺ is exact (``pinv_kind_of``: closed forms, and any A_dagger of a
    user's own unless it declares otherwise). An iterative A⁺ (conjugate gradients stopped at ``tol`` or
    ``max_iter``) or a regularised one (the Wiener filter of circular Blur) is the Moore–Penrose inverse only on
    the well-resolved singular values, so it is held to A A⁺ A = A within "pinv_approx" (1e-2, 2e-2 in float32)
    and both symmetries within "pinv_symmetry_approx" (0.2); A⁺ A A⁺ = A⁺ is reported but not judged, since on y
    with components along tiny singular values (CT, zero-boundary blur) no stopped or regularised solver meets it
    (measured 0.4–0.7 on random y for CT and Gaussian blur, ≤ 1e-9 when CG converges, e.g. valid-boundary blur).

    Args:
        op: the operator.
        shape: input shape (B, C, H, W); B ≥ 2 also exercises batch consistency item by item.
        dtype: torch.float64 (default; adjoint tolerance 1e-10) or torch.float32 (1e-4).
        device: where to run ("cpu", "cuda", …); the operator must follow its inputs there.
        generator: CPU generator for the random inputs (default: seeded with 0).
        pinv: also check the Penrose conditions of ``A_dagger``.
        prox: also check ``prox_l2``.
        norm: also check ``norm`` (against an independent Lanczos run and its top singular vector).
        norm_iters: Lanczos iteration limit for the independent norm estimate.
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
    report = CheckReport(operator=describe(op), input_shape=shape, output_shape=out_shape,
                         dtype=str(dtype).replace("torch.", ""), device=str(device), tolerances=tol,
                         pinv_kind=pinv_kind_of(op))
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
        pairs = [(x, y)] + [(rand(shape), rand(out_shape)) for _ in range(ADJOINT_DRAWS - 1)]
        report.adjoint_error = _adjoint_error(op, x, ax, pairs)
        az = op.A(z)
        combo = op.A(2.0 * x - 3.0 * z)
        report.linearity_error = float((combo - 2.0 * ax + 3.0 * az).norm()) / max(
            2.0 * float(ax.norm()) + 3.0 * float(az.norm()), 1e-300)

        # The four Penrose conditions of the pseudo-inverse, and the proximal step
        if pinv:
            try:
                _penrose(op, report, ax, y, [p[0] for p in pairs], [p[1] for p in pairs[1:]], follows)
            except NotImplementedError:
                report.pinv_error = None
        if prox:
            gamma = 0.5
            xp = op.prox_l2(z, y, gamma)
            follows.append(xp)
            rhs_p = op.A_adjoint(y) + z / gamma
            report.prox_error = _rel(op.A_adjoint(op.A(xp)) + xp / gamma, rhs_p)

        # Norm: closed form or Lanczos, against an independent Lanczos run and its top singular vector
        if norm:
            report.norm = float(op.norm(shape, dtype=dtype, device=device))
            report.norm_is_exact = op._norm_closed_form(shape) is not None
            estimate, _, top = spectral_norm(op, shape, tol=tol["norm_tol"], max_iter=norm_iters, dtype=dtype,
                                             device=device, seed=1, vector=True)
            report.norm_estimate = estimate
            report.norm_top_gain = math.sqrt(_sq(op.A(top)) / _sq(top)) if top is not None else 0.0
            report.norm_bound_ok = report.norm_top_gain <= report.norm * (1 + tol["norm_slack"])

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


def _penrose(op: LinearOperator, report: CheckReport, ax: torch.Tensor, y: torch.Tensor,
             xs: Sequence[torch.Tensor], more_y: Sequence[torch.Tensor], follows: List[torch.Tensor]) -> None:
    """Fill the four Penrose errors of ``report``: ax = A xs[0], y and more_y random outputs, xs random inputs."""
    xd = op.A_dagger(ax)
    follows.append(xd)
    report.pinv_error = _rel(op.A(xd), ax)
    yd = op.A_dagger(y)
    report.pinv_reflexive_error = _rel(op.A_dagger(op.A(yd)), yd)
    y2, y3, y4 = more_y
    report.pinv_range_symmetry = _asymmetry(lambda v: op.A(op.A_dagger(v)), [(y, y2), (y3, y4)])
    report.pinv_domain_symmetry = _asymmetry(lambda v: op.A_dagger(op.A(v)), [(xs[0], xs[1]), (xs[2], xs[3])])


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
