"""The settings table: one row of sampler settings per kind of problem, and how a call's settings are resolved.

``reconstruct(y, op)`` picks the row from the operator itself (:func:`scoreinv.solve.rows.row_of`), so it needs no
task name. Each row states the set it was chosen on and one line of why; the sweeps behind every row, with their
commands, are in ``docs/tuning.md``. Change a row only with a benchmark run on validation images that shows the new
setting is better.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from scoreinv.errors import InputError
from scoreinv.sampling.guidance import DPIR_PRIOR_WEIGHT

WARM_STARTS = ("baseline", "harmonic", "dagger", "fbp", "adjoint", "estimate", "none")


@dataclass(frozen=True)
class Settings:
    """Sampler settings of one reconstruction.

    Attributes:
        method: a method of :data:`scoreinv.sampling.methods.METHODS` ("pnp", "hqs", "dc", "dps", "pc", "langevin",
            "mixing", "gibbs").
        steps: network evaluations per sample (≥ 1).
        sigma_start: first noise level, [0, 1] units (used with a warm start).
        sigma_end: last noise level, [0, 1] units (0 < sigma_end ≤ sigma_start).
        eta: fresh-noise share of the ancestral and plug-and-play methods, [0, 1].
        warm_start: one of :data:`WARM_STARTS` (see :func:`~scoreinv.solve.warm_start.initial_estimate`;
            "estimate": the estimate target's result, for the sample target only).
        prior_weight: λ of plug-and-play's data step (DPIR's prior weight, > 0; larger trusts the prior more).
        cg_effort: conjugate-gradient budget of an iterative data step, in units of √κ (> 0; see
            :class:`~scoreinv.sampling.guidance.DataConsistency`); None: the operator's own stopping rule.
    """

    method: str
    steps: int
    sigma_start: float
    sigma_end: float
    eta: float
    warm_start: str
    prior_weight: float = DPIR_PRIOR_WEIGHT
    cg_effort: float | None = None


@dataclass(frozen=True)
class Row:
    """One row of the table: its settings, the validation set they were chosen or confirmed on (never a reported
    test set), and one line of why (the sweeps are in ``docs/tuning.md``)."""

    settings: Settings
    tuned_on: str
    why: str


ROWS = {
    "inpaint-random": Row(Settings(method="pnp", steps=24, sigma_start=0.1, sigma_end=0.005, eta=0.0,
                                   warm_start="baseline"), tuned_on="bsd68",
                          why="plug-and-play from the biharmonic fill; 24 steps scored as 40 in 0.6 of the time"),
    "inpaint-box": Row(Settings(method="pnp", steps=20, sigma_start=0.02, sigma_end=0.005, eta=0.0,
                                warm_start="harmonic"), tuned_on="bsd68",
                       why="large holes: sharpen the harmonic fill (no overshoot, unlike biharmonic) very gently; "
                           "higher starts lost PSNR to it"),
    "deblur": Row(Settings(method="hqs", steps=8, sigma_start=0.192, sigma_end=0.01, eta=0.0, warm_start="baseline"),
                  tuned_on="bsd68",
                  why="blurs that keep most frequencies: DPIR's order and schedule (8 steps from σ₀ = 49/255, λ = 0.23) "
                      "beat 40 plug-and-play steps in PSNR (LPIPS is the sample target's)"),
    "deblur-lowpass": Row(Settings(method="pnp", steps=16, sigma_start=0.192, sigma_end=0.005, eta=0.0,
                                   warm_start="baseline", prior_weight=0.1), tuned_on="bsd68",
                          why="blurs that erase most frequencies: DPIR's start σ₀ = 49/255 with a smaller λ matched "
                              "40 re-noised steps' PSNR in 16 (LPIPS is the sample target's)"),
    "sr": Row(Settings(method="pnp", steps=10, sigma_start=0.192, sigma_end=0.01, eta=0.0, warm_start="baseline"),
              tuned_on="bsd68", why="plug-and-play from bicubic upsampling: 10 steps from σ₀ = 49/255 scored as 20 "
                                    "from 0.1 within 0.02 dB"),
    "ct-sparse": Row(Settings(method="pnp", steps=40, sigma_start=0.1, sigma_end=0.005, eta=0.0,
                              warm_start="baseline", cg_effort=0.35), tuned_on="ct-train",
                     why="40 steps from FBP, conjugate gradients budgeted at ⌈0.35 √κ⌉ to stay under 20 s"),
    "ct-limited": Row(Settings(method="pnp", steps=20, sigma_start=0.5, sigma_end=0.005, eta=0.0,
                               warm_start="baseline", cg_effort=0.13), tuned_on="ct-train",
                      why="a higher start with a √κ conjugate-gradient budget: the iterations go to the noisy steps"),
    "other": Row(Settings(method="pnp", steps=30, sigma_start=0.5, sigma_end=0.01, eta=0.0, warm_start="dagger"),
                 tuned_on="none", why="a cautious default for operators of no known family: start from A⁺ y"),
}


def default_eta(method: str, settings: Settings, n_samples: int, *, methods) -> float:
    """η for ``method`` under a row's settings: the row's η for a method built on the row's guidance (its own
    method, or the other order of plug-and-play: "pnp" and "hqs"), the ancestral methods' DDPM η = 1 for the others;
    with several samples, a deterministic row (η = 0, the plug-and-play rows) re-noises fully (η = 1, DiffPIR with
    ζ = 1) so that the samples differ and their spread is the std map. ``methods``: the method records by name."""
    if methods[method].guidance is not methods[settings.method].guidance:
        return 1.0
    return 1.0 if n_samples > 1 and settings.eta == 0 else settings.eta


def resolve(row: Settings, *, methods, n_samples: int, method: str | None = None, steps: int | None = None,
            sigma_start: float | None = None, sigma_end: float | None = None, eta: float | None = None,
            warm_start: str | None = None, prior_weight: float | None = None,
            cg_effort: float | None = None, target: str = "estimate") -> Settings:
    """A call's settings: each knob given by the caller, else the row's; checked, with a one-line InputError.

    Args:
        row: the row's settings.
        methods: the method records by name (:data:`scoreinv.sampling.methods.METHODS`).
        n_samples: samples asked for (decides the default η, see :func:`default_eta`).
        method, steps, sigma_start, sigma_end, eta, warm_start, prior_weight, cg_effort: overrides, None for the
            row's value (see :class:`Settings` for their ranges).
        target: the call's target; warm_start="estimate" needs "sample".
    """
    method = row.method if method is None else method
    if method not in methods:
        raise InputError(f"unknown method {method!r}; choose one of {', '.join(methods)}")
    given = {"steps": steps, "sigma_start": sigma_start, "sigma_end": sigma_end, "warm_start": warm_start,
             "prior_weight": prior_weight, "cg_effort": cg_effort,
             "eta": default_eta(method, row, n_samples, methods=methods) if eta is None else eta}
    settings = replace(row, method=method, **{k: v for k, v in given.items() if v is not None})
    check(settings)
    if settings.warm_start == "estimate" and target != "sample":
        raise InputError("warm_start='estimate' starts the draws from the estimate target's result; "
                         "it needs target='sample'")
    return settings


def check(settings: Settings) -> None:
    """Raise a one-line InputError unless every setting is finite and in its range (see :class:`Settings`)."""
    s = settings
    if isinstance(s.steps, bool) or not isinstance(s.steps, int) or s.steps < 1:
        raise InputError(f"steps must be a whole number ≥ 1, got {s.steps!r}")
    for name, value, low in [("sigma_start", s.sigma_start, 0.0), ("sigma_end", s.sigma_end, 0.0),
                             ("prior_weight", s.prior_weight, 0.0),
                             ("cg_effort", 1.0 if s.cg_effort is None else s.cg_effort, 0.0)]:
        if not _finite(value) or not value > low:
            raise InputError(f"{name} must be a finite number > {low:g}, got {value!r}")
    if not _finite(s.eta) or not 0 <= s.eta <= 1:
        raise InputError(f"eta must be a number in [0, 1], got {s.eta!r}")
    if s.warm_start not in WARM_STARTS:
        raise InputError(f"unknown warm start {s.warm_start!r}; choose {', '.join(WARM_STARTS)}")


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _sampling(sigma_start: float, *, steps: int = 100, cg_effort: float | None = None,
              warm_start: str = "baseline") -> Settings:
    return Settings(method="gibbs", steps=steps, sigma_start=sigma_start, sigma_end=0.01, eta=1.0,
                    warm_start=warm_start, cg_effort=cg_effort)


SAMPLE_ROWS = {
    "inpaint-random": Row(_sampling(0.02, steps=76, warm_start="estimate"), tuned_on="bsd68",
                          why="split Gibbs from the estimate row's result (24 NFE: 100 in all); it had a lower LPIPS "
                              "and a higher PSNR than the chain from the biharmonic fill, in grey and in colour"),
    "inpaint-box": Row(Settings(method="dc", steps=100, sigma_start=1.0, sigma_end=0.01, eta=1.0, warm_start="none"),
                       tuned_on="bsd68", why="ancestral sampling with data consistency from pure noise: split Gibbs "
                                             "from σ₀ = 1 filled holes with clutter (higher LPIPS)"),
    "deblur": Row(_sampling(0.02, steps=32, warm_start="estimate"), tuned_on="bsd68",
                  why="split Gibbs from the estimate row's result (8 NFE: 40 in all); from σ₀ = 0.02 it beat the "
                      "start from Wiener, and shorter or longer chains had a higher LPIPS"),
    "deblur-lowpass": Row(_sampling(0.015, steps=24, warm_start="estimate"), tuned_on="bsd68",
                          why="split Gibbs from the estimate row's result (16 NFE: 40 in all); from Wiener, lower "
                              "starts kept its amplified noise in the erased band as fur-like texture; 24 NFE scored "
                              "as 84 in grey and better in colour"),
    "sr": Row(_sampling(0.3), tuned_on="bsd68",
              why="split Gibbs from bicubic upsampling; lower starts keep the lost band's noise as fur-like texture"),
    "ct-sparse": Row(_sampling(0.3, cg_effort=0.35), tuned_on="none", why="split Gibbs from FBP"),
    "ct-limited": Row(_sampling(0.5, cg_effort=0.35), tuned_on="none", why="split Gibbs from FBP"),
    "other": Row(_sampling(0.5), tuned_on="none", why="split Gibbs from A⁺ y"),
}
"""The rows of ``target="sample"``: posterior draws of at most 100 NFE a sample (those of rows that start from the
estimate include its, the estimate row run once), by split Gibbs sampling (PnP-DM) or, for large holes, ancestral
sampling with data consistency from pure noise; rows with ``tuned_on="none"`` are first choices (docs/sampling.md has
what was measured)."""

TARGETS = {"estimate": ROWS, "sample": SAMPLE_ROWS}
