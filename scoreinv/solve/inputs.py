"""The checks at ``reconstruct``'s boundary: the measurement, the operator and the noise level, on one device."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from scoreinv.errors import InputError, first_line
from scoreinv.solve.rows import row_of

OPERATOR_INTERFACE = ("A", "A_adjoint", "A_dagger", "prox_l2", "norm", "to")
IMAGE_FAMILIES = ("inpaint", "deblur", "sr")  # measurements in image units; ct's sinograms are line integrals
RANGE_SLACK = 0.5  # [0, 1] units beyond the noise's 6 σ_y that a measurement of [0, 1] images may still reach


@dataclass(frozen=True)
class Measured:
    """A checked problem: the measurement and operator on the device, the image shape (B, C, H, W), σ_y ([0, 1]
    units) and where it came from ("given", "operator": its noise model's, "estimated": from y, by
    ``sigma_y_estimator``), the operator's family and its row of the settings table."""

    y: torch.Tensor
    operator: object
    x_shape: tuple
    sigma_y: float
    family: str
    row: str
    sigma_y_source: str = "given"
    sigma_y_estimator: str | None = None


def measured(y, operator, *, device: torch.device, sigma_y: float | str | None) -> Measured:
    """Check and place a measurement; one-line InputError or TypeError on anything :func:`reconstruct` cannot use.

    Args:
        y: the measurement (B, …) as ``operator.A`` produces it.
        operator: an ``operators.LinearOperator``, a DeepInverse ``LinearPhysics``, or any object with ``A``,
            ``A_adjoint``, ``A_dagger``, ``prox_l2``, ``norm(shape)`` and ``to(device)``.
        device: where to solve.
        sigma_y: the noise level ([0, 1] units, ≥ 0), None for ``operator.noise.sigma``, or "auto" to estimate it
            from y (:func:`scoreinv.problems.noise_level.estimate_noise`).
    """
    operator = _as_operator(operator)
    if not isinstance(y, torch.Tensor):
        raise InputError(f"y must be a torch.Tensor, got {type(y).__name__}")
    if y.is_complex() or not y.is_floating_point():
        kind = str(y.dtype).removeprefix("torch.")
        how = ("" if y.is_complex() else ", e.g. y.float()" if y.dtype == torch.bool else
               ", e.g. y.float() / 255" if y.dtype == torch.uint8 else ", e.g. y.float() / 65535 for 16-bit values")
        raise InputError(f"y is {kind}; pass real floats in [0, 1]{how}")
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
    noise, source, estimator = _noise_level(y, operator, sigma_y)
    family = getattr(operator, "family", "other")
    if family in IMAGE_FAMILIES:
        _check_range(y, noise, family)
    return Measured(y=y, operator=operator, x_shape=x_shape, sigma_y=noise, family=family, row=row_of(operator),
                    sigma_y_source=source, sigma_y_estimator=estimator)


def _noise_level(y: torch.Tensor, operator, sigma_y) -> tuple[float, str, str | None]:
    """(σ_y, its source, how it was estimated): the number given, the operator's, or "auto"'s estimate from y."""
    if isinstance(sigma_y, str):
        if sigma_y != "auto":
            raise InputError(f"sigma_y must be a finite number >= 0 or 'auto', got {sigma_y!r}")
        from scoreinv.problems.noise_level import estimate_noise

        estimate = estimate_noise(y, operator)
        return estimate.sigma, "estimated", estimate.method
    source = "operator" if sigma_y is None else "given"
    noise = getattr(getattr(operator, "noise", None), "sigma", 0.0) if sigma_y is None else sigma_y
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not math.isfinite(noise) or noise < 0:
        raise InputError(f"sigma_y must be a finite number >= 0 or 'auto', got {noise!r}")
    return float(noise), source, None


def _check_range(y: torch.Tensor, sigma_y: float, family: str) -> None:
    """One-line InputError, with how to scale, for a measurement of an image-domain operator far outside [0, 1].

    A mask, a blur kernel of non-negative weights summing to 1 and block averaging map [0, 1] images into [0, 1];
    Gaussian noise exceeds 6 σ_y in a pixel with probability 2e-9, and RANGE_SLACK allows for what the model leaves
    out (clipping, a camera's processing). Values beyond that band are another scale: 0-255, 0-65535 or [-1, 1].
    """
    margin = RANGE_SLACK + 6.0 * sigma_y
    low, high = float(y.min()), float(y.max())
    if -margin <= low and high <= 1.0 + margin:
        return
    if high > 1.0 + margin:
        hint = ("if it holds 0-255 values, pass y / 255" if high <= 255.5 else
                "if it holds 16-bit values, pass y / 65535" if high <= 65535.5 else "scale it to [0, 1]")
    else:
        hint = "if it is in [-1, 1], pass (y + 1) / 2" if low >= -1.0 - margin else "scale it to [0, 1]"
    raise InputError(f"y spans [{low:.4g}, {high:.4g}], outside [{-margin:.3g}, {1 + margin:.3g}] where a "
                     f"measurement of [0, 1] images lies (family {family}, sigma_y = {sigma_y:g}); {hint}")


def _as_operator(operator):
    """The operator itself, or a DeepInverse physics wrapped as one; TypeError naming what is missing."""
    if any(cls.__module__.split(".")[0] == "deepinv" for cls in type(operator).__mro__):  # its physics, or subclasses
        try:
            from scoreinv.interop.deepinv import from_physics
        except ImportError as error:
            raise TypeError(f"a DeepInverse {type(operator).__name__} needs scoreinv.interop.deepinv, which failed "
                            f"to import ({first_line(error)}); reinstall deepinv (pip install deepinv)") from None
        return from_physics(operator)
    missing = [name for name in OPERATOR_INTERFACE if not callable(getattr(operator, name, None))]
    if missing:
        raise TypeError(f"operator {type(operator).__name__} lacks {', '.join(missing)}: pass an operators."
                        f"LinearOperator (subclass it and define A and A_adjoint) or a DeepInverse LinearPhysics")
    return operator
