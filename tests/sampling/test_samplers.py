"""Samplers against a Gaussian prior, whose score, likelihood and posterior are known in closed form."""
from __future__ import annotations

import math

import pytest
import torch

import operators as ops
from scoreinv.model.gaussian import GaussianDenoiser, smooth_covariance
from scoreinv.sampling import (ancestral, annealed_langevin, half_quadratic_splitting, ncsnv2_step_size, plug_and_play,
                               predictor_corrector, probability_flow)
from scoreinv.sampling.guidance import DPS, DataConsistency, LikelihoodScore, Mixing, PlugAndPlay
from scoreinv.sampling.langevin import ncsnv2_variance_ratio
from scoreinv.sampling.likelihood import log_likelihood
from scoreinv.sampling.schedules import geometric_sigmas, karras_sigmas, levels_for_dimension

SHAPE = (1, 4, 4)
N = 3000  # samples: the sampling error of a covariance entry is about sqrt(2 / N) ≈ 0.026 of its size
# Annealed Langevin with a small step (t = ε / σ_L² = 0.1): its Euler–Maruyama bias inflates variances by
# 2 / (2 − t) ≈ 5 %; 50 steps a level let each level's excess variance decay before the next (with 20, the
# wide directions stop mixing early and keep ~25 % excess). NCSNv2's default ε trades more bias for fewer steps.
LANGEVIN_SIGMAS = geometric_sigmas(40, sigma_max=5.0, sigma_min=0.005)
LANGEVIN_EPS = 0.1 * 0.005 ** 2
LANGEVIN_STEPS = 50


class DenseOperator(ops.LinearOperator):
    """A user's operator: a dense matrix M acting on flattened images (only A and A_adjoint are defined)."""

    def __init__(self, matrix: torch.Tensor, shape, *, sigma_y: float = 0.0):
        super().__init__(noise=ops.GaussianNoise(sigma_y))
        self.register_buffer("matrix", matrix)
        self.shape = tuple(shape)

    def A(self, x):
        return (x.reshape(x.shape[0], -1) @ self.matrix.T.to(x.dtype)).reshape(x.shape[0], 1, 1, -1)

    def A_adjoint(self, y):
        return (y.reshape(y.shape[0], -1) @ self.matrix.to(y.dtype)).reshape(y.shape[0], *self.shape)


def isotropic_prior():
    return GaussianDenoiser(torch.full(SHAPE, 0.5), 0.04 * torch.eye(16, dtype=torch.float64))


def start(sigma, generator, n=N):
    return 0.5 + sigma * torch.randn(n, *SHAPE, generator=generator, dtype=torch.float64)


def moments(samples):
    flat = samples.reshape(samples.shape[0], -1)
    return flat.mean(0), torch.cov(flat.T)


# Unconditional sampling reproduces the prior

@pytest.mark.parametrize("name", ["ancestral", "ddim", "pc", "ode", "langevin"])
def test_unconditional_samplers_reproduce_a_correlated_gaussian(name):
    cov = smooth_covariance(4, 4)
    prior = GaussianDenoiser(torch.full(SHAPE, 0.5), cov)
    g = torch.Generator().manual_seed(0)
    karras = karras_sigmas(100, sigma_max=5.0, sigma_min=0.005)
    run = {
        "ancestral": lambda x: ancestral(prior, x, karras, generator=g),
        "ddim": lambda x: ancestral(prior, x, karras, generator=g, eta=0.0),
        "pc": lambda x: predictor_corrector(prior, x, karras, generator=g),
        "ode": lambda x: probability_flow(prior, x, karras_sigmas(50, sigma_max=5.0, sigma_min=0.005)),
        "langevin": lambda x: annealed_langevin(prior, x, LANGEVIN_SIGMAS, generator=g, steps_per_level=LANGEVIN_STEPS,
                                                eps=LANGEVIN_EPS),
    }[name]
    mean, covariance = moments(run(start(5.0, g)))
    # tolerance: sampling error (~0.03 relative) plus discretisation error of 50-100 levels
    assert (mean - 0.5).abs().max() < 0.02
    assert (covariance - cov).norm() / cov.norm() < 0.12


