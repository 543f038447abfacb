"""Linear measurement operators: the base class, composition and the identity (iterative solvers: iterative.py).

Every operator maps images ``x`` of shape (B, C, H, W) to measurements ``y = A(x)`` and follows the
input's device and dtype (float32 or float64). Subclasses define ``A`` and ``A_adjoint``; everything else
(pseudo-inverse, proximal step, spectral norm, composition) has a generic fallback that closed forms
override where they exist.
"""
from __future__ import annotations

import math
from typing import Callable, Dict, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from .iterative import CG_MAX_ITER, CG_TOL, NORM_MAX_ITER, NORM_TOL, conjugate_gradient, spectral_norm
from .noise import GaussianNoise, NoiseModel

Shape = Tuple[int, ...]
Gamma = Union[float, torch.Tensor]

SUPPORTED_DTYPES = (torch.float32, torch.float64)


# Helpers shared by the operators

def fmt_shape(shape: Sequence[int]) -> str:
    """Format a shape as ``2×3×37×29``."""
    return "×".join(str(int(s)) for s in shape)


def check_tensor(t: object, name: str) -> torch.Tensor:
    """Check that ``t`` is a float32/float64 tensor of shape (B, C, H, W) (structure only: no look at the values,
    so no host sync and vmap-safe); return it."""
    if not isinstance(t, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape (B, C, H, W), got {type(t).__name__}")
    if t.ndim != 4:
        raise ValueError(f"{name} must have 4 dims (B, C, H, W), got shape {tuple(t.shape)}; "
                         f"add the missing dims with x[None] or x.view(B, C, H, W)")
    if t.dtype not in SUPPORTED_DTYPES:
        raise ValueError(f"{name} has dtype {t.dtype}; convert it to torch.float32 or torch.float64 first")
    if t.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(t.shape)}); pass at least one pixel")
    return t


def check_finite(t: torch.Tensor, name: str) -> torch.Tensor:
    """Raise ValueError if ``t`` holds NaN or infinite values (reads the values: a host sync); return it."""
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN or infinite values; replace them (e.g. torch.nan_to_num) first")
    return t


def gamma_like(gamma: Gamma, like: torch.Tensor) -> torch.Tensor:
    """Check a positive step ``gamma`` (float or (B,) tensor) and shape it to broadcast against ``like``."""
    g = torch.as_tensor(gamma, dtype=like.dtype, device=like.device)
    if g.ndim > 1 or (g.ndim == 1 and g.numel() not in (1, like.shape[0])):
        raise ValueError(f"gamma must be a float or a ({like.shape[0]},) tensor, got shape {tuple(g.shape)}")
    if not bool(torch.isfinite(g).all()) or bool((g <= 0).any()):
        raise ValueError("gamma must be finite and > 0; pass the step size of the proximal operator")
    return g.reshape(-1, *([1] * (like.ndim - 1))) if g.ndim == 1 else g


