"""BM3D denoising and deblurring (Dabov et al. 2007, 2008), through the optional ``bm3d`` package (Mäkinen,
Azzari & Foi 2020; Tampere University, free for non-commercial use only: ``pip install 'scoreinv[bm3d]'``).

Nothing here imports ``bm3d`` until a function runs, so the package stays optional; :func:`available` tells
whether it is installed, and ``MISSING_NOTE`` is the one line printed where a BM3D baseline is skipped.
"""
from __future__ import annotations

import importlib.util
import math
import sys
import types

import numpy as np
import torch
import torch.nn.functional as F

from scoreinv.baselines.deconvolution import kernel_otf, wiener_baseline

MISSING_NOTE = ("note: the bm3d package is not installed, so the BM3D baseline is skipped "
                "(pip install 'scoreinv[bm3d]'; bm3d is free for non-commercial use only)")
SIGMA_FLOOR = 1e-3  # σ_y below this (e.g. noise-free data) is raised to it: BM3D's shrinkage needs σ > 0
# Orthonormal opponent colour transform: rows luminance, red − blue, red − 2 green + blue. Orthonormal, so
# white noise of std σ per RGB channel stays white with std σ per opponent channel.
OPPONENT = torch.tensor([[1 / math.sqrt(3)] * 3,
                         [1 / math.sqrt(2), 0.0, -1 / math.sqrt(2)],
                         [1 / math.sqrt(6), -2 / math.sqrt(6), 1 / math.sqrt(6)]], dtype=torch.float64)

_module = None  # the bm3d module, once imported
_noted = False  # whether MISSING_NOTE was printed


def available() -> bool:
    """Whether the optional ``bm3d`` package (with its ``bm4d`` back end) is installed; imports nothing."""
    return importlib.util.find_spec("bm3d") is not None and importlib.util.find_spec("bm4d") is not None


def _bm3d():
    """The ``bm3d`` module, imported once; under NumPy ≥ 2.4 its back end ``bm4d`` (4.2.5, which still calls the
    removed ``np.trapz``) gets a NumPy view with ``trapz = trapezoid`` in its own namespace, NumPy itself untouched."""
    global _module
    if _module is None:
        import bm3d
        import bm4d

        if not hasattr(np, "trapz") and isinstance(getattr(bm4d, "np", None), types.ModuleType):
            bm4d.np = _NumpyWithTrapz(bm4d.np)
        _module = bm3d
    return _module


class _NumpyWithTrapz(types.ModuleType):
    """NumPy's namespace plus ``trapz`` (an alias of ``trapezoid``), for ``bm4d`` only."""

    def __init__(self, numpy_module: types.ModuleType) -> None:
        super().__init__(numpy_module.__name__)
        self._numpy = numpy_module
        self.trapz = numpy_module.trapezoid

    def __getattr__(self, name: str):
        return getattr(self._numpy, name)


def bm3d_denoise(y: torch.Tensor, *, sigma: float) -> torch.Tensor:
    """BM3D denoising of white Gaussian noise (Dabov et al. 2007), grey per image, colour through ``bm3d_rgb``
    (block matching on luminance, opponent colour space); the package's default "np" profile.

    Args:
        y: (B, C, H, W) noisy images, C = 1 or 3, intensities in [0, 1] (values outside are allowed).
        sigma: noise standard deviation in y's units, > 0 (floored at ``SIGMA_FLOOR``).
    Returns:
        (B, C, H, W), clipped to [0, 1].
    """
    bm3d = _bm3d()
    channels = y.shape[1]
    if channels not in (1, 3):
        raise ValueError(f"BM3D denoising takes 1 or 3 channels, got {channels}")
    sigma = max(float(sigma), SIGMA_FLOOR)
    images = y.detach().cpu().double().permute(0, 2, 3, 1).numpy()
    out = [bm3d.bm3d(z, sigma) if channels == 1 else bm3d.bm3d_rgb(z, sigma) for z in images]
    result = torch.from_numpy(np.stack([np.asarray(o).reshape(z.shape) for o, z in zip(out, images)]))
    return result.permute(0, 3, 1, 2).clamp(0, 1).to(device=y.device, dtype=y.dtype)


def odd_psf(kernel: torch.Tensor) -> np.ndarray:
    """A (kh, kw) kernel as bm3d's psf with the same centre: even sides get a trailing zero row / column.

    ``operators.Blur`` centres a kernel at (kh // 2, kw // 2); ``bm3d.bm3d_deblurring`` at round((kh − 1) / 2),
    NumPy rounding halves to even, which for even kh ≡ 2 (mod 4) is one pixel off. On odd sides both are
    (kh − 1) / 2, and a trailing zero keeps index kh // 2 the centre. Both apply the kernel as a true
    convolution (the product of transfer functions), so it is passed unflipped.
    """
    k = kernel.detach().double().cpu()
    kh, kw = k.shape
    return F.pad(k, (0, 1 - kw % 2, 0, 1 - kh % 2)).numpy()


