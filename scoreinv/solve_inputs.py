"""What ``scoreinv solve`` reads: a user's measurement (damaged image + mask, blurry image + kernel, low-resolution
image + scale, sinogram + angles) or a clean picture to simulate one from, turned into a :class:`Problem`.

Images are (C, H, W) / (1, C, H, W) float32 in [0, 1]; σ_y is in those units (sinogram units for CT). Every bad
input becomes an :class:`~scoreinv.imageio.InputError` with one line that names the file and what to change.
"""
from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import operators as ops

from . import ct_units
from .imageio import InputError, _read_pixels, read_alpha, read_image
from .tasks import TASKS, Task, simulate

FAMILIES = ("inpaint", "deblur", "sr", "ct")
DEFAULT_TASK = {"inpaint": "inpaint-random", "deblur": "deblur-gauss", "sr": "sr4", "ct": "ct-sparse"}
# Bundled scikit-image pictures (no download needed): skimage:NAME
SKIMAGE_PICTURES = ("astronaut", "brick", "camera", "cat", "chelsea", "coffee", "coins", "grass", "gravel", "moon",
                    "page", "rocket", "shepp_logan_phantom", "text")
SKIMAGE_PREFIX = "skimage:"
KERNEL_FORMS = "gaussian:SIGMA[,SIZE], motion:LENGTH,ANGLE, levin:1..8, or a .npy / image file"
ANGLE_FORMS = "N (views over 180°), START:STOP:N (degrees, STOP excluded) or a .npy / .txt file of degrees"


@dataclass
class Problem:
    """One inverse problem ready for :func:`scoreinv.reconstruct`.

    Attributes:
        task: the task's name ("inpaint", …, or a task of :data:`scoreinv.tasks.TASKS` when simulated).
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


# Small parsers

def input_stem(spec: str) -> str:
    """The name outputs are derived from: ``skimage:camera`` → camera, ``dir/photo.png`` → photo."""
    return spec[len(SKIMAGE_PREFIX):] if spec.startswith(SKIMAGE_PREFIX) else Path(spec).stem


def input_path(spec: str) -> Path | None:
    """The file behind an INPUT, or None for a ``skimage:NAME`` picture."""
    return None if spec.startswith(SKIMAGE_PREFIX) else Path(spec)


def parse_size(text: str) -> tuple[int, int]:
    """"256" → (256, 256); "192x256" → (192, 256) (height × width in pixels)."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:[xX×]\s*(\d+)\s*)?", text or "")
    if not match:
        raise InputError(f"--size takes H or HxW in pixels, e.g. 256 or 192x256, got {text!r}")
    h = int(match.group(1))
    w = int(match.group(2)) if match.group(2) else h
    if h < 8 or w < 8:
        raise InputError(f"--size must be at least 8x8 pixels, got {h}x{w}")
    return h, w


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{what}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise InputError(f"{what}: {text!r} is not a finite number")
    return value


def read_picture(spec: str, *, channels: int | None = None) -> torch.Tensor:
    """An image file or a bundled scikit-image picture (``skimage:camera``) as (C, H, W) in [0, 1].

    Args:
        spec: a PNG/JPEG/TIFF/BMP path, or ``skimage:NAME`` with NAME in :data:`SKIMAGE_PICTURES`.
        channels: 1 (grey) or 3 (colour) to convert; None keeps the picture's own.
    """
    if not spec.startswith(SKIMAGE_PREFIX):
        return read_image(spec, channels=channels)
    name = spec[len(SKIMAGE_PREFIX):]
    if name not in SKIMAGE_PICTURES:
        raise InputError(f"unknown scikit-image picture {name!r}; choose one of {', '.join(SKIMAGE_PICTURES)}")
    import skimage.data

    array = np.asarray(getattr(skimage.data, name)())
    if array.dtype == np.uint8:
        array = array.astype(np.float32) / 255.0
    array = np.clip(array.astype(np.float32), 0, 1)
    if array.ndim == 2:
        array = array[..., None]
    image = torch.from_numpy(np.ascontiguousarray(array[..., :3])).permute(2, 0, 1)
    if channels == 1 and image.shape[0] == 3:
        image = (image * torch.tensor([0.299, 0.587, 0.114]).reshape(3, 1, 1)).sum(0, keepdim=True)
    elif channels == 3 and image.shape[0] == 1:
        image = image.expand(3, -1, -1)
    return image.contiguous()


