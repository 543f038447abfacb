"""``sample_prior``: unconditional samples of a score prior p_θ(x) with any sampler of :mod:`scoreinv.sampling`."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from scoreinv.errors import InputError
from scoreinv.io.progress import Progress
from scoreinv.model.wrappers import CountingDenoiser
from scoreinv.sampling.methods import PRIOR_SAMPLERS
from scoreinv.sampling.schedules import geometric_sigmas, karras_sigmas, levels_for_dimension

SAMPLERS = tuple(PRIOR_SAMPLERS)
DEFAULT_STEPS = 100  # network evaluations per sample for pc, ancestral and ode
BATCH = 8  # images per network call


@dataclass
class Samples:
    """What :func:`sample_prior` returns.

    Attributes:
        images: (n, C, H, W) in [0, 1].
        nfe: network evaluations per sample.
        seconds: wall-clock time.
        settings: sampler, noise levels, seed, device and prior.
    """

    images: torch.Tensor
    nfe: int
    seconds: float
    settings: dict = field(default_factory=dict)



def noise_schedule(sampler: str, *, steps: int | None, dim: int, sigma_max: float, sigma_min: float) -> list[float]:
    """Decreasing noise levels ([0, 1] units) for ``sampler`` and a budget of ``steps`` network evaluations per sample.

    The most levels whose network evaluations fit in ``steps`` (:meth:`~scoreinv.sampling.methods.Method.levels`):
    Karras et al. (2022) levels for pc, ode (2 evaluations a level, 1 at the last) and ancestral (1 a level);
    NCSNv2 geometric levels for langevin (T = 5 Langevin steps a level, and a final denoising), by default NCSNv2's
    ``levels_for_dimension(dim)`` (technique 2).

    Args:
        sampler: "pc", "ancestral", "ode" or "langevin".
        steps: network evaluations per sample (≥ 2), or None for the sampler's default.
        dim: C · H · W of one image.
        sigma_max, sigma_min: the prior's noise range ([0, 1] units).
    """
    if sampler not in SAMPLERS:
        raise InputError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
    if steps is not None and steps < 2:
        raise InputError(f"steps must be at least 2, got {steps}")
    method = PRIOR_SAMPLERS[sampler]
    if method.schedule == "geometric":
        levels = (levels_for_dimension(dim, sigma_min=sigma_min, sigma_max=sigma_max) if steps is None
                  else method.levels(steps))
        return geometric_sigmas(levels, sigma_max=sigma_max, sigma_min=sigma_min).tolist()
    return karras_sigmas(method.levels(steps or DEFAULT_STEPS), sigma_max=sigma_max, sigma_min=sigma_min).tolist()


def sample_prior(denoiser, n: int, *, size: tuple[int, int] = (64, 64), sampler: str = "pc",
                 steps: int | None = None, seed: int = 0, device=None, progress: bool = False) -> Samples:
    """Draw ``n`` images from the prior by integrating its reverse diffusion from σ_max down to σ_min.

    Args:
        denoiser: a :class:`scoreinv.model.denoiser.Denoiser` (sigma_max, sigma_min, data_mean, channels).
        n: number of images (≥ 1).
        size: (H, W) in pixels (the U-Net is fully convolutional: any size).
        sampler: "pc" (predictor-corrector), "ancestral" (DDPM-like, η = 1), "ode" (probability flow, Heun) or
            "langevin" (annealed Langevin dynamics, NCSNv2).
        steps: network evaluations per sample (approximately); default 100, or NCSNv2's level count for langevin.
        seed: seeds the generator that is the only source of randomness.
        device: "cpu", "cuda", or None (CUDA if available).
        progress: draw a progress bar on stderr.
    """
    from scoreinv.model.devices import resolve_device

    started = time.monotonic()
    if n < 1:
        raise InputError(f"n must be at least 1, got {n}")
    height, width = size
    if height < 1 or width < 1:
        raise InputError(f"size must be positive, got {height}x{width}")
    device = resolve_device(device)
    channels = denoiser.channels or 1
    sigmas = noise_schedule(sampler, steps=steps, dim=channels * height * width, sigma_max=denoiser.sigma_max,
                            sigma_min=denoiser.sigma_min)
    method = PRIOR_SAMPLERS[sampler]
    per_sample = method.nfe(len(sigmas))
    batches = [min(BATCH, n - start) for start in range(0, n, BATCH)]

    denoiser = denoiser.to(device)
    generator = torch.Generator(device=device).manual_seed(seed)
    bar = Progress(per_sample * len(batches), desc=sampler, enabled=progress)
    counted = CountingDenoiser(denoiser, bar)
    images = []
    with torch.no_grad():
        for count in batches:
            noise = torch.randn((count, channels, height, width), generator=generator, device=device)
            start = denoiser.data_mean + sigmas[0] * noise
            images.append(method.sampler(counted, start, sigmas, generator=generator, **method.options(None)).clamp(0, 1).cpu())
    bar.close()
    settings = {"sampler": sampler, "n": n, "size": [height, width], "n_levels": len(sigmas),
                "sigma_max": sigmas[0], "sigma_min": sigmas[-1], "nfe_per_sample": counted.calls // len(batches),
                "seed": seed, "device": str(device), "prior": getattr(denoiser, "name", type(denoiser).__name__)}
    return Samples(images=torch.cat(images), nfe=counted.calls // len(batches), seconds=time.monotonic() - started,
                   settings=settings)
