"""What the spread of n posterior samples says about the truth: predictive standard deviations and intervals.

If the truth and the n samples are independent draws of one Gaussian (what a perfect posterior sampler gives),
x − mean ~ s √(1 + 1/n) t_{n−1} with s the samples' standard deviation, so the central interval of level q is
mean ± t_{n−1}((1 + q) / 2) √(1 + 1/n) s (the prediction interval of Student 1908 / Fisher 1935), which holds
the truth with probability q for every n ≥ 2. The raw ± 1.645 s holds it only 76 % of the time at n = 4.
"""
from __future__ import annotations

import math

import torch

from scoreinv.solve.calibration import normal_half_width

REFERENCE_LEVEL = 0.9  # .std is scaled so that mean ± z(0.95) · std is exactly the 90 % prediction interval


def interval_factor(n: int, level: float) -> float:
    """t_{n−1}((1 + level) / 2) √(1 + 1/n): the half-width of the level-``level`` prediction interval in units of
    the samples' standard deviation.

    Args:
        n: samples (≥ 2).
        level: the interval's probability, in (0, 1).
    """
    if n < 2 or not 0 < level < 1:
        raise ValueError(f"need n >= 2 and 0 < level < 1, got {n} and {level}")
    from scipy.stats import t as student  # imported when needed: scipy.stats costs start-up time

    return float(student.ppf((1 + level) / 2, n - 1)) * math.sqrt(1 + 1 / n)


def predictive_std(samples: torch.Tensor, *, calibration=None) -> torch.Tensor:
    """The predictive standard deviation per pixel: the samples' std times interval_factor(n, 0.9) / z(0.95), so
    that mean ± 1.645 · std is the 90 % prediction interval, times a calibration's
    :meth:`~scoreinv.solve.calibration.Calibration.std_scale` when one is given.

    Args:
        samples: (n, B, C, H, W) with n ≥ 2.
        calibration: a :class:`~scoreinv.solve.calibration.Calibration` fitted on validation images, or None.
    """
    n = samples.shape[0]
    scale = 1.0 if calibration is None else calibration.std_scale()
    return samples.std(0) * (scale * interval_factor(n, REFERENCE_LEVEL) / normal_half_width(REFERENCE_LEVEL))


def prediction_interval(samples: torch.Tensor, level: float, *, calibration=None):
    """(low, high) per pixel, each (B, C, H, W): mean ∓ interval_factor(n, level) · s, or with a calibration
    mean ∓ q̂(level) · u (u the uncalibrated predictive std, q̂ its conformal quantile).

    Args:
        samples: (n, B, C, H, W) with n ≥ 2.
        level: the interval's probability, in (0, 1).
        calibration: a :class:`~scoreinv.solve.calibration.Calibration`, or None.
    """
    if calibration is None:
        half = samples.std(0) * interval_factor(samples.shape[0], level)
    else:
        half = predictive_std(samples) * calibration.half_width(level)
    mean = samples.mean(0)
    return mean - half, mean + half
