"""A measurement the user brings (an image or sinogram file) and the operator that made it."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

import operators as ops
from scoreinv.errors import InputError, first_line
from scoreinv.io.images import read_alpha
from scoreinv.problems import ct_units
from scoreinv.problems.pictures import input_path, read_picture
from scoreinv.problems.specs import parse_angles, parse_kernel, read_mask, read_sinogram

FAMILIES = ("inpaint", "deblur", "sr", "ct")
AUTO = "auto"  # noise="auto": σ_y estimated from the measurement (scoreinv.problems.noise_level)
DEFAULT_TASK = {"inpaint": "inpaint-random", "deblur": "deblur-gauss", "sr": "sr4", "ct": "ct-sparse"}


@dataclass
class Problem:
    """One inverse problem ready for :func:`scoreinv.reconstruct`.

    Attributes:
        task: the task's name ("inpaint", …, or a task of :data:`scoreinv.problems.tasks.TASKS` when simulated).
        family: "inpaint", "deblur", "sr" or "ct".
        operator: the ``operators.LinearOperator`` with its noise model (σ_y).
        y: the measurement (1, C, …) as ``operator.A`` produces it.
        image_shape: shape (1, C, H, W) of the image to reconstruct.
        truth: the clean image (1, C, H, W) in [0, 1] when simulated, else None.
        details: what defines the operator (mask file, kernel, scale, angles, σ_y), for the JSON sidecar.
        notes: one-line remarks for the user (cropping, defaults taken).
    """

    task: str
    family: str
    operator: ops.LinearOperator
    y: torch.Tensor
    image_shape: tuple
    truth: torch.Tensor | None = None
    details: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    @property
    def sigma_y(self) -> float:
        return float(self.operator.noise.sigma)


def _operator_error(error: Exception, context: str) -> InputError:
    return InputError(f"{context}: {first_line(error)}")


def _checked(operator: ops.LinearOperator, image_shape: tuple, context: str) -> ops.LinearOperator:
    """The operator, after checking that it accepts images of ``image_shape`` (one-line InputError otherwise)."""
    try:
        operator.output_shape(image_shape)
    except ValueError as error:
        raise _operator_error(error, context) from None
    return operator


def _noise(sigma: float) -> ops.GaussianNoise:
    try:
        return ops.GaussianNoise(sigma)
    except ValueError as error:
        raise InputError(f"--noise: {first_line(error)}") from None


def _noise_or_auto(noise) -> ops.GaussianNoise:
    """The noise model of ``noise`` (a number, or "auto": noiseless until :func:`with_estimated_noise`)."""
    if isinstance(noise, str):
        if noise != AUTO:
            raise InputError(f"--noise takes a number in [0, 1] or auto, got {noise!r}")
        return ops.GaussianNoise(0.0)
    return _noise(noise)


def with_estimated_noise(problem: Problem) -> Problem:
    """``problem`` with σ_y estimated from its measurement (:func:`~scoreinv.problems.noise_level.estimate_noise`):
    its operator's noise model, its details (``sigma_y``, ``sigma_y_source``, ``sigma_y_estimator``; for a simulated
    problem also ``sigma_y_simulated``, the truth) and a note say so."""
    from scoreinv.problems.noise_level import estimate_noise

    estimate = estimate_noise(problem.y, problem.operator)
    try:
        problem.operator.noise = ops.GaussianNoise(estimate.sigma)
    except ValueError:
        raise InputError(f"the noise level estimated from the measurement, {estimate.sigma:.4g}, is above 1: check "
                         f"the measurement's scale, or pass --noise") from None
    truth = problem.details.get("sigma_y") if problem.truth is not None else None
    problem.details.update(sigma_y=estimate.sigma, sigma_y_source="estimated", sigma_y_estimator=estimate.method)
    if truth is not None:
        problem.details["sigma_y_simulated"] = truth
    simulated = f"; simulated with {truth:g}" if truth is not None else ""
    problem.notes.append(f"σ_y estimated from the measurement: {estimate.sigma:.4g} ({estimate.method}{simulated})")
    return problem


def measured_inpaint(spec: str, *, mask: str | None, noise: float | str, channels: int | None) -> Problem:
    """A damaged image and its mask (``mask``: white = known; else the image's alpha: transparent = missing).

    Args:
        spec: the damaged image (values under missing pixels are ignored).
        mask: mask image path, or None for the alpha channel of ``spec``.
        noise: σ_y of the known pixels in [0, 1] units, or "auto" to estimate it from them.
        channels: 1 or 3 to convert the image, None to keep its own.
    """
    image = read_picture(spec, channels=channels)
    shape_hw = tuple(image.shape[-2:])
    if mask is not None:
        known = read_mask(mask, shape_hw, image_name=spec)
        source = str(mask)
    else:
        alpha = read_alpha(spec) if input_path(spec) is not None else None
        if alpha is None:
            raise InputError(f"{spec}: inpainting needs a mask: pass --mask MASK.png (white = known) or give an RGBA "
                             "PNG whose transparent pixels are the missing ones")
        known = (alpha >= 0.5).float()[None]
        source = f"alpha channel of {spec}"
    try:
        operator = ops.Mask(known, noise=_noise_or_auto(noise))
    except ValueError as error:
        raise _operator_error(error, source) from None
    x_shape = (1, *image.shape)
    y = operator.A(image[None])
    details = {"mask": source, "missing_fraction": round(operator.missing_fraction, 4), "sigma_y": noise}
    return _finished(Problem("inpaint", "inpaint", operator, y, x_shape, details=details), noise)


def measured_deblur(spec: str, *, kernel: str, noise: float | str, channels: int | None) -> Problem:
    """A blurry image with its blur: ``kernel`` as :func:`parse_kernel` reads it, circular boundary.

    Args:
        spec: the blurry image.
        kernel: kernel specification.
        noise: σ_y in [0, 1] units, or "auto" to estimate it from the image.
        channels: 1 or 3 to convert the image, None to keep its own.
    """
    image = read_picture(spec, channels=channels)
    weights, description = parse_kernel(kernel)
    x_shape = (1, *image.shape)
    operator = _checked(ops.Blur(weights, noise=_noise_or_auto(noise)), x_shape, f"--kernel {kernel}")
    details = {"kernel": description, "kernel_size": list(weights.shape), "boundary": "circular", "sigma_y": noise}
    return _finished(Problem("deblur", "deblur", operator, image[None], x_shape, details=details), noise)


def measured_sr(spec: str, *, scale: int, noise: float | str, channels: int | None) -> Problem:
    """A low-resolution image, taken as ``scale`` × ``scale`` block averages of the image to reconstruct.

    Args:
        spec: the low-resolution image (h, w); the result is (scale·h, scale·w).
        scale: integer factor ≥ 2.
        noise: σ_y in [0, 1] units, or "auto" to estimate it from the image.
        channels: 1 or 3 to convert the image, None to keep its own.
    """
    image = read_picture(spec, channels=channels)
    h, w = image.shape[-2:]
    x_shape = (1, image.shape[0], h * scale, w * scale)
    operator = _checked(ops.Downsample(scale, filter="box", noise=_noise_or_auto(noise)), x_shape, f"--scale {scale}")
    details = {"scale": scale, "filter": "box", "sigma_y": noise}
    return _finished(Problem("sr", "sr", operator, image[None], x_shape, details=details), noise)


def measured_ct(path: str, *, angles: str | None, size: tuple[int, int] | None,
               noise: float | str) -> Problem:
    """A parallel-beam sinogram (.npy) with its projection angles and the image size it was measured at.

    Args:
        path: sinogram .npy, (n_angles, detectors) or (1, n_angles, detectors), line integrals in image values ×
            pixel lengths (see :mod:`scoreinv.problems.ct_units`).
        angles: :func:`parse_angles` form; default: the sinogram's rows evenly over [0°, 180°).
        size: image (H, W); default ``ct_units.WORKING_SIZE`` squared. Detectors must be ⌈√(H² + W²)⌉.
        noise: σ_y in sinogram units, or "auto" to estimate it from the sinogram.
    """
    y = read_sinogram(path)
    _, channels, rows, detectors = y.shape
    notes = []
    if channels != 1:
        raise InputError(f"{path}: CT sinograms have one channel, got {channels}")
    if angles is None:
        degrees = np.arange(rows) * (180.0 / rows)
        notes.append(f"angles: {rows} views evenly over 0-180 degrees (pass --angles otherwise)")
    else:
        degrees = parse_angles(angles)
    if len(degrees) != rows:
        raise InputError(f"{path}: the sinogram has {rows} angle rows but --angles gives {len(degrees)} angles")
    height, width = size or (ct_units.WORKING_SIZE, ct_units.WORKING_SIZE)
    expected = math.ceil(math.hypot(height, width))
    if detectors != expected:
        hint = _size_for_detectors(detectors)
        fix = f"pass --size {hint}" if hint else "check the sinogram's geometry"
        raise InputError(f"{path}: the sinogram has {detectors} detectors but a {height}x{width} image needs "
                         f"{expected} (⌈√(H²+W²)⌉); {fix}")
    try:
        operator = ops.ParallelBeamCT((height, width), degrees, noise=_noise_or_auto(noise))
    except ValueError as error:
        raise _operator_error(error, path) from None
    details = {"angles_deg": [round(float(a), 6) for a in degrees], "detectors": detectors, "size": [height, width],
               "sigma_y": noise, "units": "sinogram: image values x pixel lengths"}
    return _finished(Problem("ct", "ct", operator, y, (1, 1, height, width), details=details, notes=notes), noise)


def _finished(problem: Problem, noise) -> Problem:
    return with_estimated_noise(problem) if noise == AUTO else problem


def _size_for_detectors(detectors: int) -> int | None:
    """The square side N with ⌈N√2⌉ = detectors, if there is one."""
    for n in range(max(1, int(detectors / math.sqrt(2)) - 2), int(detectors / math.sqrt(2)) + 3):
        if math.ceil(math.hypot(n, n)) == detectors:
            return n
    return None
