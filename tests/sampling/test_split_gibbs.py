"""Split Gibbs sampling (PnP-DM) against a Gaussian prior: its likelihood draw is exact, its chain's stationary
law at a fixed coupling ρ is known in closed form, and annealing ρ to a small value reaches the posterior."""
from __future__ import annotations

import pytest
import torch

from scoreinv.sampling import split_gibbs
from scoreinv.sampling.guidance import LikelihoodDraw

from sampling.test_samplers import N, SHAPE, dense_matrix, isotropic_prior, moments, operator_cases, start


def gaussian_problem(case, sigma_y, seed=2):
    prior = isotropic_prior()
    operator = operator_cases()[case]
    g = torch.Generator().manual_seed(seed)
    truth = start(0.2, g, n=1)
    y = operator.A(truth) + sigma_y * torch.randn(operator.A(truth).shape, generator=g, dtype=torch.float64)
    return prior, operator, y, g


def smoothed_posterior(prior, matrix, y, noise_cov):
    """Mean and covariance of x | y for y = M x + n, n ~ N(0, R) with a full R."""
    cov = prior.covariance
    gain = cov @ matrix.T @ torch.linalg.inv(matrix @ cov @ matrix.T + noise_cov)
    mean = prior.mean + gain @ (y.reshape(-1) - matrix @ prior.mean)
    return mean, cov - gain @ matrix @ cov


@pytest.mark.parametrize("case,sigma_y", [("mask", 0.05), ("dense", 0.05), ("mask", 0.0)])
def test_the_likelihood_draw_is_the_exact_gaussian_conditional(case, sigma_y):
    prior, operator, y, g = gaussian_problem(case, sigma_y)
    x = start(0.2, g, n=1).expand(N, *SHAPE)
    rho = 0.1
    draws = LikelihoodDraw(operator, y.expand(N, *y.shape[1:]), sigma_y=sigma_y, x_shape=(N, *SHAPE)).draw(x, rho, g)
    m = dense_matrix(operator)
    # p(z | x, y) is the posterior of z for the "prior" N(x, ρ² I) and the likelihood y = M z + n
    eye = torch.eye(16, dtype=torch.float64)
    gain = rho ** 2 * m.T @ torch.linalg.pinv(rho ** 2 * m @ m.T + sigma_y ** 2 * torch.eye(m.shape[0],
                                                                                         dtype=torch.float64))
    mean = x[0].reshape(-1) + gain @ (y.reshape(-1) - m @ x[0].reshape(-1))
    cov = rho ** 2 * (eye - gain @ m)
    got_mean, got_cov = moments(draws)
    assert (got_mean - mean).norm() / mean.norm() < 0.01
    assert (got_cov - cov).norm() / cov.norm() < 0.1


@pytest.mark.parametrize("case", ["mask", "dense"])
def test_at_a_fixed_coupling_the_chain_reaches_its_closed_form_stationary_law(case):
    """π(x) ∝ p(x) N(y; A x, σ_y² I + ρ² A Aᵀ): the x-marginal of the split target at coupling ρ."""
    sigma_y, rho = 0.05, 0.1
    prior, operator, y, g = gaussian_problem(case, sigma_y)
    m = dense_matrix(operator)
    mean, cov = smoothed_posterior(prior, m, y, sigma_y ** 2 * torch.eye(m.shape[0], dtype=torch.float64)
                                   + rho ** 2 * m @ m.T)
    rhos = torch.linspace(rho * 1.001, rho, 40, dtype=torch.float64)
    guidance = LikelihoodDraw(operator, y.expand(N, *y.shape[1:]), sigma_y=sigma_y, x_shape=(N, *SHAPE))
    samples = split_gibbs(prior, start(0.2, g), rhos, guidance=guidance, generator=g, inner=30, floor=1e-3)
    got_mean, got_cov = moments(samples)
    assert (got_mean - mean).norm() / mean.norm() < 0.02
    assert (got_cov - cov).norm() / cov.norm() < 0.12
    # and it is not the unsmoothed posterior: the coupling's widening is seen
    post_mean, post_cov = prior.posterior(m, y, sigma_y)
    assert (got_cov - post_cov).norm() > 2 * (got_cov - cov).norm()


@pytest.mark.parametrize("case,sigma_y", [("mask", 0.05), ("dense", 0.05), ("mask", 0.0)])
def test_annealing_the_coupling_reaches_the_posterior(case, sigma_y):
    prior, operator, y, g = gaussian_problem(case, sigma_y)
    post_mean, post_cov = prior.posterior(dense_matrix(operator), y, sigma_y)
    rhos = torch.logspace(-0.3, -2.5, 40, dtype=torch.float64)
    guidance = LikelihoodDraw(operator, y.expand(N, *y.shape[1:]), sigma_y=sigma_y, x_shape=(N, *SHAPE))
    samples = split_gibbs(prior, start(1.0, g), rhos, guidance=guidance, generator=g, inner=30, floor=1e-3)
    mean, cov = moments(samples)
    assert (mean - post_mean).norm() / post_mean.norm() < 0.02
    assert (cov - post_cov).norm() / post_cov.norm() < 0.15


def test_split_gibbs_is_reproducible_and_checks_its_knobs():
    prior, operator, y, _ = gaussian_problem("mask", 0.05)
    guidance = LikelihoodDraw(operator, y.expand(4, *y.shape[1:]), sigma_y=0.05, x_shape=(4, *SHAPE))
    run = lambda seed: split_gibbs(prior, torch.full((4, *SHAPE), 0.5, dtype=torch.float64), [0.5, 0.1, 0.02],  # noqa: E731
                                   guidance=guidance, generator=torch.Generator().manual_seed(seed), inner=2)
    assert torch.equal(run(0), run(0)) and not torch.equal(run(0), run(1))
    with pytest.raises(ValueError):
        split_gibbs(prior, torch.zeros(1, *SHAPE), [0.5, 0.1], guidance=guidance, inner=0)
    with pytest.raises(ValueError):
        split_gibbs(prior, torch.zeros(1, *SHAPE), [0.5, 0.1], guidance=guidance, floor=0.2)
