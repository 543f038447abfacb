"""The one table of default sampler settings per task family, chosen by measurement with ``scoreinv bench``.

Each row was picked on Set12 (grey) / ct-test with the shipped priors; the measured figures are in
README.md. Change a row only with a benchmark run that shows the new setting is better.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Settings:
    """Sampler settings of one reconstruction.

    Attributes:
        method: guidance method ("dc", "dps", "pc", "langevin", "mixing").
        steps: network evaluations per sample.
        sigma_start: first noise level, [0, 1] units (used with a warm start).
        sigma_end: last noise level, [0, 1] units.
        eta: fresh-noise share of ancestral steps, [0, 1].
        warm_start: "dagger", "fbp", "adjoint" or "none".
    """

    method: str
    steps: int
    sigma_start: float
    sigma_end: float
    eta: float
    warm_start: str


DEFAULTS = {
    "inpaint": Settings(method="dc", steps=50, sigma_start=1.0, sigma_end=0.01, eta=1.0, warm_start="dagger"),
    "deblur": Settings(method="dc", steps=50, sigma_start=0.5, sigma_end=0.01, eta=1.0, warm_start="dagger"),
    "sr": Settings(method="dc", steps=50, sigma_start=0.5, sigma_end=0.01, eta=1.0, warm_start="dagger"),
    "ct": Settings(method="dc", steps=50, sigma_start=0.5, sigma_end=0.01, eta=1.0, warm_start="fbp"),
    "other": Settings(method="dc", steps=50, sigma_start=1.0, sigma_end=0.01, eta=1.0, warm_start="adjoint"),
}


def operator_family(operator) -> str:
    """"inpaint", "deblur", "sr", "ct" or "other", from the operator's class."""
    name = type(operator).__name__
    return {"Mask": "inpaint", "Blur": "deblur", "Downsample": "sr", "ParallelBeamCT": "ct"}.get(name, "other")


def default_settings(family: str) -> Settings:
    return DEFAULTS.get(family, DEFAULTS["other"])
