"""Reading and writing images at the public boundary: float tensors (C, H, W) in [0, 1].

Every failure is an :class:`InputError` (a ``ValueError``) with a one-line message; outputs are written to a
temporary file beside the target and renamed into place, so a file is written whole or not at all.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from scoreinv.errors import InputError
from scoreinv.io.atomic import atomic_path

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}


def read_image(path, *, channels: int | None = None, max_pixels: int | None = None) -> torch.Tensor:
    """Read an image as float32 (C, H, W) in [0, 1], its mode converted explicitly; any alpha channel is dropped
    (the stored colours are kept, not composited).

    Args:
        path: a PNG, JPEG, TIFF or BMP file (any mode of :mod:`scoreinv.io.pixels`).
        channels: 1 converts colour to grey (ITU-R 601 luma), 3 repeats grey; None keeps the file's channels.
        max_pixels: refuse files of more pixels, read from the header before decoding (default
            :func:`scoreinv.io.pixels.max_pixels`, 64 megapixels).
    """
    pixels, _ = _read_pixels(path, max_pixels=max_pixels)
    image = {4: pixels[..., :3], 2: pixels[..., :1]}.get(pixels.shape[-1], pixels)  # drop alpha
    return _to_channels(torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1), channels, path)


def read_alpha(path, *, max_pixels: int | None = None) -> torch.Tensor | None:
    """The alpha channel of an RGBA / grey-alpha / transparent-palette image as (1, H, W) in [0, 1], or None if it
    has none (a CMYK image has none: its K channel is ink)."""
    pixels, _ = _read_pixels(path, max_pixels=max_pixels)
    if pixels.shape[-1] not in (2, 4):
        return None
    return torch.from_numpy(np.ascontiguousarray(pixels[..., -1:])).permute(2, 0, 1)


def _read_pixels(path, *, max_pixels: int | None = None) -> tuple[np.ndarray, int]:
    """(H, W, C) float32 in [0, 1] and the bit depth; one-line errors for missing, unreadable, oversized or
    unsupported files (see :mod:`scoreinv.io.pixels` for each mode's conversion)."""
    from scoreinv.io.pixels import decode

    return decode(path, limit=max_pixels)


def _to_channels(image: torch.Tensor, channels: int | None, path) -> torch.Tensor:
    if channels is None or image.shape[0] == channels:
        return image.contiguous()
    if channels == 1 and image.shape[0] == 3:
        weights = torch.tensor([0.299, 0.587, 0.114], dtype=image.dtype).reshape(3, 1, 1)
        return (image * weights).sum(0, keepdim=True)
    if channels == 3 and image.shape[0] == 1:
        return image.expand(3, -1, -1).contiguous()
    raise InputError(f"{path}: cannot convert {image.shape[0]} channels to {channels}")


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """(C, H, W) or (H, W) in [0, 1] → (H, W[, C]) uint8, rounding and clipping."""
    array = image.detach().float().cpu().clamp(0, 1).mul(255).round().to(torch.uint8).numpy()
    if array.ndim == 3:
        array = array.transpose(1, 2, 0)
        if array.shape[-1] == 1:
            array = array[..., 0]
    return array


def write_image(path, image: torch.Tensor) -> Path:
    """Write (C, H, W) or (H, W) in [0, 1] as an 8-bit PNG/JPEG/TIFF/BMP, whole or not at all."""
    with atomic_path(path) as tmp:
        save_image(tmp, image, format=image_format(path))
    return Path(path)


def save_image(path, image: torch.Tensor, *, format: str | None = None) -> None:
    """Encode (C, H, W) or (H, W) in [0, 1] as 8 bits to ``path`` itself (no temporary: see
    :class:`scoreinv.io.output_set.OutputSet` and :func:`write_image` for whole-or-absent files).

    Args:
        path: the file to write.
        image: the picture.
        format: "PNG", "JPEG", "TIFF" or "BMP" (default: from ``path``'s suffix).
    """
    from PIL import Image

    Image.fromarray(to_uint8(image)).save(path, format=format or image_format(path))


def image_format(path) -> str:
    """Pillow's format name for an image file name's suffix (one-line InputError for others)."""
    suffix = Path(path).suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise InputError(f"{path}: use an image file name ending in .png (or .jpg, .tif, .bmp)")
    return {".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF"}.get(suffix, suffix[1:].upper())


def list_images(folder) -> list[Path]:
    """Image files directly in ``folder``, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(f"{folder}: holds no PNG/JPEG/TIFF/BMP images")
    return files
