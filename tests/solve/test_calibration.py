"""Conformal calibration of the intervals: its finite-sample guarantee, when it applies, and that a calibration
fitted on one set of images gives the stated coverage on fresh ones."""
from __future__ import annotations

import math

import pytest
import torch

import operators as ops
from scoreinv import reconstruct
from scoreinv.errors import InputError
from scoreinv.model.gaussian import GaussianDenoiser, smooth_covariance
from scoreinv.solve.calibration import (LEVELS, Calibration, calibration_for, conformal_quantiles, fitted_settings,
                                        normal_half_width)
from scoreinv.solve.uncertainty import predictive_std


@pytest.mark.parametrize("m", [9, 19, 99])
def test_the_conformal_quantile_covers_a_fresh_score_with_at_least_its_level(m):
    """P(new ≤ q̂) over exchangeable draws lies in [level, level + 1 / (m + 1)] (Vovk et al. 2005)."""
    g = torch.Generator().manual_seed(m)
    trials = 20000
    scores = torch.randn(trials, m + 1, generator=g).abs()
    for level in (0.5, 0.8):
        rank = math.ceil((m + 1) * level)
        q = scores[:, :m].sort(1).values[:, rank - 1]
        assert float(conformal_quantiles(scores[0, :m], [level])[0]) == pytest.approx(float(q[0]))
        covered = float((scores[:, m] <= q).double().mean())
        assert level - 0.01 <= covered <= level + 1 / (m + 1) + 0.01


def test_a_level_beyond_what_the_scores_can_certify_is_infinite():
    assert conformal_quantiles(torch.ones(5), [0.9]) == (math.inf,)


def test_half_widths_are_exact_at_stored_levels_monotone_between_and_normal_shaped_beyond():
    calibration = Calibration(levels=LEVELS, quantiles=(1.0, 2.0, 3.0, 4.0), settings={}, fitted_on="x", samples=8)
    assert [calibration.half_width(level) for level in LEVELS] == [1.0, 2.0, 3.0, 4.0]
    grid = [0.3 + 0.69 * i / 200 for i in range(201)]
    widths = [calibration.half_width(level) for level in grid]
    assert all(b >= a for a, b in zip(widths, widths[1:]))
    assert calibration.half_width(0.99) == pytest.approx(4.0 / normal_half_width(0.95) * normal_half_width(0.99))
    assert calibration.std_scale() == pytest.approx(3.0 / normal_half_width(0.9))
    assert Calibration.from_card(calibration.as_card()) == calibration


def test_a_calibration_applies_only_to_the_settings_it_was_fitted_with():
    entry = Calibration(levels=LEVELS, quantiles=(1.0, 2.0, 3.0, 4.0), settings={"steps": 10, "eta": 1.0},
                        fitted_on="bsd68", samples=8).as_card()
    card = {"calibration": {"sample": {"sr": entry}}}
    found, why = calibration_for(card, target="sample", row="sr", settings={"steps": 10, "eta": 1.0})
    assert found is not None and "bsd68" in why
    assert calibration_for(card, target="sample", row="sr", settings={"steps": 20, "eta": 1.0}) == \
        (None, "settings differ from the calibrated ones (steps)")
    assert calibration_for(card, target="estimate", row="sr", settings={"steps": 10, "eta": 1.0})[0] is None
    assert calibration_for(None, target="sample", row="sr", settings={})[0] is None


def gaussian_problem(images: int, seed: int):
    """``images`` 4×4 grey truths drawn from a correlated Gaussian prior, half their pixels hidden by one mask."""
    covariance = smooth_covariance(4, 4)
    prior = GaussianDenoiser(torch.full((1, 4, 4), 0.5), covariance)
    prior.data_mean, prior.dihedral = 0.5, False
    g = torch.Generator().manual_seed(seed)
    chol = torch.linalg.cholesky(covariance)
    truth = (0.5 + torch.randn(images, 16, generator=g, dtype=torch.float64) @ chol.T).reshape(images, 1, 4, 4).float()
    mask = ops.Mask.random((1, 1, 4, 4), missing=0.5, generator=torch.Generator().manual_seed(0))
    operator = ops.Mask(mask.mask.expand(images, 1, 4, 4).clone())
    return prior, operator, truth


def coverage(result, truth, operator, level):
    low, high = result.interval(level)
    hidden = operator.mask < 0.5
    return float(((low <= truth) & (truth <= high))[hidden].double().mean())


def test_a_calibration_fitted_on_some_images_gives_its_coverage_on_fresh_ones():
    """An under-dispersed sampler (plug-and-play with little re-noising) misses its nominal 90 %; a calibration
    fitted on other draws of the same prior, stored in the prior's card, restores it within sampling error."""
    knobs = dict(method="pnp", steps=12, eta=0.2, n_samples=4, warm_start="baseline", sigma_start=0.3, device="cpu")
    prior, operator, truth = gaussian_problem(256, seed=1)
    fit = reconstruct(operator.A(truth), operator, prior=prior, seed=1, **knobs)
    hidden = operator.mask < 0.5
    scores = ((truth - fit.mean).abs() / predictive_std(fit.samples))[hidden]
    calibration = Calibration(levels=LEVELS, quantiles=conformal_quantiles(scores), fitted_on="draws of seed 1",
                              settings=fitted_settings(fit.settings), samples=4)
    assert fit.settings["calibration"]["calibrated"] is False

    prior.card = {"calibration": {"estimate": {fit.settings["defaults_row"]: calibration.as_card()}}}
    _, operator, fresh = gaussian_problem(256, seed=2)
    raw = reconstruct(operator.A(fresh), operator, prior=prior, seed=2, **{**knobs, "steps": 13})
    calibrated = reconstruct(operator.A(fresh), operator, prior=prior, seed=2, **knobs)
    assert raw.settings["calibration"]["calibrated"] is False and calibrated.settings["calibration"]["calibrated"]
    assert coverage(raw, fresh, operator, 0.9) < 0.8
    for level in (0.5, 0.9):
        assert abs(coverage(calibrated, fresh, operator, level) - level) < 0.06
    inside = ((fresh - calibrated.mean).abs() <= normal_half_width(0.9) * calibrated.std)[operator.mask < 0.5]
    assert abs(float(inside.double().mean()) - 0.9) < 0.06


@pytest.mark.parametrize("level", [0, 1, 1.5, "0.9", True])
def test_bad_levels_are_refused_in_one_line(level):
    prior, operator, truth = gaussian_problem(2, seed=3)
    result = reconstruct(operator.A(truth), operator, prior=prior, method="pnp", steps=4, n_samples=2, device="cpu")
    with pytest.raises(InputError, match="level"):
        result.interval(level)
