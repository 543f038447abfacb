"""A Gaussian prior with exact denoiser, log-density and posterior: the reference that samplers are tested on."""
from __future__ import annotations

import math

import torch
from torch import nn


class GaussianDenoiser(nn.Module):
    """Exact denoiser of x₀ ~ N(μ, Σ): D(x, σ) = μ + Σ (Σ + σ² I)⁻¹ (x − μ) (the Wiener filter), in float64.

    Args:
        mean: μ, shape (C, H, W).
        covariance: Σ, shape (d, d) with d = C H W, symmetric positive definite.
    """

    def __init__(self, mean: torch.Tensor, covariance: torch.Tensor):
        super().__init__()
        self.shape = tuple(mean.shape)
        self.register_buffer("mean", mean.double().reshape(-1))
        self.register_buffer("covariance", covariance.double())
        self.sigma_data = float(covariance.diagonal().mean().sqrt())
        self.sigma_min, self.sigma_max = 1e-3, 10.0
        self.channels = self.shape[0]

    def forward(self, x: torch.Tensor, sigma) -> torch.Tensor:
        flat = x.double().reshape(x.shape[0], -1) - self.mean
        sigma = torch.as_tensor(sigma, dtype=torch.float64).reshape(-1).expand(x.shape[0])
        if bool((sigma == sigma[0]).all()):
            out = self.mean + flat @ self._gain(float(sigma[0])).T
        else:
            gains = torch.stack([self._gain(float(s)) for s in sigma])
            out = self.mean + torch.einsum("bij,bj->bi", gains, flat)
        return out.reshape(x.shape).to(x.dtype)

    def _gain(self, sigma: float) -> torch.Tensor:
        eye = torch.eye(self.mean.numel(), dtype=torch.float64)
        return self.covariance @ torch.linalg.inv(self.covariance + sigma ** 2 * eye)

    def log_density(self, x: torch.Tensor, sigma: float = 0.0) -> torch.Tensor:
        """log p_σ(x) = log N(x; μ, Σ + σ² I) per sample, shape (B,)."""
        cov = self.covariance + sigma ** 2 * torch.eye(self.mean.numel(), dtype=torch.float64)
        diff = x.double().reshape(x.shape[0], -1) - self.mean
        solve = torch.linalg.solve(cov, diff.T).T
        logdet = torch.linalg.slogdet(cov).logabsdet
        return -0.5 * ((diff * solve).sum(1) + logdet + self.mean.numel() * math.log(2 * math.pi))

    def posterior(self, matrix: torch.Tensor, y: torch.Tensor, sigma_y: float):
        """Mean (d,) and covariance (d, d) of x₀ | y for y = M x₀ + n, n ~ N(0, σ_y² I); M is (m, d).

        With σ_y = 0 the measurement is a hard constraint (pseudo-inverses handle a rank-deficient M).
        """
        m, cov = matrix.double(), self.covariance
        y = y.double().reshape(-1)
        gram = m @ cov @ m.T + sigma_y ** 2 * torch.eye(m.shape[0], dtype=torch.float64)
        gain = cov @ m.T @ torch.linalg.pinv(gram, hermitian=True)
        mean = self.mean + gain @ (y - m @ self.mean)
        return mean, cov - gain @ m @ cov


def smooth_covariance(height: int, width: int, *, variance: float = 0.04, length: float = 1.5) -> torch.Tensor:
    """A squared-exponential covariance over the pixels of an H × W grey image (correlated pixels), (HW, HW)."""
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float64), torch.arange(width, dtype=torch.float64),
                            indexing="ij")
    points = torch.stack([ys.reshape(-1), xs.reshape(-1)], 1)
    distance2 = torch.cdist(points, points) ** 2
    return variance * torch.exp(-distance2 / (2 * length ** 2)) + 1e-4 * torch.eye(height * width, dtype=torch.float64)
