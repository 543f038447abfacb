"""Sampling methods as data: each is a record of its sampler, how its guidance is built, its sampler options and
its network evaluations; :func:`scoreinv.reconstruct` and :func:`~scoreinv.sampling.unconditional.sample_prior`
read these records and switch on nothing."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from scoreinv.sampling import guidance
from scoreinv.sampling.ancestral import ancestral
from scoreinv.sampling.langevin import annealed_langevin
from scoreinv.sampling.ode import probability_flow
from scoreinv.sampling.pc import predictor_corrector
from scoreinv.sampling.pnp import half_quadratic_splitting, plug_and_play
from scoreinv.sampling.split_gibbs import split_gibbs

GIBBS_INNER_LEVELS = 4          # reverse-process levels of each prior step of split Gibbs sampling
LANGEVIN_STEPS_PER_LEVEL = 4      # T, Langevin steps a level of the guided annealed Langevin method
PRIOR_LANGEVIN_STEPS_PER_LEVEL = 5  # T of NCSNv2's CIFAR-10 configuration, for unconditional sampling


@dataclass(frozen=True)
class Measurement:
    """What a guidance is built from: the operator, y, σ_y ([0, 1] units), the image shape (B, C, H, W), the
    prior's σ_d and the call's :class:`~scoreinv.solve.settings.Settings`."""

    operator: object
    y: object
    sigma_y: float
    x_shape: tuple
    sigma_data: float
    settings: object


@dataclass(frozen=True)
class Method:
    """One sampling method.

    Attributes:
        name: the method's name.
        sampler: a function (denoiser, x, sigmas, *, guidance, generator, **options) of :mod:`scoreinv.sampling`.
        nfe: network evaluations of one sample over L noise levels, as a function of L.
        guidance: builds the method's guidance from a :class:`Measurement` (None: unconditional).
        options: the sampler's keyword options from the call's settings (or None when unconditional).
        schedule: "karras" (EDM levels) or "geometric" (NCSNv2 levels) for unconditional sampling.
    """

    name: str
    sampler: Callable
    nfe: Callable[[int], int]
    guidance: Callable[[Measurement], guidance.Guidance] | None = None
    options: Callable = lambda settings: {}
    schedule: str = "karras"

    def levels(self, steps: int) -> int:
        """The most noise levels (at least 2) whose network evaluations fit in ``steps`` (≥ 1)."""
        count = 2
        while self.nfe(count + 1) <= steps:
            count += 1
        return count


def _likelihood(m: Measurement):
    return guidance.LikelihoodScore(m.operator, m.y, sigma_y=m.sigma_y, x_shape=m.x_shape,
                                    cg_effort=m.settings.cg_effort)


def _data_consistency(m: Measurement):
    return guidance.DataConsistency(m.operator, m.y, sigma_y=m.sigma_y, sigma_data=m.sigma_data, x_shape=m.x_shape,
                                    cg_effort=m.settings.cg_effort)


def _plug_and_play(m: Measurement):
    return guidance.PlugAndPlay(m.operator, m.y, sigma_y=m.sigma_y, x_shape=m.x_shape,
                                lam=m.settings.prior_weight, cg_effort=m.settings.cg_effort)


def _dps(m: Measurement):
    return guidance.DPS(m.operator, m.y)


def _mixing(m: Measurement):
    return guidance.Mixing(m.operator, m.y, sigma_y=m.sigma_y, x_shape=m.x_shape, cg_effort=m.settings.cg_effort)


def _likelihood_draw(m: Measurement):
    return guidance.LikelihoodDraw(m.operator, m.y, sigma_y=m.sigma_y, x_shape=m.x_shape, cg_effort=m.settings.cg_effort)


def _gibbs(levels: int) -> int:
    return GIBBS_INNER_LEVELS * levels


def _eta(settings) -> dict:
    return {"eta": settings.eta}


def _one_a_level(levels: int) -> int:
    return levels


def _two_a_level(levels: int) -> int:
    return 2 * levels - 1


def _guided_langevin(levels: int) -> int:
    return LANGEVIN_STEPS_PER_LEVEL * (levels - 1) + 1


def _prior_langevin(levels: int) -> int:
    return PRIOR_LANGEVIN_STEPS_PER_LEVEL * (levels - 1) + 1


METHODS = {method.name: method for method in [
    Method("dc", ancestral, _one_a_level, _data_consistency, _eta),
    Method("dps", ancestral, _one_a_level, _dps, _eta),
    Method("pc", predictor_corrector, _two_a_level, _likelihood),
    Method("langevin", annealed_langevin, _guided_langevin, _likelihood,
           lambda settings: {"steps_per_level": LANGEVIN_STEPS_PER_LEVEL}),
    Method("mixing", predictor_corrector, _two_a_level, _mixing),
    Method("pnp", plug_and_play, _one_a_level, _plug_and_play, _eta),
    Method("hqs", half_quadratic_splitting, _one_a_level, _plug_and_play, _eta),
    Method("gibbs", split_gibbs, _gibbs, _likelihood_draw, lambda settings: {"inner": GIBBS_INNER_LEVELS}),
]}
"""The guided methods of :func:`scoreinv.reconstruct`."""

PRIOR_SAMPLERS = {method.name: method for method in [
    Method("pc", predictor_corrector, _two_a_level),
    Method("ancestral", ancestral, _one_a_level),
    Method("ode", probability_flow, _two_a_level),
    Method("langevin", annealed_langevin, _prior_langevin,
           options=lambda settings: {"steps_per_level": PRIOR_LANGEVIN_STEPS_PER_LEVEL}, schedule="geometric"),
]}
"""The unconditional samplers of :func:`scoreinv.sampling.unconditional.sample_prior` (``scoreinv sample``)."""
