"""The CT intensity convention: Hounsfield units ↔ [0, 1], linear in attenuation, at a fixed working size.

μ / μ_water = 1 + HU / 1000, so ``x = (HU + 1000) / 3000`` is proportional to the linear attenuation
coefficient (x = 0 is air, x = 1/3 is water, x = 1 is HU 2000, dense bone); the Radon model y = A x
therefore holds for x. Values outside [0, 1] (HU below −1000, or above 2000, e.g. metal) are clipped.
CT slices are reconstructed at ``WORKING_SIZE`` × ``WORKING_SIZE`` pixels: the 512² slices of ../shared are
reduced by 2 × 2 averaging, which is linear in attenuation as well.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from scoreinv.errors import InputError
from scoreinv.io.images import _read_pixels

HU_AIR = -1000.0
HU_SPAN = 3000.0
PNG_OFFSET = 1024.0  # the 16-bit PNGs hold HU + 1024
WORKING_SIZE = 256


def hu_to_unit(hu: torch.Tensor) -> torch.Tensor:
    """HU → [0, 1] linear in attenuation (clipped)."""
    return ((hu - HU_AIR) / HU_SPAN).clamp(0, 1)


def unit_to_hu(x: torch.Tensor) -> torch.Tensor:
    """[0, 1] → HU."""
    return x * HU_SPAN + HU_AIR


def read_ct_png(path, *, size: int | None = WORKING_SIZE) -> torch.Tensor:
    """Read a 16-bit PNG holding HU + 1024 as (1, H, W) in [0, 1]; reduce to ``size`` by area averaging.

    Args:
        path: 16-bit single-channel PNG.
        size: output side in pixels (must divide the slice's side), or None to keep the file's size.
    """
    pixels, depth = _read_pixels(path)
    if depth != 16 or pixels.shape[-1] != 1:
        raise InputError(f"{path}: expected a 16-bit single-channel CT PNG (HU + 1024), got {depth}-bit with "
                         f"{pixels.shape[-1]} channel(s)")
    hu = torch.from_numpy(pixels[..., 0]).double() * 65535.0 - PNG_OFFSET
    x = hu_to_unit(hu).float()[None]
    if size is not None and tuple(x.shape[-2:]) != (size, size):
        h, w = x.shape[-2:]
        if h % size or w % size:
            raise InputError(f"{path}: a {h}x{w} slice cannot be reduced to {size}x{size}; use a multiple of {size}")
        x = F.avg_pool2d(x[None], (h // size, w // size))[0]
    return x
