"""Blur kernels: Gaussian and linear-motion kernels from kornia, the Levin et al. (2009) motion kernels of the
shared data folder, and user kernels from .npy or image files. Every kernel is a float32 (h, w) tensor that
sums to 1."""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from kornia.filters import get_gaussian_kernel2d, get_motion_kernel2d

from ._imageio import read_image, to_gray

PathLike = Union[str, Path]


# Where the shared data lives

def default_shared_dir() -> Path:
    """The shared folder: $SCOREINV_SHARED if set, else ``../shared`` beside the repository root."""
    env = os.environ.get("SCOREINV_SHARED")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared"


def kernels_dir(shared_dir: Optional[PathLike] = None) -> Path:
    """The kernel folder ``<shared>/data/kernels``."""
    return Path(shared_dir if shared_dir is not None else default_shared_dir()) / "data" / "kernels"


# Checks

def _pair(v: Union[int, float, Sequence], name: str, cast=float) -> Tuple:
    if isinstance(v, (int, float)):
        return cast(v), cast(v)
    v = tuple(v)
    if len(v) != 2:
        raise ValueError(f"{name} must be a number or a (vertical, horizontal) pair, got {v}")
    return cast(v[0]), cast(v[1])


def normalize_kernel(k: torch.Tensor, *, name: str = "kernel") -> torch.Tensor:
    """Check a 2-D kernel (finite, non-empty, positive sum) and scale it to sum to 1 (float32)."""
    if k.ndim != 2 or k.numel() == 0:
        raise ValueError(f"{name} must be a non-empty 2-D (h, w) array, got shape {tuple(k.shape)}")
    k = k.to(torch.float64)
    if not bool(torch.isfinite(k).all()):
        raise ValueError(f"{name} contains NaN or infinite values; fix the kernel file")
    s = float(k.sum())
    if not s > 0:
        raise ValueError(f"{name} sums to {s:g}; a blur kernel needs a positive sum (non-negative weights)")
    return (k / s).to(torch.float32)


# Kernels

def gaussian_kernel(sigma: Union[float, Tuple[float, float]], size: Union[int, Tuple[int, int], None] = None
                    ) -> torch.Tensor:
    """Isotropic or axis-aligned Gaussian blur kernel (kornia ``get_gaussian_kernel2d``), sums to 1.

    Args:
        sigma: standard deviation in pixels (> 0), or a (vertical, horizontal) pair.
        size: odd side length in pixels, or an (h, w) pair of odd sizes; default 2·⌈3σ⌉ + 1.

    Returns:
        (h, w) float32 tensor.
    """
    sy, sx = _pair(sigma, "sigma")
    if not (sy > 0 and sx > 0 and math.isfinite(sy) and math.isfinite(sx)):
        raise ValueError(f"sigma must be finite and > 0 pixels, got {sigma}")
    if size is None:
        size = (2 * math.ceil(3 * sy) + 1, 2 * math.ceil(3 * sx) + 1)
    h, w = _pair(size, "size", cast=int)
    if h < 1 or w < 1 or h % 2 == 0 or w % 2 == 0:
        raise ValueError(f"Gaussian kernel size must be odd and ≥ 1, got {h}×{w}; use e.g. {h | 1}×{w | 1}")
    k = get_gaussian_kernel2d((h, w), (sy, sx), dtype=torch.float64)[0]
    return normalize_kernel(k, name="Gaussian kernel")


def motion_kernel(length: int, angle: float, *, direction: float = 0.0) -> torch.Tensor:
    """Linear motion blur kernel (kornia ``get_motion_kernel2d``), sums to 1.

    Args:
        length: kernel side and motion length in pixels, odd, ≥ 3.
        angle: motion angle in degrees (counter-clockwise from the horizontal).
        direction: in [−1, 1]; 0 spreads the weight evenly, ±1 concentrates it at one end.

    Returns:
        (length, length) float32 tensor.
    """
    if int(length) != length or length < 3 or length % 2 == 0:
        raise ValueError(f"motion kernel length must be an odd integer ≥ 3, got {length}")
    if not math.isfinite(float(angle)):
        raise ValueError(f"motion angle must be a finite number of degrees, got {angle}")
    if not -1.0 <= float(direction) <= 1.0:
        raise ValueError(f"motion direction must be in [-1, 1], got {direction}")
    k = get_motion_kernel2d(int(length), float(angle), float(direction))[0]
    return normalize_kernel(k, name="motion kernel")


def load_kernel(path: PathLike, *, normalize: bool = True) -> torch.Tensor:
    """A user kernel from a .npy file (2-D array) or an image file (grey levels, colour averaged).

    Args:
        path: .npy, .png, .jpg, .tif… file.
        normalize: scale to sum 1 (default True); the kernel must then have a positive sum.

    Returns:
        (h, w) float32 tensor.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no such kernel file: {path}; check the path")
    if path.suffix.lower() == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise ValueError(f"cannot read {path} as a .npy array ({err}); save it with numpy.save") from err
        arr = np.squeeze(np.asarray(arr, dtype=np.float64))
    else:
        arr = to_gray(read_image(path))
    k = torch.from_numpy(np.ascontiguousarray(arr))
    if not normalize:
        if k.ndim != 2 or k.numel() == 0 or not bool(torch.isfinite(k).all()):
            raise ValueError(f"{path} must hold a finite, non-empty 2-D kernel, got shape {tuple(k.shape)}")
        return k.to(torch.float32)
    return normalize_kernel(k, name=f"kernel {path.name}")


def _kernel_files(names: List[str], what: str, shared_dir: Optional[PathLike]) -> List[torch.Tensor]:
    folder = kernels_dir(shared_dir)
    paths = [folder / name for name in names]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise ValueError(f"{what} not found in {folder} (missing {', '.join(missing)}); "
                         f"set SCOREINV_SHARED to the shared folder")
    return [load_kernel(p) for p in paths]


def levin_kernels(shared_dir: Optional[PathLike] = None) -> List[torch.Tensor]:
    """The 8 real camera-shake kernels of Levin, Weiss, Durand & Freeman (CVPR 2009), 13–27 px, in order.

    Args:
        shared_dir: the shared folder (default $SCOREINV_SHARED or ``../shared``); the kernels are read from
            ``<shared_dir>/data/kernels/levin09_1..8.npy``.

    Returns:
        list of 8 (h, w) float32 tensors summing to 1.
    """
    return _kernel_files([f"levin09_{i}.npy" for i in range(1, 9)], "Levin kernels", shared_dir)


def kernels12(shared_dir: Optional[PathLike] = None) -> List[torch.Tensor]:
    """The 12 motion kernels (25×25) of ``<shared_dir>/data/kernels/kernels12_01..12.npy``, in order.

    Args:
        shared_dir: the shared folder (default $SCOREINV_SHARED or ``../shared``).

    Returns:
        list of 12 (25, 25) float32 tensors summing to 1.
    """
    return _kernel_files([f"kernels12_{i:02d}.npy" for i in range(1, 13)], "kernels12 kernels", shared_dir)
