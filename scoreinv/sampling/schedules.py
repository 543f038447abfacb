"""Noise scales chosen with the techniques of NCSNv2 (Song & Ermon 2020, "Improved techniques for training
score-based generative models"): σ_max from the data, σ_min near clean images, geometric spacing."""
from __future__ import annotations

import math

import torch

SIGMA_MIN = 0.002  # [0, 1] units: about half a grey level of an 8-bit image, below what a reader can see


def max_pairwise_distance(patches: torch.Tensor) -> float:
    """Technique 1: σ_max is the largest Euclidean distance between two training patches.

    Args:
        patches: (N, C, H, W) training crops in [0, 1].
    """
    flat = patches.reshape(patches.shape[0], -1).double()
    return float(torch.cdist(flat, flat).max())


def levels_for_dimension(dim: int, *, sigma_min: float, sigma_max: float) -> int:
    """Technique 2: the number of geometric levels L such that consecutive shells overlap.

    With ratio γ = σ_{i-1} / σ_i, NCSNv2 asks Φ(√(2D)(γ − 1) + 3γ) − Φ(√(2D)(γ − 1) − 3γ) ≈ 0.5 for data of
    dimension D; we solve that for γ by bisection and return ⌈ln(σ_max / σ_min) / ln γ⌉ + 1.

    Args:
        dim: D = C · H · W of the images to be sampled.
        sigma_min, sigma_max: the range in [0, 1] units.
    """
    def overlap(gamma: float) -> float:
        a = math.sqrt(2 * dim) * (gamma - 1)
        phi = lambda t: 0.5 * (1 + math.erf(t / math.sqrt(2)))  # noqa: E731
        return phi(a + 3 * gamma) - phi(a - 3 * gamma)

    lo, hi = 1.0 + 1e-9, 2.0  # overlap decreases with gamma
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if overlap(mid) > 0.5 else (lo, mid)
    return math.ceil(math.log(sigma_max / sigma_min) / math.log(0.5 * (lo + hi))) + 1


def geometric_sigmas(n: int, *, sigma_max: float, sigma_min: float = SIGMA_MIN) -> torch.Tensor:
    """Technique 2's geometric sequence σ_max = σ_1 > … > σ_n = σ_min, float64, shape (n,)."""
    if n < 1:
        raise ValueError(f"need at least one noise level, got {n}")
    if not 0 < sigma_min <= sigma_max:
        raise ValueError(f"need 0 < sigma_min <= sigma_max, got {sigma_min} and {sigma_max}")
    if n == 1:
        return torch.tensor([sigma_max], dtype=torch.float64)
    return torch.logspace(math.log10(sigma_max), math.log10(sigma_min), n, dtype=torch.float64)


def karras_sigmas(n: int, *, sigma_max: float, sigma_min: float = SIGMA_MIN, rho: float = 7.0) -> torch.Tensor:
    """The EDM schedule (Karras et al. 2022, eq. 5): denser near σ_min than a geometric one, float64, (n,)."""
    if n < 1:
        raise ValueError(f"need at least one noise level, got {n}")
    if n == 1:
        return torch.tensor([sigma_max], dtype=torch.float64)
    ramp = torch.linspace(0, 1, n, dtype=torch.float64)
    inv_max, inv_min = sigma_max ** (1 / rho), sigma_min ** (1 / rho)
    return (inv_max + ramp * (inv_min - inv_max)) ** rho
