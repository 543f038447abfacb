"""The Langevin-type methods at the smallest budget they accept and at a large one: finite, and closer to the truth
than where they start, on tiny problems with a Gaussian prior (the exact denoiser, so that only the sampler is
tested), for the three kinds of measurement that broke λ-mixing or the likelihood score before."""
from __future__ import annotations

import pytest
import torch

import operators as ops
from scoreinv import reconstruct
from scoreinv.bench.budgets import Point, competitive, markdown_table
from scoreinv.model.gaussian import GaussianDenoiser, smooth_covariance
from scoreinv.sampling.methods import METHODS, Measurement
from scoreinv.sampling.schedules import karras_sigmas
from scoreinv.solve.settings import ROWS, resolve
from scoreinv.solve.warm_start import initial_estimate

SIDE = 16
SMALLEST, LARGE = 1, 400  # steps: the least reconstruct accepts, and a budget of hundreds of levels


def gaussian_prior() -> GaussianDenoiser:
    prior = GaussianDenoiser(torch.full((1, SIDE, SIDE), 0.5), smooth_covariance(SIDE, SIDE))
    prior.data_mean, prior.dihedral = 0.5, False
    return prior


def problem(kind: str):
    """(operator, y, truth, family, row) of a tiny problem: noiseless inpainting, a noisy blur (whose A⁺ divides
    the noise by gains near 0) or noisy sparse-view CT (A⁺ and the data step by conjugate gradients)."""
    g = torch.Generator().manual_seed(0)
    prior = gaussian_prior()
    truth = (prior.mean + torch.linalg.cholesky(prior.covariance) @ torch.randn(SIDE * SIDE, generator=g,
                                                                                 dtype=torch.float64))
    truth = truth.reshape(1, 1, SIDE, SIDE).float().clamp(0, 1)
    operator, family, row = {
        "inpaint": lambda: (ops.Mask.random((SIDE, SIDE), missing=0.7, generator=g), "inpaint", "inpaint-random"),
        "deblur": lambda: (ops.Blur.gaussian(1.5, size=9, noise=ops.GaussianNoise(0.01)), "deblur", "deblur"),
        "ct": lambda: (ops.ParallelBeamCT.sparse_view((SIDE, SIDE), 8, noise=ops.GaussianNoise(0.1)), "ct",
                       "ct-sparse"),
    }[kind]()
    y = operator.noise.sample(operator.A(truth), generator=g)
    return operator, y, truth, family, row


def rms(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).pow(2).mean().sqrt())


@pytest.mark.parametrize("steps", [SMALLEST, LARGE])
@pytest.mark.parametrize("kind", ["inpaint", "deblur", "ct"])
@pytest.mark.parametrize("method", ["mixing", "pc", "langevin"])
def test_langevin_type_methods_end_closer_to_the_truth_than_their_start(method, kind, steps):
    operator, y, truth, family, row = problem(kind)
    prior = gaussian_prior()
    result = reconstruct(y, operator, prior=prior, method=method, steps=steps, seed=0, device="cpu")
    assert torch.isfinite(result.mean).all()
    # the start is the warm start plus σ₀ noise: its expected RMS error is √(MSE(warm) + σ₀²)
    sigma_y = result.settings["sigma_y"]
    warm = initial_estimate(operator, y, "baseline", tuple(truth.shape), prior_mean=0.5, sigma_y=sigma_y, family=family)
    start_error = (rms(warm, truth) ** 2 + result.settings["sigma_start"] ** 2) ** 0.5
    assert rms(result.mean, truth) < start_error

    # the sampler itself (reconstruct clamps to [0, 1]) stays within the data's range
    settings = resolve(ROWS[row].settings, methods=METHODS, n_samples=1, method=method, steps=steps)
    chosen = METHODS[method]
    sigmas = karras_sigmas(chosen.levels(steps), sigma_max=settings.sigma_start, sigma_min=settings.sigma_end)
    guidance = chosen.guidance(Measurement(operator=operator, y=y, sigma_y=sigma_y, x_shape=tuple(truth.shape),
                                           sigma_data=prior.sigma_data, settings=settings))
    g = torch.Generator().manual_seed(1)
    x = chosen.sampler(prior, warm + sigmas[0].item() * torch.randn(truth.shape, generator=g), sigmas.tolist(),
                       guidance=guidance, generator=g, **chosen.options(settings))
    assert torch.isfinite(x).all()
    if method == "langevin" and steps == SMALLEST:
        return  # two levels 100 times apart: steps sized for the last cannot remove the first's noise (no predictor)
    assert -0.5 < float(x.min()) and float(x.max()) < 1.5


def test_the_budget_verdict_needs_the_baseline_beaten():
    base = Point("t", "wiener", None, 0, psnr=25.0, lpips=0.30, seconds=1.0)
    default = Point("t", "default", None, 40, psnr=26.0, lpips=0.20, seconds=1.0)
    points = [base, default,
              Point("t", "pc", 20, 19, psnr=24.0, lpips=0.35, seconds=1.0),   # worse on both
              Point("t", "pc", 50, 49, psnr=24.5, lpips=0.25, seconds=1.0),   # better on LPIPS only
              Point("t", "pc", 100, 99, psnr=25.5, lpips=0.22, seconds=1.0),  # better on both
              Point("t", "mixing", 20, 19, psnr=26.0, lpips=0.40, seconds=1.0)]
    assert competitive(points, "pc") == (100, 50)
    assert competitive(points, "mixing") == (None, None)
    table = markdown_table(points)
    assert "| pc | 24.00 / 0.350 | 24.50 / 0.250 | 25.50 / 0.220 | 100 NFE | 50 NFE |" in table
    assert "| mixing | 26.00 / 0.400 |  |  | — | — |" in table