class LinearOperator(nn.Module):
    """A linear measurement operator y = A x on image batches (B, C, H, W) with a noise model.

    Subclasses define ``A`` and ``A_adjoint`` (the exact transpose); the pseudo-inverse ``A_dagger`` and
    ``prox_l2`` fall back to conjugate gradients on the normal equations, ``norm`` to power iteration.

    Args:
        noise: noise model used by ``measure`` (default ``GaussianNoise(0.0)``, i.e. noiseless).
    """

    family = "other"  # what kind of problem the operator poses: "inpaint", "deblur", "sr", "ct" or "other"
    # How A_dagger relates to the Moore–Penrose inverse (for the invariant kit): "exact" (a closed form),
    # "iterative" (conjugate gradients stopped at tol or max_iter) or "regularised" (e.g. a Wiener filter); None
    # means "iterative" for the inherited CG fallback and "exact" for an A_dagger of the subclass's own
    pinv_kind: Optional[str] = None

    def __init__(self, *, noise: Optional[NoiseModel] = None) -> None:
        super().__init__()
        if noise is not None and not isinstance(noise, NoiseModel):
            raise ValueError(f"noise must be a GaussianNoise or PoissonNoise, got {type(noise).__name__}")
        self.noise: NoiseModel = noise if noise is not None else GaussianNoise(0.0)
        self._norm_cache: Dict[tuple, float] = {}

    # The operator and its transpose

    def A(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the operator: x (B, C, H, W) → y = A x."""
        raise NotImplementedError(f"{type(self).__name__} must define A(x)")

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """Apply the exact transpose: y → Aᵀ y of the input's shape."""
        raise NotImplementedError(f"{type(self).__name__} must define A_adjoint(y)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Same as ``A(x)``."""
        return self.A(x)

    # Shapes and input checks

    def output_shape(self, input_shape: Sequence[int]) -> Shape:
        """Shape of A x for an input of shape ``input_shape`` (B, C, H, W).

        The generic version applies A to zeros; operators override it with a formula.
        """
        shape = tuple(int(s) for s in input_shape)
        if len(shape) != 4:
            raise ValueError(f"input_shape must be (B, C, H, W), got {shape}")
        ref = next(iter(self.buffers()), None)
        device = ref.device if ref is not None else torch.device("cpu")
        dtype = ref.dtype if ref is not None and ref.dtype in SUPPORTED_DTYPES else torch.float32
        with torch.no_grad():
            return tuple(self.A(torch.zeros(shape, dtype=dtype, device=device)).shape)

    def validate_input(self, x: torch.Tensor) -> torch.Tensor:
        """Raise ValueError (one line, says what to change) unless x is a finite (B, C, H, W) float tensor this
        operator accepts; return x. The check for the public boundary: ``A`` itself checks only the structure
        (type, dims, dtype, shape), never the values, so it stays sync-free and works under ``torch.func``."""
        self._checked_input(x)
        return check_finite(x, "x")

    def validate_measurement(self, y: torch.Tensor) -> torch.Tensor:
        """Raise ValueError (one line) unless y is a finite 4-D float tensor of a shape A can produce; return y
        (the boundary check; ``A_adjoint`` checks only the structure)."""
        self._checked_measurement(y)
        return check_finite(y, "y")

    def _checked_input(self, x: torch.Tensor) -> torch.Tensor:
        """The hot-path check of an input: type, dims, dtype and shape, not the values."""
        check_tensor(x, "x")
        self._check_input_shape(tuple(x.shape))
        return x

    def _checked_measurement(self, y: torch.Tensor) -> torch.Tensor:
        """The hot-path check of a measurement: type, dims, dtype and shape, not the values."""
        check_tensor(y, "y")
        self._check_output_shape(tuple(y.shape))
        return y

    def check_prox_args(self, z: torch.Tensor, y: torch.Tensor) -> None:
        """Raise ValueError unless z is a valid input and y a measurement of z's output shape (y may have batch 1,
        shared by every item of z)."""
        self._checked_input(z)
        check_tensor(y, "y")
        expected = tuple(self.output_shape(tuple(z.shape)))
        if tuple(y.shape[1:]) != expected[1:] or y.shape[0] not in (1, expected[0]):
            raise ValueError(f"y is {fmt_shape(y.shape)} but A z is {fmt_shape(expected)}; pass the measurement of "
                             f"an image shaped like z (batch 1 or z's batch)")
        if y.dtype != z.dtype or y.device != z.device:
            raise ValueError(f"y ({y.dtype}, {y.device}) and z ({z.dtype}, {z.device}) must share dtype and device")

    def _check_input_shape(self, shape: Shape) -> None:
        """Hook: raise ValueError if A cannot take an input of this shape."""

    def _check_output_shape(self, shape: Shape) -> None:
        """Hook: raise ValueError if A_adjoint cannot take a measurement of this shape."""

    def default_input_shape(self) -> Optional[Shape]:
        """The input shape fixed by the operator itself (e.g. a CT geometry), or None."""
        return None

    # Pseudo-inverse and proximal step

    def A_dagger(self, y: torch.Tensor, *, tol: float = CG_TOL, max_iter: int = CG_MAX_ITER) -> torch.Tensor:
        """Moore–Penrose pseudo-inverse A⁺ y: conjugate gradients on AᵀA x = Aᵀy from x = 0 (minimum-norm
        least-squares solution; Hestenes–Stiefel 1952).

        Args:
            y: measurement shaped like A x.
            tol: relative residual of the normal equations at which to stop (≥ 0).
            max_iter: iteration limit (≥ 0).
        """
        _check_cg(tol, max_iter)
        b = self.A_adjoint(y)
        return conjugate_gradient(lambda v: self.A_adjoint(self.A(v)), b, torch.zeros_like(b),
                                  tol=tol, max_iter=max_iter)

    def prox_l2(self, z: torch.Tensor, y: torch.Tensor, gamma: Gamma, *, tol: float = CG_TOL,
                max_iter: int = CG_MAX_ITER) -> torch.Tensor:
        """argmin_x ½‖A x − y‖² + (1/(2γ))‖x − z‖², i.e. (AᵀA + I/γ) x = Aᵀy + z/γ, by conjugate gradients
        started at z (closed forms override this).

        Args:
            z: point (B, C, H, W) to stay close to.
            y: measurement shaped like A z.
            gamma: step γ > 0, a float or a (B,) tensor.
            tol: relative residual at which CG stops (≥ 0; unused by closed forms).
            max_iter: CG iteration limit (≥ 0; unused by closed forms).
        """
        return self._prox_cg(z, y, gamma, tol=tol, max_iter=max_iter)

    def _prox_cg(self, z: torch.Tensor, y: torch.Tensor, gamma: Gamma, *, tol: float, max_iter: int,
                 preconditioner_for: Optional[Callable[[torch.Tensor, torch.Tensor], Callable]] = None
                 ) -> torch.Tensor:
        """The prox of :meth:`prox_l2` by conjugate gradients from z; ``preconditioner_for(1/γ, z)``, if given,
        returns r ↦ P r with P ≈ (AᵀA + I/γ)⁻¹."""
        _check_cg(tol, max_iter)
        self.check_prox_args(z, y)
        lam = 1.0 / gamma_like(gamma, z)
        b = self.A_adjoint(y) + lam * z
        preconditioner = preconditioner_for(lam, z) if preconditioner_for is not None else None
        return conjugate_gradient(lambda v: self.A_adjoint(self.A(v)) + lam * v, b, z,
                                  tol=tol, max_iter=max_iter, preconditioner=preconditioner)

    # Spectral norm

    def norm(self, shape: Optional[Sequence[int]] = None, *, tol: float = NORM_TOL, max_iter: int = NORM_MAX_ITER,
             dtype: torch.dtype = torch.float32, device: Union[str, torch.device, None] = None) -> float:
        """Spectral norm ‖A‖₂ for inputs of ``shape``: a closed form where the operator has one, otherwise the
        Lanczos process on AᵀA run to a relative Ritz residual ``tol`` (see ``spectral_norm``), cached per shape,
        dtype, device and settings.

        Args:
            shape: input shape (B, C, H, W); optional when the operator fixes it (CT, Mask).
            tol: relative residual of the top eigenvalue of AᵀA at which to stop (> 0; default 1e-4, so the norm
                is within ~tol/2, from below).
            max_iter: iteration limit (≥ 1; one A and one Aᵀ each; default 300).
            dtype: float32 (default; shares the operator's float32 caches, e.g. the CT matrix) or float64.
            device: where to compute (default: where the operator's buffers live, else CPU).
        """
        shape = self._resolve_shape(shape)
        if not (tol > 0 and math.isfinite(tol)):
            raise ValueError(f"tol must be a finite number > 0, got {tol}")
        if int(max_iter) != max_iter or max_iter < 1:
            raise ValueError(f"max_iter must be an integer ≥ 1, got {max_iter}")
        if device is None:
            ref = next(iter(self.buffers()), None)
            device = ref.device if ref is not None else torch.device("cpu")
        device = torch.device(device)
        key = (shape, dtype, str(device), tol, int(max_iter))
        if key not in self._norm_cache:
            closed = self._norm_closed_form(shape)
            self._norm_cache[key] = closed if closed is not None else spectral_norm(
                self, shape, tol=tol, max_iter=int(max_iter), dtype=dtype, device=device)[0]
        return self._norm_cache[key]

    def _norm_closed_form(self, shape: Shape) -> Optional[float]:
        """Hook: the exact spectral norm for inputs of ``shape``, or None to use power iteration."""
        return None

    def _resolve_shape(self, shape: Optional[Sequence[int]]) -> Shape:
        if shape is None:
            shape = self.default_input_shape()
            if shape is None:
                raise ValueError(f"{type(self).__name__}.norm needs the input shape (B, C, H, W); pass shape=x.shape")
        shape = tuple(int(s) for s in shape)
        if len(shape) != 4 or min(shape) < 1:
            raise ValueError(f"shape must be (B, C, H, W) with positive sizes, got {shape}")
        self._check_input_shape(shape)
        return shape

    # Noise

    def measure(self, x: torch.Tensor, *, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """A noisy measurement: the noise model applied to A x (``generator`` on x's device)."""
        return self.noise.sample(self.A(self.validate_input(x)), generator=generator)

    # Composition

    def __matmul__(self, other: "LinearOperator") -> "Composition":
        if not isinstance(other, LinearOperator):
            return NotImplemented
        return Composition(self, other)

    def extra_repr(self) -> str:
        return f"noise={self.noise!r}"


def _check_cg(tol: float, max_iter: int) -> None:
    if not (tol >= 0 and math.isfinite(tol)):
        raise ValueError(f"tol must be a finite number ≥ 0, got {tol}")
    if int(max_iter) != max_iter or max_iter < 0:
        raise ValueError(f"max_iter must be an integer ≥ 0, got {max_iter}")


class Identity(LinearOperator):
    """The identity A x = x (denoising); A⁺ = Aᵀ = I.

    Args:
        noise: noise model (default ``GaussianNoise(0.0)``).
    """

    pinv_kind = "exact"

    def A(self, x: torch.Tensor) -> torch.Tensor:
        return self._checked_input(x)

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return self._checked_measurement(y)

    def A_dagger(self, y: torch.Tensor, *, tol: float = CG_TOL, max_iter: int = CG_MAX_ITER) -> torch.Tensor:
        """A⁺ y = y (``tol``/``max_iter`` unused)."""
        return self._checked_measurement(y)

    def prox_l2(self, z: torch.Tensor, y: torch.Tensor, gamma: Gamma, *, tol: float = CG_TOL,
                max_iter: int = CG_MAX_ITER) -> torch.Tensor:
        """Closed form (y + z/γ) / (1 + 1/γ)."""
        self.check_prox_args(z, y)
        lam = 1.0 / gamma_like(gamma, z)
        return (y + lam * z) / (1.0 + lam)

    def output_shape(self, input_shape: Sequence[int]) -> Shape:
        return tuple(int(s) for s in input_shape)

    def _norm_closed_form(self, shape: Shape) -> Optional[float]:
        return 1.0


class Composition(LinearOperator):
    """The composition (outer ∘ inner) x = outer.A(inner.A(x)), written ``outer @ inner``; the adjoint is
    inner.Aᵀ(outer.Aᵀ(y)), A⁺ and prox_l2 use conjugate gradients, the noise model is the outer one's.

    Args:
        outer: applied second.
        inner: applied first.
    """

    def __init__(self, outer: LinearOperator, inner: LinearOperator) -> None:
        if not isinstance(outer, LinearOperator) or not isinstance(inner, LinearOperator):
            raise ValueError("both sides of @ must be LinearOperator instances")
        super().__init__(noise=outer.noise)
        self.outer = outer
        self.inner = inner

    def A(self, x: torch.Tensor) -> torch.Tensor:
        return self.outer.A(self.inner.A(x))

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return self.inner.A_adjoint(self.outer.A_adjoint(y))

    def output_shape(self, input_shape: Sequence[int]) -> Shape:
        return self.outer.output_shape(self.inner.output_shape(input_shape))

    def _checked_input(self, x: torch.Tensor) -> torch.Tensor:
        self.inner._checked_input(x)
        return x

    def _check_output_shape(self, shape: Shape) -> None:
        self.outer._check_output_shape(shape)

    def _check_input_shape(self, shape: Shape) -> None:
        self.inner._check_input_shape(shape)
        self.outer._check_input_shape(self.inner.output_shape(shape))

    def default_input_shape(self) -> Optional[Shape]:
        return self.inner.default_input_shape()

    def extra_repr(self) -> str:
        return ""