def read_ct_picture(spec: str, *, size: tuple[int, int] | None) -> torch.Tensor:
    """A clean CT image (1, H, W) in [0, 1]: a 16-bit CT PNG (HU + 1024, see :mod:`scoreinv.ct_units`) or any picture
    taken as [0, 1] attenuation (grey). ``size`` resizes it (area averaging); None keeps the picture's size, except
    that square 16-bit CT PNGs of a multiple of the working size (the shared 512² slices) are reduced to it."""
    path = input_path(spec)
    if path is not None:
        pixels, depth = _read_pixels(path)
        if depth == 16 and pixels.shape[-1] == 1:
            image = ct_units.read_ct_png(path, size=None)
            h, w = image.shape[-2:]
            if size is None and h == w and h > ct_units.WORKING_SIZE and h % ct_units.WORKING_SIZE == 0:
                size = (ct_units.WORKING_SIZE, ct_units.WORKING_SIZE)
            return resize(image, size) if size else image
    image = read_picture(spec, channels=1)
    return resize(image, size) if size else image


def resize(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(C, H, W) in [0, 1] → (C, *size): block averaging for integer reductions, else antialiased bilinear."""
    h, w = image.shape[-2:]
    if (h, w) == tuple(size):
        return image
    if h % size[0] == 0 and w % size[1] == 0:
        return F.avg_pool2d(image[None], (h // size[0], w // size[1]))[0]
    return F.interpolate(image[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0].clamp(0, 1)


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
        raise InputError(f"--kernel {spec}: {_first_line(error)}") from None


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
        raise InputError(f"{path}: cannot read angles in degrees ({_first_line(error)})") from None
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
        raise InputError(f"{path}: not a readable .npy array ({_first_line(error)})") from None
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
        raise InputError(f"--box {spec}: {_first_line(error)}") from None


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _operator_error(error: Exception, context: str) -> InputError:
    return InputError(f"{context}: {_first_line(error)}")


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
        raise InputError(f"--noise: {_first_line(error)}") from None


# Measurements as a user has them

def measured_inpaint(spec: str, *, mask: str | None, noise: float, channels: int | None) -> Problem:
    """A damaged image and its mask (``mask``: white = known; else the image's alpha: transparent = missing).

    Args:
        spec: the damaged image (values under missing pixels are ignored).
        mask: mask image path, or None for the alpha channel of ``spec``.
        noise: σ_y of the known pixels in [0, 1] units.
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
        operator = ops.Mask(known, noise=_noise(noise))
    except ValueError as error:
        raise _operator_error(error, source) from None
    x_shape = (1, *image.shape)
    y = operator.A(image[None])
    details = {"mask": source, "missing_fraction": round(operator.missing_fraction, 4), "sigma_y": noise}
    return Problem("inpaint", "inpaint", operator, y, x_shape, details=details)


def measured_deblur(spec: str, *, kernel: str, noise: float, channels: int | None) -> Problem:
    """A blurry image with its blur: ``kernel`` as :func:`parse_kernel` reads it, circular boundary.

    Args:
        spec: the blurry image.
        kernel: kernel specification.
        noise: σ_y in [0, 1] units.
        channels: 1 or 3 to convert the image, None to keep its own.
    """
    image = read_picture(spec, channels=channels)
    weights, description = parse_kernel(kernel)
    x_shape = (1, *image.shape)
    operator = _checked(ops.Blur(weights, noise=_noise(noise)), x_shape, f"--kernel {kernel}")
    details = {"kernel": description, "kernel_size": list(weights.shape), "boundary": "circular", "sigma_y": noise}
    return Problem("deblur", "deblur", operator, image[None], x_shape, details=details)


def measured_sr(spec: str, *, scale: int, noise: float, channels: int | None) -> Problem:
    """A low-resolution image, taken as ``scale`` × ``scale`` block averages of the image to reconstruct.

    Args:
        spec: the low-resolution image (h, w); the result is (scale·h, scale·w).
        scale: integer factor ≥ 2.
        noise: σ_y in [0, 1] units.
        channels: 1 or 3 to convert the image, None to keep its own.
    """
    image = read_picture(spec, channels=channels)
    h, w = image.shape[-2:]
    x_shape = (1, image.shape[0], h * scale, w * scale)
    operator = _checked(ops.Downsample(scale, filter="box", noise=_noise(noise)), x_shape, f"--scale {scale}")
    details = {"scale": scale, "filter": "box", "sigma_y": noise}
    return Problem("sr", "sr", operator, image[None], x_shape, details=details)


def measured_ct(path: str, *, angles: str | None, size: tuple[int, int] | None, noise: float) -> Problem:
    """A parallel-beam sinogram (.npy) with its projection angles and the image size it was measured at.

    Args:
        path: sinogram .npy, (n_angles, detectors) or (1, n_angles, detectors), line integrals in image values ×
            pixel lengths (see :mod:`scoreinv.ct_units`).
        angles: :func:`parse_angles` form; default: the sinogram's rows evenly over [0°, 180°).
        size: image (H, W); default ``ct_units.WORKING_SIZE`` squared. Detectors must be ⌈√(H² + W²)⌉.
        noise: σ_y in sinogram units.
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
        operator = ops.ParallelBeamCT((height, width), degrees, noise=_noise(noise))
    except ValueError as error:
        raise _operator_error(error, path) from None
    details = {"angles_deg": [round(float(a), 6) for a in degrees], "detectors": detectors, "size": [height, width],
               "sigma_y": noise, "units": "sinogram: image values x pixel lengths"}
    return Problem("ct", "ct", operator, y, (1, 1, height, width), details=details, notes=notes)


def _size_for_detectors(detectors: int) -> int | None:
    """The square side N with ⌈N√2⌉ = detectors, if there is one."""
    for n in range(max(1, int(detectors / math.sqrt(2)) - 2), int(detectors / math.sqrt(2)) + 3):
        if math.ceil(math.hypot(n, n)) == detectors:
            return n
    return None


# Simulated measurements

def simulated(task: str, spec: str, *, mask: str | None = None, box: str | None = None, missing: float | None = None,
              kernel: str | None = None, scale: int | None = None, angles: str | None = None,
              size: tuple[int, int] | None = None, noise: float | None = None, channels: int | None = None,
              seed: int = 0) -> Problem:
    """A clean picture, its simulated measurement y = A x + n and the truth, from the task table
    (:data:`scoreinv.tasks.TASKS`) with the operator options replacing the task's own.

    Args:
        task: a family ("inpaint", "deblur", "sr", "ct": its default task) or a task name of the table.
        spec: the clean picture (file or ``skimage:NAME``; for ct also a 16-bit CT PNG).
        mask, box, missing: inpaint operator: a mask file (white = known), a box (:func:`parse_box`) or the missing
            fraction of a random mask in (0, 1).
        kernel: deblur kernel (:func:`parse_kernel`).
        scale: sr factor ≥ 2 (the picture is cropped to a multiple of it).
        angles: ct views (:func:`parse_angles`); size: ct image (H, W) the picture is resized to.
        noise: σ_y replacing the task's ([0, 1] units; sinogram units for ct).
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
    sigma_y = base.sigma_y if noise is None else float(noise)
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
    return Problem(name, family, operator, y, tuple(truth.shape), truth=truth, details=details, notes=notes)


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
                raise InputError(f"--missing {missing}: {_first_line(error)}") from None
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
