"""Predictive std and prediction intervals: with the truth and the samples drawn from one distribution, the
intervals hold the truth at their nominal rate for any number of samples; the raw sample std does not."""
from __future__ import annotations

import pytest
import torch

from scoreinv.solve.uncertainty import interval_factor, prediction_interval, predictive_std

TRIALS = 200_000


def draws(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    truth = torch.randn(1, TRIALS, generator=g, dtype=torch.float64)
    samples = 0.3 + 2.0 * torch.randn(n, 1, TRIALS, generator=g, dtype=torch.float64)
    return 0.3 + 2.0 * truth, samples


@pytest.mark.parametrize("n", [2, 4, 8, 32])
def test_the_predictive_std_interval_holds_the_truth_90_percent_of_the_time(n):
    truth, samples = draws(n)
    inside = ((truth - samples.mean(0)).abs() <= 1.6448536 * predictive_std(samples)).double().mean()
    assert abs(float(inside) - 0.90) < 0.005
    raw = ((truth - samples.mean(0)).abs() <= 1.6448536 * samples.std(0)).double().mean()
    assert float(raw) < 0.89  # the uncorrected spread is too narrow at every finite n


@pytest.mark.parametrize("level", [0.5, 0.9, 0.99])
def test_prediction_intervals_have_their_level(level):
    truth, samples = draws(4, seed=1)
    low, high = prediction_interval(samples, level)
    assert abs(float(((low <= truth) & (truth <= high)).double().mean()) - level) < 0.005


def test_interval_factor_checks_and_tends_to_the_normal_quantile():
    assert interval_factor(10_000, 0.9) == pytest.approx(1.6448536, rel=1e-3)
    assert interval_factor(4, 0.9) > interval_factor(8, 0.9) > 1.6449
    for n, level in [(1, 0.9), (4, 1.0), (4, 0.0)]:
        with pytest.raises(ValueError):
            interval_factor(n, level)
