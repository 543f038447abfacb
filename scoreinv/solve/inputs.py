"""The checks at ``reconstruct``'s boundary: the measurement, the operator and the noise level, on one device."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from scoreinv.errors import InputError, first_line
from scoreinv.solve.rows import row_of

OPERATOR_INTERFACE = ("A", "A_adjoint", "A_dagger", "prox_l2", "norm", "to")


@dataclass(frozen=True)
class Measured:
    """A checked problem: the measurement and operator on the device, the image shape (B, C, H, W), σ_y ([0, 1]
    units), the operator's family and its row of the settings table."""

    y: torch.Tensor
    operator: object
    x_shape: tuple
    sigma_y: float
    family: str
    row: str


def measured(y, operator, *, device: torch.device, sigma_y: float | None) -> Measured:
    """Check and place a measurement; one-line InputError or TypeError on anything :func:`reconstruct` cannot use.

    Args:
        y: the measurement (B, …) as ``operator.A`` produces it.
        operator: an ``operators.LinearOperator``, a DeepInverse ``LinearPhysics``, or any object with ``A``,
            ``A_adjoint``, ``A_dagger``, ``prox_l2``, ``norm(shape)`` and ``to(device)``.
        device: where to solve.
        sigma_y: the noise level ([0, 1] units, ≥ 0), or None for ``operator.noise.sigma``.
    """
    operator = _as_operator(operator)
    if not isinstance(y, torch.Tensor):
        raise InputError(f"y must be a torch.Tensor, got {type(y).__name__}")
    if not bool(torch.isfinite(y).all()):
        raise InputError("the measurement holds NaN or infinite values")
    operator = operator.to(device)
    y = y.to(device=device, dtype=torch.float32)
    try:
        if hasattr(operator, "validate_measurement"):
            operator.validate_measurement(y)
        x_shape = tuple(operator.A_adjoint(y).shape)
    except (ValueError, RuntimeError) as error:
        raise InputError(f"measurement of shape {tuple(y.shape)} does not fit the operator: "
                         f"{first_line(error)}") from None
    noise = getattr(getattr(operator, "noise", None), "sigma", 0.0) if sigma_y is None else sigma_y
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not math.isfinite(noise) or noise < 0:
        raise InputError(f"sigma_y must be a finite number >= 0, got {noise!r}")
    return Measured(y=y, operator=operator, x_shape=x_shape, sigma_y=float(noise),
                    family=getattr(operator, "family", "other"), row=row_of(operator))


def _as_operator(operator):
    """The operator itself, or a DeepInverse physics wrapped as one; TypeError naming what is missing."""
    if type(operator).__module__.split(".")[0] == "deepinv":
        try:
            from scoreinv.interop.deepinv import from_physics
        except ImportError:
            raise TypeError(f"a DeepInverse {type(operator).__name__} cannot be passed directly yet: wrap it in an "
                            f"operators.LinearOperator subclass whose A and A_adjoint call it") from None
        return from_physics(operator)
    missing = [name for name in OPERATOR_INTERFACE if not callable(getattr(operator, name, None))]
    if missing:
        raise TypeError(f"operator {type(operator).__name__} lacks {', '.join(missing)}: pass an operators."
                        f"LinearOperator (subclass it and define A and A_adjoint) or a DeepInverse LinearPhysics")
    return operator
