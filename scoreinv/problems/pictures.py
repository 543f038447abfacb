"""Pictures named on the command line: files, or scikit-image's pictures as skimage:NAME."""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from scoreinv.errors import InputError
from scoreinv.io.images import _read_pixels, read_image
from scoreinv.problems import ct_units

# Bundled scikit-image pictures (no download needed): skimage:NAME
SKIMAGE_PICTURES = ("astronaut", "brick", "camera", "cat", "chelsea", "coffee", "coins", "grass", "gravel", "moon",
                    "page", "rocket", "shepp_logan_phantom", "text")
SKIMAGE_PREFIX = "skimage:"


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
    """A clean CT image (1, H, W) in [0, 1]: a 16-bit CT PNG (HU + 1024, see :mod:`scoreinv.problems.ct_units`) or any picture
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
