"""Measurement noise models: additive Gaussian noise and Poisson photon counting for CT transmission."""
from __future__ import annotations

import math
from typing import Optional

import torch


class NoiseModel:
    """Base of the noise models: ``sample(y)`` returns a noisy copy of the clean measurement y, ``variance(y)``
    the (approximate) per-entry Gaussian variance, ``sigma`` a scalar standard deviation for the samplers."""

    sigma: float

    def sample(self, y: torch.Tensor, *, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        raise NotImplementedError

    def variance(self, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class GaussianNoise(NoiseModel):
    """Additive white Gaussian noise y + σ n, n ~ N(0, I).

    Args:
        sigma: standard deviation σ in [0, 1], in image units (images live in [0, 1]); 0 means noiseless and
            ``sample`` then returns y itself.
    """

    def __init__(self, sigma: float = 0.0) -> None:
        sigma = float(sigma)
        if not (0.0 <= sigma <= 1.0):
            raise ValueError(f"GaussianNoise sigma must be in [0, 1] (image units), got {sigma}")
        self.sigma = sigma

    def sample(self, y: torch.Tensor, *, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """y + σ n for y of any shape; ``generator`` must live on y's device."""
        if self.sigma == 0.0:
            return y
        n = torch.randn(y.shape, generator=generator, dtype=y.dtype, device=y.device)
        return y + self.sigma * n

    def variance(self, y: torch.Tensor) -> torch.Tensor:
        """σ² for every entry of y."""
        return torch.full_like(y, self.sigma ** 2)

    def __repr__(self) -> str:
        return f"GaussianNoise(sigma={self.sigma:g})"


class PoissonNoise(NoiseModel):
    """Photon-counting noise of a transmission CT scan (Beer–Lambert): the detector counts
    N ~ Poisson(I₀ · exp(−s·y)) (clamped to N ≥ 1) and the noisy line integrals are −log(N / I₀) / s.

    The Gaussian approximation of the noisy log data (delta method) has per-ray variance
    ``variance(y) = exp(s·y) / (s² · I₀)``; ``sigma`` = 1 / (s·√I₀) is its value for an empty ray (y = 0),
    a lower bound on every ray's standard deviation.

    Args:
        photons: incident photon count I₀ per detector bin (> 0), e.g. 1e4 (low dose) to 1e6.
        scale: s, attenuation per unit of y (> 0): y is in the operator's units (pixel lengths × image
            values), so s converts it to the dimensionless attenuation. Default 0.05: a 256-pixel slice with
            water-like values ≈ 1/3 then attenuates by ≈ e^−3 along its longest rays.
    """

    def __init__(self, photons: float, *, scale: float = 0.05) -> None:
        photons, scale = float(photons), float(scale)
        if not (photons > 0 and math.isfinite(photons)):
            raise ValueError(f"PoissonNoise photons must be a finite count > 0 (e.g. 1e5), got {photons}")
        if not (scale > 0 and math.isfinite(scale)):
            raise ValueError(f"PoissonNoise scale must be finite and > 0 (e.g. 0.05), got {scale}")
        self.photons = photons
        self.scale = scale

    @property
    def sigma(self) -> float:
        """Standard deviation of an empty ray's noisy log data, 1 / (s·√I₀): the smallest over all rays."""
        return 1.0 / (self.scale * math.sqrt(self.photons))

    def sample(self, y: torch.Tensor, *, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """−log(max(N, 1) / I₀) / s with N ~ Poisson(I₀ exp(−s·y)); ``generator`` must live on y's device."""
        rate = self.photons * torch.exp(-self.scale * y)
        counts = torch.poisson(rate, generator=generator).clamp_min(1.0)
        return -torch.log(counts / self.photons) / self.scale

    def variance(self, y: torch.Tensor) -> torch.Tensor:
        """Approximate variance exp(s·y) / (s²·I₀) of each noisy entry (y the clean or noisy line integrals)."""
        return torch.exp(self.scale * y) / (self.scale ** 2 * self.photons)

    def __repr__(self) -> str:
        return f"PoissonNoise(photons={self.photons:g}, scale={self.scale:g})"
