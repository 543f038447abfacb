"""Reading and writing images at the public boundary: float tensors (C, H, W) in [0, 1].

Every failure is an :class:`InputError` (a ``ValueError``) with a one-line message; outputs are written to a
temporary file beside the target and renamed into place, so a file is written whole or not at all.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from scoreinv.errors import InputError
from scoreinv.io.atomic import atomic_path

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}


def read_image(path, *, channels: int | None = None) -> torch.Tensor:
    """Read an 8- or 16-bit image as float32 (C, H, W) in [0, 1]; any alpha channel is dropped.

    Args:
        path: a PNG, JPEG, TIFF or BMP file.
        channels: 1 converts colour to grey (ITU-R 601 luma), 3 repeats grey; None keeps the file's channels.
    """
    pixels, _ = _read_pixels(path)
    image = {4: pixels[..., :3], 2: pixels[..., :1]}.get(pixels.shape[-1], pixels)  # drop alpha
    return _to_channels(torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1), channels, path)


def read_alpha(path) -> torch.Tensor | None:
    """The alpha channel of an RGBA / grey-alpha image as (1, H, W) in [0, 1], or None if it has none."""
    pixels, _ = _read_pixels(path)
    if pixels.shape[-1] not in (2, 4):
        return None
    return torch.from_numpy(np.ascontiguousarray(pixels[..., -1:])).permute(2, 0, 1)


def _read_pixels(path) -> tuple[np.ndarray, int]:
    """(H, W, C) float32 in [0, 1] and the bit depth; one-line errors for missing or unreadable files."""
    import skimage.io

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, expected an image file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            array = skimage.io.imread(str(path))
    except Exception as error:  # noqa: BLE001 - every decoder error becomes one line
        raise InputError(f"{path}: not a readable image ({type(error).__name__})") from None
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[-1] not in (1, 2, 3, 4) or min(array.shape[:2]) < 1:
        raise InputError(f"{path}: unsupported image layout {array.shape}; expected grey, RGB or RGBA")
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0, 8
    if array.dtype == np.uint16:
        return array.astype(np.float32) / 65535.0, 16
    if array.dtype == bool:
        return array.astype(np.float32), 1
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise InputError(f"{path}: the image holds NaN or infinite values")
    if array.min() < 0 or array.max() > 1:
        raise InputError(f"{path}: floating-point pixels must lie in [0, 1], found [{array.min():.3g}, {array.max():.3g}]")
    return array, 32


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
    """Write (C, H, W) or (H, W) in [0, 1] as an 8-bit PNG/JPEG, whole or not at all."""
    import skimage.io

    array = to_uint8(image)
    with atomic_path(path) as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            skimage.io.imsave(str(tmp), array, check_contrast=False)
    return Path(path)


def list_images(folder) -> list[Path]:
    """Image files directly in ``folder``, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(f"{folder}: holds no PNG/JPEG/TIFF/BMP images")
    return files