# Guided sampling reproduces the exact posterior

def operator_cases():
    g = torch.Generator().manual_seed(1)
    keep = torch.zeros(16)
    keep[torch.randperm(16, generator=g)[:8]] = 1
    mask = ops.Mask(keep.reshape(1, 1, 4, 4))
    matrix = torch.randn(6, 16, generator=g, dtype=torch.float64) / 4
    return {"mask": mask, "dense": DenseOperator(matrix, SHAPE)}


def dense_matrix(operator) -> torch.Tensor:
    """The operator as an (m, 16) matrix, by applying it to the basis."""
    basis = torch.eye(16, dtype=torch.float64).reshape(16, *SHAPE)
    return operator.A(basis).reshape(16, -1).T


GUIDED = {
    # name: (guidance, sampler, noise levels, tolerance on mean (relative), on covariance (relative))
    "dc": (DataConsistency, lambda d, x, s, g, gen: ancestral(d, x, s, guidance=g, generator=gen), 0.02, 0.15),
    # the corrector's step 2 (r ‖z‖ / ‖s‖)² varies with ‖s‖ from sample to sample in 16 dimensions: wider tolerances
    "pc": (LikelihoodScore, lambda d, x, s, g, gen: predictor_corrector(d, x, s, guidance=g, generator=gen),
           0.02, 0.15),
    "langevin": (LikelihoodScore, lambda d, x, s, g, gen: annealed_langevin(
        d, x, LANGEVIN_SIGMAS, guidance=g, generator=gen, steps_per_level=LANGEVIN_STEPS, eps=LANGEVIN_EPS), 0.03, 0.15),
    "mixing": (Mixing, lambda d, x, s, g, gen: predictor_corrector(d, x, s, guidance=g, generator=gen), 0.02, 0.3),
}


@pytest.mark.parametrize("method", list(GUIDED))
@pytest.mark.parametrize("case,sigma_y", [("mask", 0.0), ("mask", 0.05), ("dense", 0.05), ("dense", 0.0)])
def test_guided_samplers_match_the_closed_form_posterior(method, case, sigma_y):
    if method == "mixing" and sigma_y > 0:
        pytest.skip("λ-mixing (Song et al. 2022) is exact only for noiseless data")
    prior = isotropic_prior()
    operator = operator_cases()[case]
    g = torch.Generator().manual_seed(2)
    truth = start(0.2, g, n=1)
    y = operator.A(truth) + sigma_y * torch.randn(operator.A(truth).shape, generator=g, dtype=torch.float64)
    post_mean, post_cov = prior.posterior(dense_matrix(operator), y, sigma_y)
    guidance_class, run, mean_tol, cov_tol = GUIDED[method]
    kwargs = {"sigma_data": prior.sigma_data} if guidance_class is DataConsistency else {}
    guidance = guidance_class(operator, y.expand(N, *y.shape[1:]), sigma_y=sigma_y, x_shape=(N, *SHAPE), **kwargs)
    sigmas = karras_sigmas(100, sigma_max=5.0, sigma_min=0.005)
    mean, covariance = moments(run(prior, start(5.0, g), sigmas, guidance, g))
    assert (mean - post_mean).norm() / post_mean.norm() < mean_tol
    assert (covariance - post_cov).norm() / post_cov.norm() < cov_tol


def test_langevin_default_steps_match_the_closed_form_posterior():
    """Annealed Langevin on EDM levels with its default steps (technique 4 for each level's own ratio)."""
    prior = isotropic_prior()
    operator = operator_cases()["mask"]
    g = torch.Generator().manual_seed(2)
    truth = start(0.2, g, n=1)
    y = operator.A(truth)
    post_mean, post_cov = prior.posterior(dense_matrix(operator), y, 0.0)
    guidance = LikelihoodScore(operator, y.expand(N, *y.shape[1:]), sigma_y=0.0, x_shape=(N, *SHAPE))
    samples = annealed_langevin(prior, start(5.0, g), karras_sigmas(100, sigma_max=5.0, sigma_min=0.005),
                                guidance=guidance, generator=g, steps_per_level=10)
    mean, covariance = moments(samples)
    assert (mean - post_mean).norm() / post_mean.norm() < 0.03
    assert (covariance - post_cov).norm() / post_cov.norm() < 0.15


