"""Reading masks and kernels from image files or arrays into float64 arrays in [0, 1]."""
from __future__ import annotations

from pathlib import Path
from typing import Union

import numpy as np
import torch

ImageLike = Union[str, Path, np.ndarray, torch.Tensor]


def _scale_integer(a: np.ndarray) -> np.ndarray:
    """Map integer or bool pixels to [0, 1] floats (full range of the integer type)."""
    if a.dtype == np.bool_:
        return a.astype(np.float64)
    if np.issubdtype(a.dtype, np.integer):
        return a.astype(np.float64) / float(np.iinfo(a.dtype).max)
    return a.astype(np.float64)


def read_image(path: Union[str, Path]) -> np.ndarray:
    """Read an image file as an (H, W, C) float64 array in [0, 1] (C = 1, 2, 3 or 4 as stored)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no such image file: {path}; check the path")
    try:
        from PIL import Image
    except ImportError as err:  # pragma: no cover - Pillow ships with torchvision and scikit-image
        raise ValueError("reading images needs Pillow; pip install pillow") from err
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode == "P":
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
            elif im.mode in ("I;16", "I;16B", "I;16L"):
                arr = np.asarray(im, dtype=np.uint16)
                return _scale_integer(arr)[..., None]
            elif im.mode in ("I", "F"):
                arr = np.asarray(im, dtype=np.float64)
                return arr[..., None] / (arr.max() if arr.max() > 1 else 1.0)
            elif im.mode not in ("L", "LA", "RGB", "RGBA", "1"):
                im = im.convert("RGBA")
            arr = np.asarray(im)
    except OSError as err:
        raise ValueError(f"cannot read {path} as an image ({err}); use a PNG, JPEG or TIFF file") from err
    arr = _scale_integer(arr)
    return arr[..., None] if arr.ndim == 2 else arr


def to_gray(arr: np.ndarray) -> np.ndarray:
    """(H, W, C) → (H, W): mean of the colour channels, ignoring an alpha channel (C = 2 or 4)."""
    if arr.ndim == 2:
        return arr
    c = arr.shape[-1]
    if c in (2, 4):
        arr = arr[..., :-1]
    return arr.mean(-1)
