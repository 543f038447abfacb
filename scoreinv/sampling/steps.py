"""Steps shared by every sampler."""
from __future__ import annotations

import torch

from scoreinv.sampling.guidance import Guidance

UNGUIDED = Guidance()


def gaussian_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Standard normal noise shaped like ``x``, drawn from ``generator`` (on its own device) only."""
    device = generator.device if generator is not None else x.device
    return torch.randn(x.shape, generator=generator, device=device, dtype=x.dtype).to(x.device)


def guided_score(denoiser, guidance: Guidance, x: torch.Tensor, sigma: float):
    """(x̂₀, score): the guided denoised estimate and the score (x̂₀ − x) / σ² it implies."""
    estimate = guidance.denoised(denoiser, x, sigma)
    return estimate, (estimate - x) / sigma ** 2


def langevin_step(x: torch.Tensor, score: torch.Tensor, alpha, generator) -> torch.Tensor:
    """One Langevin step x + α ∇log p + √(2α) z (the convention of NCSNv2 and score SDE's corrector);
    α a float or (B, 1, 1, 1)."""
    alpha = torch.as_tensor(alpha, dtype=x.dtype, device=x.device)
    return x + alpha * score + (2 * alpha).sqrt() * gaussian_like(x, generator)


def levels(sigmas) -> list[float]:
    """Noise levels as Python floats, checked to be positive and decreasing."""
    values = [float(s) for s in sigmas]
    if not values or any(s <= 0 for s in values) or any(b >= a for a, b in zip(values, values[1:])):
        raise ValueError("sigmas must be a non-empty, positive, strictly decreasing sequence")
    return values