@pytest.mark.parametrize("n_levels", [4, 6])
def test_the_ancestral_predictor_removes_the_noise_at_any_spacing(n_levels):
    """Where the prior is sharp (a smooth covariance's smallest eigenvalues, like the high frequencies of photos),
    PC's ancestral predictor leaves no more spread than the prior's after a few widely spaced levels; reverse
    diffusion's Euler–Maruyama noise √(σᵢ² − σᵢ₊₁²) leaves many times more."""
    cov = smooth_covariance(4, 4)
    prior = GaussianDenoiser(torch.full(SHAPE, 0.5), cov)
    values, vectors = torch.linalg.eigh(cov)
    sigmas = karras_sigmas(n_levels, sigma_max=5.0, sigma_min=0.005)
    ratios = {}
    for predictor in ("ancestral", "reverse-diffusion"):
        g = torch.Generator().manual_seed(0)
        samples = predictor_corrector(prior, start(5.0, g, n=2000), sigmas, generator=g, corrector_steps=0,
                                      predictor=predictor)
        spread = ((samples.reshape(len(samples), -1) - 0.5) @ vectors[:, :4]).var(0)
        ratios[predictor] = spread / values[:4]
    assert ratios["ancestral"].max() < 1.5
    assert ratios["reverse-diffusion"].min() > 5


def test_dps_moves_toward_the_posterior_mean():
    """DPS is not an exact posterior sampler (its variance is known to be off); its mean must still beat the
    prior mean by a wide margin."""
    prior = isotropic_prior()
    operator = operator_cases()["dense"]
    g = torch.Generator().manual_seed(3)
    truth = start(0.2, g, n=1)
    y = operator.A(truth)
    post_mean, _ = prior.posterior(dense_matrix(operator), y, 0.0)
    guidance = DPS(operator, y.expand(500, *y.shape[1:]))
    samples = ancestral(prior, start(5.0, g, n=500), karras_sigmas(100, sigma_max=5.0, sigma_min=0.005),
                        guidance=guidance, generator=g)
    mean, _ = moments(samples)
    prior_error = (prior.mean - post_mean).norm()
    assert (mean - post_mean).norm() < 0.5 * prior_error


def test_data_consistency_keeps_observed_pixels_exactly():
    prior = isotropic_prior()
    operator = operator_cases()["mask"]
    g = torch.Generator().manual_seed(4)
    truth = start(0.2, g, n=2)
    y = operator.A(truth)
    guidance = DataConsistency(operator, y, sigma_y=0.0, sigma_data=0.2, x_shape=truth.shape)
    out = ancestral(prior, start(5.0, g, n=2), karras_sigmas(10, sigma_max=5.0, sigma_min=0.01),
                    guidance=guidance, generator=g)
    known = operator.mask.expand_as(out).bool()
    assert torch.equal(out[known], truth[known])


@pytest.mark.parametrize("sampler", [ancestral, predictor_corrector, annealed_langevin])
def test_same_seed_same_samples(sampler):
    prior = isotropic_prior()
    sigmas = karras_sigmas(8, sigma_max=2.0, sigma_min=0.01)
    runs = []
    for _ in range(2):
        g = torch.Generator().manual_seed(7)
        runs.append(sampler(prior, start(2.0, g, n=3), sigmas, generator=g))
    assert torch.equal(runs[0], runs[1])
    g = torch.Generator().manual_seed(8)
    assert not torch.equal(runs[0], sampler(prior, start(2.0, g, n=3), sigmas, generator=g))


# Noise levels and step sizes

