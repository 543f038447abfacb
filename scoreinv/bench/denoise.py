"""Denoising benchmark of a prior: PSNR of one call D(y, σ) on Gaussian-noised test images, beside a
Gaussian-filter baseline whose width is chosen on training images (never on the test set) and, optionally, BM3D
(Dabov et al. 2007; the optional ``bm3d`` package) on the same noise draws."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from scoreinv.io.progress import Progress
from scoreinv.model.denoiser import Denoiser

FILTER_WIDTHS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0)  # Gaussian filter σ candidates, pixels


def psnr_db(x: torch.Tensor, ref: torch.Tensor) -> float:
    """PSNR in dB of (C, H, W) images in [0, 1] (data range 1)."""
    mse = float((x.clamp(0, 1) - ref).double().pow(2).mean())
    return float("inf") if mse == 0 else 10 * torch.log10(torch.tensor(1 / mse)).item()


def noisy(image: torch.Tensor, sigma: float, seed: int) -> torch.Tensor:
    """image + σ n with n from a generator seeded by ``seed`` (the same draw for every method)."""
    noise = torch.randn(image.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return image + sigma * noise.to(image.dtype)


def gaussian_filter(image: torch.Tensor, width: float) -> torch.Tensor:
    """Gaussian smoothing of (C, H, W) with standard deviation ``width`` pixels, reflect boundary."""
    radius = max(1, int(3 * width + 0.5))
    t = torch.arange(-radius, radius + 1, dtype=image.dtype)
    k = torch.exp(-0.5 * (t / width) ** 2)
    k = k / k.sum()
    x = F.pad(image[:, None], (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(F.conv2d(x, k.reshape(1, 1, 1, -1)), k.reshape(1, 1, -1, 1))
    return x[:, 0]


def best_filter_width(train_images: list[torch.Tensor], sigma: float) -> float:
    """The Gaussian-filter width with the best mean PSNR on (noised) training images at noise ``sigma``."""
    scores = {w: sum(psnr_db(gaussian_filter(noisy(x, sigma, i), w), x) for i, x in enumerate(train_images))
              for w in FILTER_WIDTHS}
    return max(scores, key=scores.get)


@torch.no_grad()
def denoise_benchmark(denoiser: Denoiser, images: list[tuple[str, torch.Tensor]], *, sigmas: list[float],
                      train_images: list[torch.Tensor] | None = None, seed: int = 0, bm3d: bool = False,
                      progress: bool = True) -> dict:
    """Mean PSNR of D(y, σ) (and of the Gaussian filter, and of BM3D) per σ over ``images``, same noise draws.

    Args:
        denoiser: the prior.
        images: (name, (C, H, W) in [0, 1]) pairs.
        sigmas: noise levels in [0, 1] units.
        train_images: training images on which to choose the Gaussian filter's width (None: no baseline).
        seed: noise draws use seed + image index.
        bm3d: also run BM3D with the true σ (needs the ``bm3d`` package; see ``scoreinv.baselines.blockmatching``).
    Returns:
        {"prior": {σ: dB}, "gaussian_filter": {σ: dB}, "filter_width": {σ: px}, "bm3d": {σ: dB}, "per_image": [...]}
    """
    from scoreinv.baselines.blockmatching import bm3d_denoise

    device = next(denoiser.parameters()).device
    result = {"prior": {}, "gaussian_filter": {}, "filter_width": {}, "bm3d": {}, "per_image": []}
    bar = Progress(len(sigmas) * len(images), desc="denoise", enabled=progress)
    for sigma in sigmas:
        width = best_filter_width(train_images, sigma) if train_images else None
        prior_scores, filter_scores, bm3d_scores = [], [], []
        for i, (name, x) in enumerate(images):
            y = noisy(x, sigma, seed + i)
            out = denoiser(y[None].to(device), sigma)[0].cpu().float()
            prior_scores.append(psnr_db(out, x))
            row = {"image": name, "sigma": sigma, "prior": prior_scores[-1]}
            if width is not None:
                filter_scores.append(psnr_db(gaussian_filter(y, width), x))
                row["gaussian_filter"] = filter_scores[-1]
            if bm3d:
                bm3d_scores.append(psnr_db(bm3d_denoise(y[None], sigma=sigma)[0], x))
                row["bm3d"] = bm3d_scores[-1]
            result["per_image"].append(row)
            bar.update(1, psnr=prior_scores[-1])
        result["prior"][sigma] = sum(prior_scores) / len(prior_scores)
        if width is not None:
            result["gaussian_filter"][sigma] = sum(filter_scores) / len(filter_scores)
            result["filter_width"][sigma] = width
        if bm3d:
            result["bm3d"][sigma] = sum(bm3d_scores) / len(bm3d_scores)
    bar.close()
    return result
