"""Calibrated intervals: split conformal prediction of the pixels y leaves unknown, fitted on validation images.

For every pixel a calibration image leaves unknown the score is |x − mean| / u, with u the uncalibrated predictive
std of :func:`scoreinv.solve.uncertainty.predictive_std`. With m scores, q̂(level) is the ⌈(m + 1) · level⌉-th
smallest (split conformal prediction, Vovk, Gammerman & Shafer 2005; Angelopoulos & Bates 2023), and
mean ± q̂(level) · u holds the truth with probability ≥ level for a new pixel exchangeable with the calibration
pixels. Pixels of one image are not independent and a new image is only as exchangeable with the validation ones as
it is alike, so for other images the level holds approximately: ``scoreinv bench coverage`` measures it on the
reported sets. A calibration belongs to one prior, one row of the settings table and one target; it is applied
only to calls that run exactly the settings it was fitted with.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

LEVELS = (0.5, 0.8, 0.9, 0.95)   # levels whose q̂ a calibration stores
STD_LEVEL = 0.9                 # the calibrated .std is q̂(0.9) / z(0.95) · u: mean ± 1.645 std is the 90 % interval
CARD_KEY = "calibration"


@dataclass(frozen=True)
class Calibration:
    """The conformal quantiles of one row and target.

    Attributes:
        levels: increasing interval probabilities in (0, 1).
        quantiles: q̂ at each level, in units of the uncalibrated predictive std (increasing).
        settings: the sampler settings it was fitted under (a :class:`~scoreinv.solve.settings.Settings` as a
            dict, plus ``self_ensemble``).
        fitted_on: what it was fitted on, e.g. "bsd68: 4 images x 8 samples, 2621440 unknown pixels".
        samples: samples an image in the fit.
    """

    levels: tuple
    quantiles: tuple
    settings: dict
    fitted_on: str
    samples: int

    def half_width(self, level: float) -> float:
        """q̂(level), the interval's half-width in units of the uncalibrated predictive std: stored levels exactly,
        linear between them, and beyond them the nearest stored level's q̂ / z ratio times z(level).

        Args:
            level: the interval's probability, in (0, 1).
        """
        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1), got {level}")
        levels, quantiles = list(self.levels), list(self.quantiles)
        if level in levels:
            return quantiles[levels.index(level)]
        if level <= levels[0] or level >= levels[-1]:
            edge = 0 if level <= levels[0] else -1
            return quantiles[edge] / normal_half_width(levels[edge]) * normal_half_width(level)
        upper = next(i for i, value in enumerate(levels) if value >= level)
        low, high = levels[upper - 1], levels[upper]
        share = (level - low) / (high - low)
        return quantiles[upper - 1] + share * (quantiles[upper] - quantiles[upper - 1])

    def std_scale(self) -> float:
        """The factor that turns the uncalibrated predictive std into the calibrated one (mean ± 1.645 std = 90 %)."""
        return self.half_width(STD_LEVEL) / normal_half_width(STD_LEVEL)

    def as_card(self) -> dict:
        """The card's JSON entry."""
        return {"levels": list(self.levels), "quantiles": [round(q, 5) for q in self.quantiles],
                "settings": self.settings, "fitted_on": self.fitted_on, "samples": self.samples}

    @classmethod
    def from_card(cls, entry: dict) -> "Calibration":
        return cls(levels=tuple(entry["levels"]), quantiles=tuple(entry["quantiles"]), settings=dict(entry["settings"]),
                   fitted_on=str(entry["fitted_on"]), samples=int(entry["samples"]))


def normal_half_width(level: float) -> float:
    """z((1 + level) / 2), the standard normal's central interval half-width (1.645 at level 0.9)."""
    return math.sqrt(2) * torch.erfinv(torch.tensor(level, dtype=torch.float64)).item()


def conformal_quantiles(scores: torch.Tensor, levels=LEVELS) -> tuple:
    """q̂ per level: the ⌈(m + 1) · level⌉-th smallest of the m scores (inf when that rank exceeds m).

    Args:
        scores: 1-D tensor of |x − mean| / u over the calibration pixels (m ≥ 1).
        levels: increasing probabilities in (0, 1).
    """
    ordered = scores.flatten().double().sort().values
    m = ordered.numel()
    if m == 0:
        raise ValueError("no calibration scores")
    ranks = [math.ceil((m + 1) * level) for level in levels]
    return tuple(float(ordered[rank - 1]) if rank <= m else math.inf for rank in ranks)


def fitted_settings(record: dict) -> dict:
    """The settings a calibration is keyed by, from a result's ``settings`` record: every field of
    :class:`~scoreinv.solve.settings.Settings` plus ``self_ensemble``."""
    from dataclasses import fields

    from scoreinv.solve.settings import Settings

    return {key: record[key] for key in [f.name for f in fields(Settings)] + ["self_ensemble"]}


def calibration_for(card: dict | None, *, target: str, row: str, settings: dict) -> tuple[Calibration | None, str]:
    """(the calibration that applies, why) for a call: the prior card's entry for ``target`` and ``row`` if its
    settings equal the call's, else (None, the reason it is uncalibrated).

    Args:
        card: the prior's model card (None for priors without one).
        target: "estimate" or "sample".
        row: the settings table's row of the problem.
        settings: :func:`fitted_settings` of the call's record.
    """
    entry = ((card or {}).get(CARD_KEY) or {}).get(target, {}).get(row)
    if entry is None:
        return None, f"no calibration of the {row} row ({target} target) in the prior's card"
    calibration = Calibration.from_card(entry)
    changed = sorted(k for k in set(settings) | set(calibration.settings)
                     if settings.get(k) != calibration.settings.get(k))
    if changed:
        return None, f"settings differ from the calibrated ones ({', '.join(changed)})"
    return calibration, f"conformal, fitted on {calibration.fitted_on}"