def test_ncsnv2_step_size_follows_technique_4():
    gamma, sigma_last, steps = 1.2, 0.01, 5
    eps = ncsnv2_step_size(steps, gamma=gamma, sigma_last=sigma_last)
    # the formula's ratio at the chosen ε is the closest to 1 on a grid of alternatives
    chosen = ncsnv2_variance_ratio(torch.tensor(eps / sigma_last ** 2), steps=steps, gamma=gamma)
    grid = ncsnv2_variance_ratio(torch.linspace(1e-4, 0.99, 500, dtype=torch.float64), steps=steps, gamma=gamma)
    assert (chosen - 1).abs() <= (grid - 1).abs().min() + 1e-9
    # and the formula predicts what Langevin does to N(0, σ²) started at N(0, γ²σ²)
    sigma = 0.3
    alpha = eps * sigma ** 2 / sigma_last ** 2
    g = torch.Generator().manual_seed(0)
    x = gamma * sigma * torch.randn(200_000, generator=g, dtype=torch.float64)
    for _ in range(steps):
        x = x - alpha * x / sigma ** 2 + math.sqrt(2 * alpha) * torch.randn(x.shape, generator=g, dtype=torch.float64)
    assert abs(x.var().item() / sigma ** 2 - chosen.item()) < 0.02


def test_levels_for_dimension_grows_with_dimension():
    small = levels_for_dimension(64, sigma_min=0.01, sigma_max=10)
    large = levels_for_dimension(3 * 64 * 64, sigma_min=0.01, sigma_max=10)
    assert 2 <= small < large


def test_noise_levels_are_decreasing_and_span_the_range():
    for sigmas in (geometric_sigmas(10, sigma_max=50, sigma_min=0.002), karras_sigmas(10, sigma_max=50, sigma_min=0.002)):
        assert torch.all(sigmas[1:] < sigmas[:-1])
        assert sigmas[0].item() == pytest.approx(50) and sigmas[-1].item() == pytest.approx(0.002)


# Likelihood through the probability-flow ODE

