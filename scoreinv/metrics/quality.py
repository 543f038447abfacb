"""Distortion metrics on [0, 1] images: PSNR and SSIM (Wang et al. 2004)."""
from __future__ import annotations

import numpy as np
import torch

from scoreinv.errors import InputError


def psnr(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio 10·log10(1 / MSE) in dB for data range 1 (inf when x equals ref).

    Args:
        x, ref: (C, H, W) or (B, C, H, W) in [0, 1], same shape.
    """
    x4, ref4, single = _batched(x, ref)
    mse = (x4.double() - ref4.double()).pow(2).flatten(1).mean(1)
    value = 10 * torch.log10(1.0 / mse)  # mse = 0 gives inf
    return value[0] if single else value


def ssim(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Structural similarity of Wang et al. 2004 with their settings, via scikit-image ``structural_similarity``.

    Gaussian window σ = 1.5 px (gaussian_weights=True), K1 = 0.01, K2 = 0.03, population covariances
    (use_sample_covariance=False), data_range = 1; colour images are the mean over channels (channel_axis).

    Args:
        x, ref: (C, H, W) or (B, C, H, W) in [0, 1], same shape; C is 1 (grey) or 3 (colour); H, W ≥ 7.
    """
    from skimage.metrics import structural_similarity

    x4, ref4, single = _batched(x, ref)
    values = []
    for a, b in zip(_to_numpy(x4), _to_numpy(ref4)):
        channel_axis = None if a.shape[0] == 1 else 0
        a, b = (a[0], b[0]) if channel_axis is None else (a, b)
        values.append(structural_similarity(a, b, data_range=1.0, channel_axis=channel_axis, gaussian_weights=True,
                                            sigma=1.5, use_sample_covariance=False))
    value = torch.tensor(values, dtype=torch.float64)
    return value[0] if single else value


def _to_numpy(x: torch.Tensor) -> np.ndarray:
    """(B, C, H, W) tensor → float64 numpy array."""
    return x.detach().to("cpu", torch.float64).numpy()


def _batched(x: torch.Tensor, ref: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Both as (B, C, H, W) and whether the input was a single (C, H, W) image; one-line errors on bad shapes."""
    if not (torch.is_tensor(x) and torch.is_tensor(ref)):
        raise InputError("metrics take torch tensors")
    if x.shape != ref.shape:
        raise InputError(f"metric inputs differ in shape: {tuple(x.shape)} vs {tuple(ref.shape)}")
    if x.dim() not in (3, 4):
        raise InputError(f"metric inputs must be (C, H, W) or (B, C, H, W), got {tuple(x.shape)}")
    single = x.dim() == 3
    return (x[None], ref[None], True) if single else (x, ref, False)
