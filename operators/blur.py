"""Deblurring: convolution with a known kernel, computed with real FFTs."""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from .base import CG_MAX_ITER, CG_TOL, Gamma, LinearOperator, Shape, fmt_shape, gamma_like
from .kernels import gaussian_kernel, load_kernel, motion_kernel
from .noise import NoiseModel

BOUNDARIES = ("circular", "zero", "valid")
WIENER_EPS = 1e-8


def next_fast_len(n: int) -> int:
    """Smallest 2·3·5-smooth integer ≥ n (a fast FFT length)."""
    m = n
    while True:
        k = m
        for p in (2, 3, 5):
            while k % p == 0:
                k //= p
        if k == 1:
            return m
        m += 1


class Blur(LinearOperator):
    """Convolution y = k ∗ x with a known kernel, evaluated as a product of real FFTs.

    The kernel's centre (index h//2, w//2) sits on the output pixel. Boundaries:

    - ``"circular"``: periodic image, output H×W, adjoint = circular correlation (conj. spectrum),
      closed-form Wiener pseudo-inverse and closed-form ``prox_l2``.
    - ``"zero"``: zeros outside the image, output H×W ("same" convolution).
    - ``"valid"``: only the pixels whose kernel footprint lies inside the image, output (H−h+1)×(W−w+1);
      no assumption about the outside at all.

    The non-circular modes are a crop of the full linear convolution computed on a zero-padded FFT grid; their
    adjoint is the exact transpose (zero-embed, correlate, crop), their A⁺ and prox use conjugate gradients.

    Args:
        kernel: (h, w) kernel applied to every channel, or (C, h, w) with one kernel per channel; tensor or
            array, finite. Not renormalised (use the kernel helpers for kernels that sum to 1).
        boundary: "circular" (default), "zero" or "valid".
        noise: noise model (default ``GaussianNoise(0.0)``).
    """

    family = "deblur"

    def __init__(self, kernel: Union[torch.Tensor, np.ndarray], *, boundary: str = "circular",
                 noise: Optional[NoiseModel] = None) -> None:
        super().__init__(noise=noise)
        k = kernel.detach() if isinstance(kernel, torch.Tensor) else torch.as_tensor(np.asarray(kernel))
        if k.ndim == 2:
            k = k[None]
        if k.ndim != 3 or k.numel() == 0:
            raise ValueError(f"kernel must have shape (h, w) or (C, h, w), got {tuple(k.shape)}")
        if not (k.is_floating_point() or k.dtype in (torch.uint8, torch.int16, torch.int32, torch.int64)):
            raise ValueError(f"kernel dtype {k.dtype} is not supported; pass real numbers")
        k = k.to(device="cpu" if k.device.type == "meta" else k.device, dtype=torch.float64)
        if not bool(torch.isfinite(k).all()):
            raise ValueError("kernel contains NaN or infinite values; fix the kernel")
        if not bool((k.flatten(1).abs().sum(1) > 0).all()):
            raise ValueError("kernel is all zeros; pass a kernel with at least one non-zero weight")
        if boundary not in BOUNDARIES:
            raise ValueError(f"boundary must be one of {', '.join(BOUNDARIES)}, got {boundary!r}")
        self.register_buffer("kernel", k)
        self.boundary = boundary
        self._spectra: Dict[tuple, torch.Tensor] = {}

    # Constructors

    @classmethod
    def gaussian(cls, sigma: Union[float, Tuple[float, float]], *, size: Union[int, Tuple[int, int], None] = None,
                 boundary: str = "circular", noise: Optional[NoiseModel] = None) -> "Blur":
        """Gaussian blur (see ``gaussian_kernel``: σ in pixels, odd size, default 2·⌈3σ⌉ + 1)."""
        return cls(gaussian_kernel(sigma, size), boundary=boundary, noise=noise)

    @classmethod
    def motion(cls, length: int, angle: float, *, direction: float = 0.0, boundary: str = "circular",
               noise: Optional[NoiseModel] = None) -> "Blur":
        """Linear motion blur (see ``motion_kernel``: odd length in pixels, angle in degrees)."""
        return cls(motion_kernel(length, angle, direction=direction), boundary=boundary, noise=noise)

    @classmethod
    def from_file(cls, path: Union[str, Path], *, boundary: str = "circular",
                  noise: Optional[NoiseModel] = None) -> "Blur":
        """A kernel stored as .npy or as an image (see ``load_kernel``; normalised to sum 1)."""
        return cls(load_kernel(path), boundary=boundary, noise=noise)

    @property
    def pinv_kind(self) -> str:
        """For the invariant kit: circular A⁺ is the regularised Wiener filter, the others conjugate gradients."""
        return "regularised" if self.boundary == "circular" else "iterative"

    # Shapes

    @property
    def kernel_size(self) -> Tuple[int, int]:
        return int(self.kernel.shape[-2]), int(self.kernel.shape[-1])

    def _check_input_shape(self, shape: Shape) -> None:
        kc = self.kernel.shape[0]
        kh, kw = self.kernel_size
        if kc != 1 and shape[1] != kc:
            raise ValueError(f"x has {shape[1]} channels but the kernel has {kc}; pass an (h, w) kernel or {shape[1]}")
        if kh > shape[-2] or kw > shape[-1]:
            raise ValueError(f"kernel {kh}×{kw} is larger than the {shape[-2]}×{shape[-1]} image; "
                             f"use a smaller kernel or an image of at least {kh}×{kw}")

    def _check_output_shape(self, shape: Shape) -> None:
        kc = self.kernel.shape[0]
        if kc != 1 and shape[1] != kc:
            raise ValueError(f"y has {shape[1]} channels but the kernel has {kc}; match the channels")
        if self.boundary != "valid":
            self._check_input_shape(shape)

    def output_shape(self, input_shape: Sequence[int]) -> Shape:
        shape = tuple(int(s) for s in input_shape)
        self._check_input_shape(shape)
        if self.boundary == "valid":
            kh, kw = self.kernel_size
            return shape[:2] + (shape[2] - kh + 1, shape[3] - kw + 1)
        return shape

    def _input_hw(self, out_hw: Tuple[int, int]) -> Tuple[int, int]:
        if self.boundary == "valid":
            kh, kw = self.kernel_size
            return out_hw[0] + kh - 1, out_hw[1] + kw - 1
        return out_hw

    # Spectra

    def _grid(self, hw: Tuple[int, int]) -> Tuple[int, int]:
        """FFT grid for input size hw: the image itself (circular) or a zero-padded grid ≥ H + h − 1."""
        if self.boundary == "circular":
            return hw
        kh, kw = self.kernel_size
        return next_fast_len(hw[0] + kh - 1), next_fast_len(hw[1] + kw - 1)

    def _spectrum(self, hw: Tuple[int, int], like: torch.Tensor) -> torch.Tensor:
        """rfft2 of the kernel on the FFT grid for input size hw, (1 or C, P, Q//2 + 1), cached."""
        key = (hw, like.device, like.dtype)
        spec = self._spectra.get(key)
        if spec is None:
            ph, pw = self._grid(hw)
            kh, kw = self.kernel_size
            k = self.kernel.to(device=like.device, dtype=like.dtype)
            padded = torch.zeros(k.shape[0], ph, pw, device=like.device, dtype=like.dtype)
            padded[:, :kh, :kw] = k
            if self.boundary == "circular":
                padded = torch.roll(padded, shifts=(-(kh // 2), -(kw // 2)), dims=(-2, -1))
            spec = torch.fft.rfft2(padded)
            self._spectra[key] = spec
        return spec

    def _window(self, hw: Tuple[int, int]) -> Tuple[int, int, int, int]:
        """(top, left, height, width) of the output inside the full linear convolution."""
        kh, kw = self.kernel_size
        if self.boundary == "zero":
            return kh // 2, kw // 2, hw[0], hw[1]
        return kh - 1, kw - 1, hw[0] - kh + 1, hw[1] - kw + 1

    # The operator

    def A(self, x: torch.Tensor) -> torch.Tensor:
        """k ∗ x: (B, C, H, W) → (B, C, H, W), or (B, C, H−h+1, W−w+1) for "valid"."""
        self._checked_input(x)
        hw = (x.shape[-2], x.shape[-1])
        spec = self._spectrum(hw, x)
        if self.boundary == "circular":
            return torch.fft.irfft2(torch.fft.rfft2(x) * spec, s=hw)
        grid = self._grid(hw)
        full = torch.fft.irfft2(torch.fft.rfft2(x, s=grid) * spec, s=grid)
        top, left, h, w = self._window(hw)
        return full[..., top:top + h, left:left + w]

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """Correlation with k (the exact transpose), back to the input's shape."""
        self._checked_measurement(y)
        hw = self._input_hw((y.shape[-2], y.shape[-1]))
        spec = self._spectrum(hw, y)
        if self.boundary == "circular":
            return torch.fft.irfft2(torch.fft.rfft2(y) * spec.conj(), s=hw)
        grid = self._grid(hw)
        top, left, h, w = self._window(hw)
        embedded = y.new_zeros(y.shape[:2] + grid)
        embedded[..., top:top + h, left:left + w] = y
        full = torch.fft.irfft2(torch.fft.rfft2(embedded) * spec.conj(), s=grid)
        return full[..., :hw[0], :hw[1]]

    def A_dagger(self, y: torch.Tensor, *, eps: float = WIENER_EPS, tol: float = CG_TOL,
                 max_iter: int = CG_MAX_ITER) -> torch.Tensor:
        """Regularised pseudo-inverse. Circular: the Wiener / Tikhonov filter
        X = conj(K) Y / (|K|² + eps · max|K|²) per frequency (Hunt 1973), which tends to A⁺ as eps → 0;
        other boundaries: conjugate gradients on the normal equations.

        Args:
            y: blurred image (B, C, H, W).
            eps: regulariser relative to the largest squared frequency response, ≥ 0 (default 1e-8; raise it,
                e.g. to σ_y², for noisy data). 0 gives the exact inverse where K ≠ 0.
            tol: CG stopping tolerance (non-circular boundaries only).
            max_iter: CG iteration limit (non-circular boundaries only).
        """
        if self.boundary != "circular":
            return super().A_dagger(y, tol=tol, max_iter=max_iter)
        if not eps >= 0:
            raise ValueError(f"eps must be ≥ 0, got {eps}")
        self._checked_measurement(y)
        hw = (y.shape[-2], y.shape[-1])
        spec = self._spectrum(hw, y)
        power = spec.real ** 2 + spec.imag ** 2
        reg = eps * power.amax(dim=(-2, -1), keepdim=True)
        denom = power + reg
        filt = torch.where(denom > 0, spec.conj() / torch.where(denom > 0, denom, torch.ones_like(denom)),
                           torch.zeros_like(spec))
        return torch.fft.irfft2(torch.fft.rfft2(y) * filt, s=hw)

    def prox_l2(self, z: torch.Tensor, y: torch.Tensor, gamma: Gamma, *, tol: float = CG_TOL,
                max_iter: int = CG_MAX_ITER) -> torch.Tensor:
        """Circular: closed form X = (conj(K) Y + Z/γ) / (|K|² + 1/γ) per frequency; otherwise CG."""
        if self.boundary != "circular":
            return super().prox_l2(z, y, gamma, tol=tol, max_iter=max_iter)
        self.check_prox_args(z, y)
        lam = 1.0 / gamma_like(gamma, z)
        hw = (z.shape[-2], z.shape[-1])
        spec = self._spectrum(hw, z)
        power = spec.real ** 2 + spec.imag ** 2
        num = torch.fft.rfft2(y) * spec.conj() + lam * torch.fft.rfft2(z)
        return torch.fft.irfft2(num / (power + lam), s=hw)

    def _norm_closed_form(self, shape: Shape) -> Optional[float]:
        if self.boundary != "circular":
            return None
        spec = self._spectrum((shape[-2], shape[-1]), torch.empty(0, dtype=torch.float64,
                                                                 device=self.kernel.device))
        return float(spec.abs().max())

    def extra_repr(self) -> str:
        kc = self.kernel.shape[0]
        k = f"{kc}×" if kc > 1 else ""
        return f"kernel={k}{fmt_shape(self.kernel_size)}, boundary={self.boundary!r}, noise={self.noise!r}"