def test_log_likelihood_matches_the_gaussian_closed_form():
    cov = smooth_covariance(3, 3)
    prior = GaussianDenoiser(torch.full((1, 3, 3), 0.5), cov)
    prior.data_mean, prior.sigma_max = 0.5, 20.0
    g = torch.Generator().manual_seed(0)
    x = (0.5 + (torch.linalg.cholesky(cov) @ torch.randn(9, 3, generator=g, dtype=torch.float64)).T).reshape(3, 1, 3, 3)
    exact = prior.log_density(x, sigma=prior.sigma_min)
    ode = log_likelihood(prior, x, steps=200, exact_trace=True)  # Heun: error ~ 1/steps²
    assert torch.allclose(ode.log_density, exact, atol=0.05)
    # Hutchinson's estimate is unbiased: many probes get close
    hutchinson = log_likelihood(prior, x, steps=128, probes=256, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(hutchinson.log_density, exact, atol=0.5)
    # bits/dim of the 8-bit image: −log2 p / D + 8
    assert torch.allclose(ode.bits_per_dim, -ode.log_density / (9 * math.log(2)) + 8)


@pytest.mark.parametrize("case,sigma_y", [("mask", 0.0), ("mask", 0.05), ("dense", 0.05)])
def test_plug_and_play_converges_to_the_posterior_mean(case, sigma_y):
    """Deterministic PnP (DPIR) is a point estimate: for a Gaussian prior its fixed point is the posterior mode,
    which is the posterior mean; more levels bring it closer."""
    prior = GaussianDenoiser(torch.full(SHAPE, 0.5), smooth_covariance(4, 4))
    operator = operator_cases()[case]
    g = torch.Generator().manual_seed(2)
    truth = start(0.2, g, n=1)
    y = operator.A(truth) + sigma_y * torch.randn(operator.A(truth).shape, generator=g, dtype=torch.float64)
    post_mean, _ = prior.posterior(dense_matrix(operator), y, sigma_y)
    guidance = PlugAndPlay(operator, y, sigma_y=sigma_y, x_shape=(1, *SHAPE))
    errors = []
    for n in (10, 100):
        x = plug_and_play(prior, torch.full((1, *SHAPE), 0.5, dtype=torch.float64),
                          karras_sigmas(n, sigma_max=1.0, sigma_min=0.005), guidance=guidance)
        errors.append(float((x.reshape(-1) - post_mean).norm() / post_mean.norm()))
    assert errors[1] < 0.06
    assert errors[1] < errors[0]
    if sigma_y == 0:
        keep = operator.A_adjoint(operator.A(torch.ones_like(x))) > 0
        assert torch.equal(x[keep], truth[keep])


@pytest.mark.parametrize("lam", [1.0, 0.23])
@pytest.mark.parametrize("case,sigma_y", [("mask", 0.0), ("mask", 0.05), ("dense", 0.05)])
def test_half_quadratic_splitting_converges_to_the_weighted_mode(case, sigma_y, lam):
    """DPIR's order (data step, then denoiser) for a Gaussian prior N(μ, Σ): its fixed point as σ → 0 minimises
    ‖y − M x‖² / (2σ_y²) + λ (x − μ)ᵀ Σ⁻¹ (x − μ) / 2, the posterior mean under the prior N(μ, Σ / λ) (the
    posterior mean itself when λ = 1); more levels bring it closer, and noiseless measurements are kept."""
    cov = smooth_covariance(4, 4)
    prior = GaussianDenoiser(torch.full(SHAPE, 0.5), cov)
    operator = operator_cases()[case]
    g = torch.Generator().manual_seed(2)
    truth = start(0.2, g, n=1)
    y = operator.A(truth) + sigma_y * torch.randn(operator.A(truth).shape, generator=g, dtype=torch.float64)
    mode, _ = GaussianDenoiser(torch.full(SHAPE, 0.5), cov / lam).posterior(dense_matrix(operator), y, sigma_y)
    guidance = PlugAndPlay(operator, y, sigma_y=sigma_y, x_shape=(1, *SHAPE), lam=lam)
    errors = []
    for n in (10, 1000):  # the error shrinks like 1 / n: each level moves the iterate part of the way
        x = half_quadratic_splitting(prior, torch.full((1, *SHAPE), 0.5, dtype=torch.float64),
                                     karras_sigmas(n, sigma_max=1.0, sigma_min=0.002), guidance=guidance)
        errors.append(float((x.reshape(-1) - mode).norm() / mode.norm()))
    assert errors[1] < 0.015
    assert errors[1] < errors[0] / 5
    if sigma_y == 0:
        keep = operator.A_adjoint(operator.A(torch.ones_like(x))) > 0
        assert torch.equal(x[keep], truth[keep])
    if lam != 1 and sigma_y > 0:  # the weighted mode is not the posterior mean: the test tells them apart
        post_mean, _ = prior.posterior(dense_matrix(operator), y, sigma_y)
        assert float((x.reshape(-1) - post_mean).norm() / post_mean.norm()) > 3 * errors[1]


def test_the_cg_budget_follows_the_condition_number():
    """With ``cg_effort`` the data step's conjugate gradients get ⌈effort · √(1 + ‖A‖² γ)⌉ iterations: many while
    σ (so γ = σ² / (λ σ_y²)) is large, few at the end; without it the operator's own stopping rule."""
    operator = ops.ParallelBeamCT.limited_angle((12, 12), 90.0, 9, noise=ops.GaussianNoise(0.1))
    y = operator.A(torch.rand(1, 1, 12, 12, generator=torch.Generator().manual_seed(0)))
    budgets = []
    prox = operator.prox_l2

    def recording_prox(z, y, gamma, **options):
        budgets.append((float(gamma), options.get("max_iter")))
        return prox(z, y, gamma, **options)

    operator.prox_l2 = recording_prox
    z = torch.full((1, 1, 12, 12), 0.5)
    free = PlugAndPlay(operator, y, sigma_y=0.1, x_shape=z.shape)
    free.consistent(z, 0.3)
    assert budgets[-1] == (pytest.approx(0.3 ** 2 / 0.23 / 0.1 ** 2), None)
    budgeted = PlugAndPlay(operator, y, sigma_y=0.1, x_shape=z.shape, cg_effort=0.5)
    for sigma in (0.3, 0.01):
        budgeted.consistent(z, sigma)
        gamma, budget = budgets[-1]
        assert budget == math.ceil(0.5 * math.sqrt(1 + operator.norm() ** 2 * gamma))
    assert budgets[-2][1] > 5 * budgets[-1][1] >= 5
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match="cg_effort"):
            DataConsistency(operator, y, sigma_y=0.1, sigma_data=0.2, x_shape=z.shape, cg_effort=bad)