def bm3d_deblur(y: torch.Tensor, kernel: torch.Tensor, *, sigma_y: float) -> torch.Tensor:
    """BM3D deblurring for a circular blur (Dabov et al. 2008: regularised inversion, then BM3D of its coloured
    noise), ``bm3d.bm3d_deblurring`` per image and channel; colour images channel by channel in the orthonormal
    opponent colour space (``OPPONENT``), where the noise stays white with the same σ.

    Args:
        y: (B, C, H, W) blurred noisy images in [0, 1], C = 1 or 3.
        kernel: (kh, kw) or (1|C, kh, kw) kernel centred at (kh // 2, kw // 2) as in ``operators.Blur``, applied
            as a circular convolution; one kernel per channel runs the channels one by one.
        sigma_y: standard deviation of the white Gaussian noise in [0, 1] units (floored at ``SIGMA_FLOOR``).
    Returns:
        (B, C, H, W) clipped to [0, 1].
    """
    bm3d = _bm3d()
    kernels = kernel.reshape(-1, *kernel.shape[-2:])
    sigma = max(float(sigma_y), SIGMA_FLOOR)
    images = y.detach().cpu().double()
    if kernels.shape[0] > 1 and images.shape[1] > 1:
        channels = [bm3d_deblur(images[:, c:c + 1], kernels[c], sigma_y=sigma) for c in range(images.shape[1])]
        return torch.cat(channels, dim=1).to(device=y.device, dtype=y.dtype)
    psf = odd_psf(kernels[0])
    colour = images.shape[1] == 3
    if colour:
        images = torch.einsum("ij,bjhw->bihw", OPPONENT, images)
    elif images.shape[1] != 1:
        raise ValueError(f"BM3D deblurring takes 1 or 3 channels, got {images.shape[1]}")
    # One channel at a time, each as (H, W, 1): bm3d 4.0.3 mis-broadcasts a 2-D z, and its multichannel
    # deblurring takes the pilot's FFT over the wrong axes.
    planes = images.reshape(-1, 1, *images.shape[-2:]).permute(0, 2, 3, 1).numpy()
    out = np.stack([np.asarray(bm3d.bm3d_deblurring(z, sigma, psf)).reshape(z.shape) for z in planes])
    result = torch.from_numpy(out).permute(0, 3, 1, 2).reshape(images.shape)
    if colour:
        result = torch.einsum("ji,bjhw->bihw", OPPONENT, result)
    return result.clamp(0, 1).to(device=y.device, dtype=y.dtype)


def bm3d_deblur_baseline(y: torch.Tensor, op, *, sigma_y: float) -> torch.Tensor:
    """:func:`bm3d_deblur` for an ``operators.Blur``; other boundaries than circular through a consistent extension.

    BM3D's inversion is circular. For a "zero" or "valid" blur, the Wiener estimate x_w of ``wiener_baseline``
    (which models that boundary exactly) is padded by the kernel's size (with zeros for "zero", by replication
    for "valid"), blurred circularly, and the measurement is pasted where it was taken: a measurement of a
    periodic image that agrees with y, deblurred as circular and cropped back (without it, the inconsistency at
    the border rings through the whole image where the kernel's transfer function vanishes).

    Args:
        y: (B, C, H, W) measurement of ``op`` ((B, C, H − kh + 1, W − kw + 1) for "valid").
        op: the blur operator (``kernel`` (1|C, kh, kw), ``boundary``).
        sigma_y: noise standard deviation in [0, 1] units.
    """
    kernel = op.kernel
    boundary = getattr(op, "boundary", "circular")
    if boundary == "circular":
        return bm3d_deblur(y, kernel, sigma_y=sigma_y)
    estimate = wiener_baseline(y, op, sigma_y=sigma_y).double()
    kh, kw = kernel.shape[-2:]
    pad = max(kh, kw)
    extended = F.pad(estimate, (pad,) * 4, mode="constant" if boundary == "zero" else "replicate")
    otf = kernel_otf(kernel, tuple(extended.shape[-2:]))
    synthetic = torch.fft.ifft2(torch.fft.fft2(extended) * otf).real
    top = pad + ((kh - 1) - kh // 2 if boundary == "valid" else 0)
    left = pad + ((kw - 1) - kw // 2 if boundary == "valid" else 0)
    synthetic[..., top:top + y.shape[-2], left:left + y.shape[-1]] = y.double()
    out = bm3d_deblur(synthetic, kernel, sigma_y=sigma_y)
    return out[..., pad:pad + estimate.shape[-2], pad:pad + estimate.shape[-1]].to(device=y.device, dtype=y.dtype)


def note_if_missing() -> None:
    """Print ``MISSING_NOTE`` to stderr, once a process, when the ``bm3d`` package is absent."""
    global _noted
    if not available() and not _noted:
        print(MISSING_NOTE, file=sys.stderr)
        _noted = True

