"""Parsing what describes an operator: blur kernels, CT angles, sinograms, masks and boxes."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

import operators as ops
from scoreinv.errors import InputError, first_line
from scoreinv.io.images import read_image
from scoreinv.problems.pictures import _number

KERNEL_FORMS = "gaussian:SIGMA[,SIZE], motion:LENGTH,ANGLE, levin:1..8, or a .npy / image file"
ANGLE_FORMS = "N (views over 180°), START:STOP:N (degrees, STOP excluded) or a .npy / .txt file of degrees"


def parse_kernel(spec: str) -> tuple[torch.Tensor, str]:
    """A blur kernel from ``gaussian:SIGMA[,SIZE]`` (σ in pixels), ``motion:LENGTH,ANGLE`` (pixels, degrees),
    ``levin:N`` (the Levin et al. 2009 kernels of the shared folder) or a .npy / image file.

    Returns:
        ((h, w) float32 kernel summing to 1, a description for the JSON sidecar).
    """
    kind, _, rest = spec.partition(":")
    try:
        if kind == "gaussian" and rest:
            parts = rest.split(",")
            if len(parts) > 2:
                raise InputError(f"--kernel gaussian:SIGMA[,SIZE], got {spec!r}")
            sigma = _number(parts[0], "--kernel gaussian sigma")
            size = int(_number(parts[1], "--kernel gaussian size")) if len(parts) == 2 else None
            return ops.gaussian_kernel(sigma, size), spec
        if kind == "motion" and rest:
            parts = rest.split(",")
            if len(parts) != 2:
                raise InputError(f"--kernel motion:LENGTH,ANGLE (pixels, degrees), got {spec!r}")
            length = _number(parts[0], "--kernel motion length")
            return ops.motion_kernel(int(length) if length == int(length) else length,
                                     _number(parts[1], "--kernel motion angle")), spec
        if kind == "levin" and rest:
            index = int(_number(rest, "--kernel levin number"))
            if not 1 <= index <= 8:
                raise InputError(f"--kernel levin:N takes N from 1 to 8, got {rest!r}")
            return ops.levin_kernels()[index - 1], spec
        path = Path(spec)
        if not path.exists():
            raise InputError(f"--kernel {spec!r}: no such file; use {KERNEL_FORMS}")
        if path.suffix.lower() != ".npy":
            read_image(path)  # one-line error for unreadable images
        return ops.load_kernel(path), str(path)
    except ValueError as error:
        if isinstance(error, InputError):
            raise
        raise InputError(f"--kernel {spec}: {first_line(error)}") from None


def parse_angles(spec: str) -> np.ndarray:
    """Projection angles in degrees from N (evenly over [0°, 180°)), START:STOP:N (N views evenly over
    [START, STOP)) or a .npy / .txt file holding the angles in degrees."""
    text = spec.strip()
    if re.fullmatch(r"\d+", text):
        n = int(text)
        if n < 1:
            raise InputError(f"--angles needs at least one view, got {spec!r}")
        return np.arange(n) * (180.0 / n)
    if ":" in text and not Path(text).exists():
        parts = text.split(":")
        if len(parts) != 3 or not re.fullmatch(r"\d+", parts[2].strip()):
            raise InputError(f"--angles takes {ANGLE_FORMS}; got {spec!r}")
        start, stop = _number(parts[0], "--angles START"), _number(parts[1], "--angles STOP")
        n = int(parts[2])
        if n < 1 or not stop > start:
            raise InputError(f"--angles START:STOP:N needs STOP > START and N ≥ 1, got {spec!r}")
        return start + np.arange(n) * ((stop - start) / n)
    path = Path(text)
    if not path.is_file():
        raise InputError(f"--angles {spec!r}: no such file; use {ANGLE_FORMS}")
    try:
        angles = np.load(path, allow_pickle=False) if path.suffix.lower() == ".npy" else np.loadtxt(path, ndmin=1)
        angles = np.asarray(angles, dtype=np.float64)
    except (OSError, ValueError) as error:
        raise InputError(f"{path}: cannot read angles in degrees ({first_line(error)})") from None
    if angles.ndim != 1 or angles.size == 0:
        raise InputError(f"{path}: expected a list of angles in degrees, got shape {angles.shape}")
    if not np.isfinite(angles).all():
        raise InputError(f"{path}: the angles hold NaN or infinite values")
    return angles


def read_sinogram(path) -> torch.Tensor:
    """A sinogram .npy shaped (n_angles, detectors) or (C, n_angles, detectors) as (1, C, n_angles, detectors)
    float32, in the operator's units (image values × pixel lengths)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.suffix.lower() != ".npy":
        raise InputError(f"{path}: a CT measurement is a sinogram saved with numpy.save (.npy)")
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise InputError(f"{path}: not a readable .npy array ({first_line(error)})") from None
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise InputError(f"{path}: sinogram must hold numbers, got dtype {array.dtype}")
    if array.ndim not in (2, 3) or array.size == 0:
        raise InputError(f"{path}: sinogram must be (n_angles, detectors) or (C, n_angles, detectors), "
                         f"got shape {array.shape}")
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise InputError(f"{path}: the sinogram holds NaN or infinite values")
    sinogram = torch.from_numpy(np.ascontiguousarray(array))
    return (sinogram[None] if sinogram.ndim == 2 else sinogram)[None]


def read_mask(path, shape_hw: tuple[int, int], *, image_name: str = "the image") -> torch.Tensor:
    """A mask image (white = known, black = missing; threshold 0.5) as a (1, 1, H, W) 0/1 tensor.

    Args:
        path: the mask image; its size must be ``shape_hw``.
        shape_hw: (H, W) of the image it masks.
        image_name: how error messages name that image.
    """
    mask = read_image(path, channels=1)
    if tuple(mask.shape[-2:]) != tuple(shape_hw):
        raise InputError(f"{path}: mask is {mask.shape[-2]}x{mask.shape[-1]} but {image_name} is "
                         f"{shape_hw[0]}x{shape_hw[1]}; use a mask of the image's size")
    return (mask >= 0.5).float()[None]


def parse_box(spec: str, shape_hw: tuple[int, int]) -> ops.Mask:
    """A missing box from ``FRACTION`` (a centred box covering that share of the image, in (0, 1)) or
    ``HxW[+TOP+LEFT]`` in pixels (centred unless TOP, LEFT are given)."""
    text = spec.strip()
    try:
        match = re.fullmatch(r"(\d+)[xX](\d+)(?:\+(\d+)\+(\d+))?", text)
        if match:
            size = (int(match.group(1)), int(match.group(2)))
            position = (int(match.group(3)), int(match.group(4))) if match.group(3) else None
            return ops.Mask.box((1, 1, *shape_hw), size=size, position=position)
        area = _number(text, "--box")
        if not 0 < area < 1:
            raise InputError(f"--box FRACTION must lie in (0, 1), got {spec!r}")
        return ops.Mask.box((1, 1, *shape_hw), area=area)
    except ValueError as error:
        if isinstance(error, InputError):
            raise
        raise InputError(f"--box {spec}: {first_line(error)}") from None
