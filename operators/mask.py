"""Inpainting: the pixel mask A x = m ⊙ x with m ∈ {0, 1} (1 = known pixel, 0 = missing)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ._imageio import ImageLike, _scale_integer, read_image, to_gray
from .base import CG_MAX_ITER, CG_TOL, Gamma, LinearOperator, Shape, fmt_shape, gamma_like
from .noise import NoiseModel

SizeLike = Union[int, Tuple[int, int]]


def _hw(shape: Sequence[int], what: str) -> Tuple[int, int]:
    shape = tuple(int(s) for s in shape)
    if len(shape) < 2 or min(shape[-2:]) < 1:
        raise ValueError(f"{what} shape must end with (H, W) of positive sizes, got {shape}")
    return shape[-2], shape[-1]


class Mask(LinearOperator):
    """Pixel mask for inpainting, A x = m ⊙ x (an orthogonal projection, so Aᵀ = A⁺ = A).

    Args:
        mask: 0/1 (or bool) tensor or array of shape (H, W), (C, H, W) or (B, C, H, W); 1 = known pixel,
            0 = missing. Broadcast over batch and channels when those dims are 1. Every batch item must keep
            at least one pixel and miss at least one.
        noise: noise model (default ``GaussianNoise(0.0)``).
    """

    family = "inpaint"
    pinv_kind = "exact"

    def __init__(self, mask: Union[torch.Tensor, np.ndarray], *, noise: Optional[NoiseModel] = None) -> None:
        super().__init__(noise=noise)
        m = torch.as_tensor(np.asarray(mask) if not isinstance(mask, torch.Tensor) else mask)
        if m.ndim not in (2, 3, 4):
            raise ValueError(f"mask must have shape (H, W), (C, H, W) or (B, C, H, W), got {tuple(m.shape)}")
        if m.numel() == 0:
            raise ValueError("mask is empty; pass an (H, W) array of 0/1 values")
        m = m.detach()
        if m.dtype != torch.bool:
            if not m.is_floating_point() and m.dtype not in (torch.uint8, torch.int8, torch.int16, torch.int32,
                                                              torch.int64):
                raise ValueError(f"mask dtype {m.dtype} is not supported; pass bool or 0/1 numbers")
            if not bool(((m == 0) | (m == 1)).all()):
                raise ValueError("mask values must be 0 or 1 (1 = known); threshold it first, e.g. mask > 0.5")
        while m.ndim < 4:
            m = m[None]
        m = m.to(torch.float32)
        kept = m.flatten(1).sum(1)
        total = m[0].numel()
        if bool((kept == 0).any()):
            raise ValueError("mask hides every pixel (all zeros); keep at least one known pixel (1 = known)")
        if bool((kept == total).any()):
            raise ValueError("mask hides no pixel (all ones); mark the missing pixels with 0")
        self.register_buffer("mask", m)

    # Constructors

    @classmethod
    def random(cls, shape: Sequence[int], *, missing: float = 0.7, generator: Optional[torch.Generator] = None,
               noise: Optional[NoiseModel] = None) -> "Mask":
        """Random pixel mask hiding exactly round(missing · H · W) pixels (the same ones in every channel).

        Args:
            shape: (H, W) or any shape ending with H, W, e.g. x.shape.
            missing: fraction of missing pixels, in (0, 1); default 0.7.
            generator: torch generator for reproducibility (its device is used for drawing).
            noise: noise model.
        """
        h, w = _hw(shape, "Mask.random")
        missing = float(missing)
        if not (0.0 < missing < 1.0):
            raise ValueError(f"missing must be a fraction in (0, 1), got {missing}")
        n_missing = int(round(missing * h * w))
        if n_missing in (0, h * w):
            raise ValueError(f"missing={missing} hides {n_missing} of {h * w} pixels; use a fraction that hides "
                             f"at least one pixel and keeps at least one")
        device = generator.device if generator is not None else torch.device("cpu")
        perm = torch.randperm(h * w, generator=generator, device=device).cpu()
        m = torch.ones(h * w)
        m[perm[:n_missing]] = 0.0
        return cls(m.view(1, 1, h, w), noise=noise)

    @classmethod
    def box(cls, shape: Sequence[int], *, size: Optional[SizeLike] = None,
            position: Optional[Tuple[int, int]] = None, area: Optional[float] = None,
            noise: Optional[NoiseModel] = None) -> "Mask":
        """A missing rectangle (box inpainting).

        Args:
            shape: (H, W) or any shape ending with H, W.
            size: box (height, width) in pixels, or one int for a square; mutually exclusive with ``area``.
            position: (top, left) pixel of the box; default centred.
            area: fraction of the image the box covers, in (0, 1): a box of H·√area × W·√area pixels.
                Default (neither size nor area): area 0.25, i.e. a centred box of half the height and width.
            noise: noise model.
        """
        h, w = _hw(shape, "Mask.box")
        if size is not None and area is not None:
            raise ValueError("pass either size=(h, w) or area=fraction to Mask.box, not both")
        if size is None:
            area = 0.25 if area is None else float(area)
            if not (0.0 < area < 1.0):
                raise ValueError(f"area must be a fraction in (0, 1), got {area}")
            bh, bw = max(1, round(h * math.sqrt(area))), max(1, round(w * math.sqrt(area)))
        else:
            bh, bw = (size, size) if isinstance(size, int) else tuple(size)
            bh, bw = int(bh), int(bw)
        if bh < 1 or bw < 1 or bh > h or bw > w:
            raise ValueError(f"box size {bh}×{bw} must be between 1×1 and the image size {h}×{w}")
        top, left = ((h - bh) // 2, (w - bw) // 2) if position is None else (int(position[0]), int(position[1]))
        if top < 0 or left < 0 or top + bh > h or left + bw > w:
            raise ValueError(f"box {bh}×{bw} at (top={top}, left={left}) leaves the {h}×{w} image; "
                             f"use a position within (0..{h - bh}, 0..{w - bw})")
        m = torch.ones(1, 1, h, w)
        m[..., top:top + bh, left:left + bw] = 0.0
        return cls(m, noise=noise)

    @classmethod
    def from_image(cls, image: ImageLike, *, threshold: float = 0.5, noise: Optional[NoiseModel] = None) -> "Mask":
        """A user mask image: white (≥ threshold) = known, black = missing; colour images are averaged.

        Args:
            image: path to an image file, or an array/tensor in [0, 1] (or integer range) of shape (H, W),
                numpy (H, W, C) or torch (C, H, W).
            threshold: grey level in (0, 1] at or above which a pixel is known; default 0.5.
            noise: noise model.
        """
        if isinstance(image, (str, Path)):
            gray = to_gray(read_image(image))
        else:
            arr = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
            if isinstance(image, torch.Tensor) and arr.ndim == 3:
                arr = np.moveaxis(arr, 0, -1)
            if arr.ndim not in (2, 3):
                raise ValueError(f"mask image must be (H, W) or (H, W, C), got shape {arr.shape}")
            gray = to_gray(_scale_integer(arr))
        return cls(torch.from_numpy(np.ascontiguousarray(gray >= threshold)), noise=noise)

    @classmethod
    def from_alpha(cls, rgba: ImageLike, *, threshold: float = 0.5, noise: Optional[NoiseModel] = None) -> "Mask":
        """The alpha channel of an RGBA image: opaque (alpha ≥ threshold) = known, transparent = missing.

        Args:
            rgba: path to an RGBA (or grey + alpha) PNG, or an (H, W, 4) array.
            threshold: alpha level in (0, 1] at or above which a pixel is known; default 0.5.
            noise: noise model.
        """
        if isinstance(rgba, (str, Path)):
            arr = read_image(rgba)
            name = str(rgba)
        else:
            arr = _scale_integer(rgba.detach().cpu().numpy() if isinstance(rgba, torch.Tensor) else np.asarray(rgba))
            name = "the array"
        if arr.ndim != 3 or arr.shape[-1] not in (2, 4):
            raise ValueError(f"{name} has no alpha channel; save it as an RGBA PNG or use Mask.from_image")
        return cls(torch.from_numpy(np.ascontiguousarray(arr[..., -1] >= threshold)), noise=noise)

    # The operator

    def _m(self, like: torch.Tensor) -> torch.Tensor:
        return self.mask.to(device=like.device, dtype=like.dtype)

    def _check_input_shape(self, shape: Shape) -> None:
        b, c, h, w = self.mask.shape
        if tuple(shape[-2:]) != (h, w):
            raise ValueError(f"x is {shape[-2]}×{shape[-1]} but the mask is {h}×{w}; resize or crop x to {h}×{w}")
        if c != 1 and shape[1] != c:
            raise ValueError(f"x has {shape[1]} channels but the mask has {c}; pass a (1, H, W) mask or match channels")
        if b != 1 and shape[0] != b:
            raise ValueError(f"x has batch {shape[0]} but the mask has batch {b}; pass a batch-1 mask or match it")

    _check_output_shape = _check_input_shape

    def A(self, x: torch.Tensor) -> torch.Tensor:
        """m ⊙ x, same shape as x (B, C, H, W)."""
        self._checked_input(x)
        return x * self._m(x)

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """m ⊙ y (A is symmetric)."""
        self._checked_measurement(y)
        return y * self._m(y)

    def A_dagger(self, y: torch.Tensor, *, tol: float = CG_TOL, max_iter: int = CG_MAX_ITER) -> torch.Tensor:
        """m ⊙ y, the exact pseudo-inverse (``tol``/``max_iter`` unused)."""
        return self.A_adjoint(y)

    def prox_l2(self, z: torch.Tensor, y: torch.Tensor, gamma: Gamma, *, tol: float = CG_TOL,
                max_iter: int = CG_MAX_ITER) -> torch.Tensor:
        """Closed form (m ⊙ y + z/γ) / (m + 1/γ), pixelwise."""
        self.check_prox_args(z, y)
        lam = 1.0 / gamma_like(gamma, z)
        m = self._m(z)
        return (m * y + lam * z) / (m + lam)

    def output_shape(self, input_shape: Sequence[int]) -> Shape:
        shape = tuple(int(s) for s in input_shape)
        self._check_input_shape(shape)
        return shape

    def default_input_shape(self) -> Optional[Shape]:
        b, c, h, w = self.mask.shape
        return (b, c, h, w)

    def _norm_closed_form(self, shape: Shape) -> Optional[float]:
        return 1.0

    @property
    def missing_fraction(self) -> float:
        """Fraction of missing entries of the mask (0–1)."""
        return float(1.0 - self.mask.mean())

    def extra_repr(self) -> str:
        return f"shape={fmt_shape(self.mask.shape)}, missing={self.missing_fraction:.3f}, noise={self.noise!r}"
