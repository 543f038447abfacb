"""A measurement simulated from a clean picture with a benchmark task's operator and noise."""
from __future__ import annotations

import dataclasses

import torch

import operators as ops
from scoreinv.errors import InputError, first_line
from scoreinv.problems.measured import (AUTO, DEFAULT_TASK, FAMILIES, Problem, _checked, _noise, _operator_error,
                                        with_estimated_noise)
from scoreinv.problems.pictures import read_ct_picture, read_picture
from scoreinv.problems.specs import parse_angles, parse_box, parse_kernel, read_mask
from scoreinv.problems.tasks import TASKS, Task, simulate


def simulated(task: str, spec: str, *, mask: str | None = None, box: str | None = None, missing: float | None = None,
              kernel: str | None = None, scale: int | None = None, angles: str | None = None,
              size: tuple[int, int] | None = None, noise: float | None = None, channels: int | None = None,
              seed: int = 0) -> Problem:
    """A clean picture, its simulated measurement y = A x + n and the truth, from the task table
    (:data:`scoreinv.problems.tasks.TASKS`) with the operator options replacing the task's own.

    Args:
        task: a family ("inpaint", "deblur", "sr", "ct": its default task) or a task name of the table.
        spec: the clean picture (file or ``skimage:NAME``; for ct also a 16-bit CT PNG).
        mask, box, missing: inpaint operator: a mask file (white = known), a box (:func:`parse_box`) or the missing
            fraction of a random mask in (0, 1).
        kernel: deblur kernel (:func:`parse_kernel`).
        scale: sr factor ≥ 2 (the picture is cropped to a multiple of it).
        angles: ct views (:func:`parse_angles`); size: ct image (H, W) the picture is resized to.
        noise: σ_y replacing the task's ([0, 1] units; sinogram units for ct), or "auto": simulate with the task's
            σ_y, then estimate it blind from y (details: ``sigma_y`` the estimate, ``sigma_y_simulated`` the truth).
        channels: 1 or 3 to convert the picture (ct is always grey), None to keep its own.
        seed: seeds the random mask and the noise draw.
    """
    base = TASKS.get(DEFAULT_TASK.get(task, task))
    if base is None:
        raise InputError(f"unknown task {task!r}; choose one of {', '.join(FAMILIES + tuple(TASKS))}")
    family = base.family
    if family == "ct":
        if channels == 3:
            raise InputError("CT images are grey; drop --colour")
        image = read_ct_picture(spec, size=size)
    else:
        image = read_picture(spec, channels=channels)
    build, details, divisor = _simulated_operator(base, image.shape, mask=mask, box=box, missing=missing,
                                                  kernel=kernel, scale=scale, angles=angles, spec=spec)
    sigma_y = base.sigma_y if noise in (None, AUTO) else float(noise)
    _noise(sigma_y)
    task_spec = dataclasses.replace(base, sigma_y=sigma_y, divisor=divisor,
                                    build=lambda shape, index, g: _with_noise(build(shape, index, g), sigma_y))
    h, w = image.shape[-2:]
    if h < divisor or w < divisor:
        raise InputError(f"{spec}: a {h}x{w} picture is smaller than the factor {divisor}")
    try:
        operator, y, truth = simulate(task_spec, image, seed=seed)
    except ValueError as error:
        if isinstance(error, InputError):
            raise
        raise _operator_error(error, f"{spec} ({h}x{w}) with task {base.name}") from None
    notes = []
    if tuple(truth.shape[-2:]) != (h, w):
        notes.append(f"cropped {h}x{w} to {truth.shape[-2]}x{truth.shape[-1]} (a multiple of the scale {divisor})")
    details = {**details, "sigma_y": sigma_y}
    if family == "ct":
        details.update(size=list(truth.shape[-2:]), detectors=operator.detectors,
                       angles_deg=[round(float(a), 6) for a in operator.angles_deg])
    name = base.name if not details.pop("custom", False) else family
    problem = Problem(name, family, operator, y, tuple(truth.shape), truth=truth, details=details, notes=notes)
    return with_estimated_noise(problem) if noise == AUTO else problem


def _with_noise(operator: ops.LinearOperator, sigma_y: float) -> ops.LinearOperator:
    operator.noise = ops.GaussianNoise(sigma_y)
    return operator


def _simulated_operator(base: Task, shape: tuple, *, mask, box, missing, kernel, scale, angles, spec):
    """(build(shape, index, generator) → operator, details, divisor) for ``base`` with the user's options."""
    family = base.family
    hw = tuple(shape[-2:])
    if family == "inpaint":
        if sum(option is not None for option in (mask, box, missing)) > 1:
            raise InputError("give only one of --mask, --box and --missing")
        if mask is not None:
            known = read_mask(mask, hw, image_name=spec)
            operator = _mask_or_error(known, mask)
            return (lambda s, i, g: operator), {"mask": str(mask), "custom": True,
                                                "missing_fraction": round(operator.missing_fraction, 4)}, 1
        if box is not None:
            operator = parse_box(box, hw)
            return (lambda s, i, g: operator), {"box": box, "custom": True,
                                                "missing_fraction": round(operator.missing_fraction, 4)}, 1
        if missing is not None:
            try:
                ops.Mask.random(hw, missing=missing)
            except ValueError as error:
                raise InputError(f"--missing {missing}: {first_line(error)}") from None
            return (lambda s, i, g: ops.Mask.random(s, missing=missing, generator=g)), \
                {"mask": "random", "missing_fraction": missing, "custom": True}, 1
        return base.build, {"operator": base.description}, base.divisor
    if family == "deblur" and kernel is not None:
        weights, description = parse_kernel(kernel)
        _checked(ops.Blur(weights), (1, *shape), f"--kernel {kernel}")
        return (lambda s, i, g: ops.Blur(weights)), {"kernel": description, "kernel_size": list(weights.shape),
                                                       "boundary": "circular", "custom": True}, 1
    if family == "sr" and scale is not None:
        return (lambda s, i, g: ops.Downsample(scale, filter="box")), {"scale": scale, "filter": "box",
                                                                        "custom": True}, scale
    if family == "ct" and angles is not None:
        degrees = parse_angles(angles)
        return (lambda s, i, g: ops.ParallelBeamCT(s[-2:], degrees)), \
            {"angles_deg": [round(float(a), 6) for a in degrees], "custom": True}, 1
    return base.build, {"operator": base.description}, base.divisor


def _mask_or_error(known: torch.Tensor, source) -> ops.Mask:
    try:
        return ops.Mask(known)
    except ValueError as error:
        raise _operator_error(error, str(source)) from None
