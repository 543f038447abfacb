"""``reconstruct(y, operator)``: posterior sampling for y = A x + n with an unconditionally trained prior."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import torch

from scoreinv.errors import InputError
from scoreinv.io.progress import Progress
from scoreinv.model.contract import describe
from scoreinv.model.devices import resolve_device
from scoreinv.model.wrappers import CountingDenoiser, DihedralCycle
from scoreinv.priors.registry import resolve_prior
from scoreinv.solve.row_priors import default_prior_for
from scoreinv.sampling.methods import METHODS, Measurement
from scoreinv.sampling.schedules import karras_sigmas
from scoreinv.solve.calibration import calibration_for, fitted_settings
from scoreinv.solve.inputs import measured
from scoreinv.solve.memory import DEFAULT_MEMORY_BUDGET, fit_to_budget
from scoreinv.solve.settings import TARGETS, resolve
from scoreinv.solve.uncertainty import prediction_interval, predictive_std
from scoreinv.solve.warm_start import initial_estimate

CONVENTION = ("images in [0, 1]; y = A x + n with n ~ N(0, sigma_y^2 I), sigma_y in [0, 1] image units "
              "(for CT: in the sinogram's units, image values x pixel lengths)")


@dataclass
class Reconstruction:
    """What :func:`reconstruct` returns.

    Attributes:
        mean: pixel-wise mean of the samples, (B, C, H, W) in [0, 1].
        std: pixel-wise predictive standard deviation (B, C, H, W), or None when n_samples == 1: mean ± 1.645 · std
            is the 90 % prediction interval of :mod:`scoreinv.solve.uncertainty` (the samples' spread corrected for
            their number, and calibrated on validation images by :mod:`scoreinv.solve.calibration` when the prior's
            card holds a calibration of these settings: ``settings["calibration"]`` says whether and on what).
        samples: (n_samples, B, C, H, W).
        nfe: network evaluations in all (every sample, and those of an "estimate" warm start).
        seconds: wall-clock time.
        settings: every choice made, with the range and noise convention.
        calibration: the :class:`~scoreinv.solve.calibration.Calibration` applied to ``std`` and
            :meth:`interval`, or None.
    """

    mean: torch.Tensor
    std: torch.Tensor | None
    samples: torch.Tensor
    nfe: int
    seconds: float
    settings: dict = field(default_factory=dict)
    calibration: object = None

    def interval(self, level: float = 0.9):
        """(low, high), each (B, C, H, W): the central prediction interval of probability ``level`` in (0, 1)
        from the samples (needs n_samples ≥ 2), calibrated when ``calibration`` is set."""
        if self.samples.shape[0] < 2:
            raise InputError("an interval needs n_samples >= 2")
        if not isinstance(level, (int, float)) or isinstance(level, bool) or not 0 < level < 1:
            raise InputError(f"level must be a number in (0, 1), got {level!r}")
        return prediction_interval(self.samples, level, calibration=self.calibration)


def reconstruct(y: torch.Tensor, operator, *, prior=None, method: str | None = None, steps: int | None = None,
                n_samples: int = 1, target: str = "estimate", seed: int = 0, device=None, sigma_y: float | str | None = None,
                sigma_start: float | None = None, sigma_end: float | None = None, eta: float | None = None,
                warm_start: str | None = None, prior_weight: float | None = None, cg_effort: float | None = None,
                self_ensemble: bool | None = None, memory_budget: float | None = DEFAULT_MEMORY_BUDGET,
                progress: bool = False) -> Reconstruction:
    """Sample the posterior p(x | y) ∝ p(y | x) p_θ(x) for a linear operator with a score prior (see the
    guidance methods of Song et al. 2021/2022, Chung et al. 2023, Wang et al. 2023, Zhu et al. 2023).

    Args:
        y: measurement (B, …) as ``operator.A`` produces it (images in [0, 1]; sinograms for CT).
        operator: an ``operators.LinearOperator`` (or any object with A, A_adjoint, A_dagger, prox_l2, norm).
        prior: a Denoiser, a shipped prior's name, or None for the default of the image type (grey or colour
            natural prior from the channel count, the CT prior for CT operators), or of the problem's row and target
            where :data:`~scoreinv.solve.row_priors.GREY_ROW_PRIORS` names a grey prior of its own.
        method: "dc", "dps", "pc", "langevin", "mixing", "pnp", "hqs" or "gibbs"; default from the task table in
            :mod:`scoreinv.solve.settings`.
        steps: network evaluations per sample (approximately: a method's levels are steps // NFE per level).
        n_samples: posterior samples per measurement; their mean is ``.mean`` and their spread ``.std``.
        target: "estimate" (the settings table's rows: the best point estimate, highest PSNR) or "sample" (its
            sampling rows: draws of p(x | y) by split Gibbs sampling, or for large holes by ancestral sampling
            with data consistency from noise; realistic texture, a spread calibrated where the prior's card says so).
        seed: seeds the generator that is the only source of randomness.
        device: "cpu", "cuda", or None (CUDA if available).
        sigma_y: measurement noise ([0, 1] units; sinogram units for CT); default ``operator.noise.sigma``; "auto"
            estimates it from y (:func:`scoreinv.problems.noise_level.estimate_noise`, docs/noise.md).
        sigma_start: first noise level (default: the task table's, or the prior's σ_max without warm start).
        sigma_end: last noise level (default: the task table's).
        eta: fresh-noise share of the ancestral and plug-and-play methods in [0, 1] (default: the task table's;
            with n_samples > 1 and a table η of 0, plug-and-play re-noises fully (η = 1, DiffPIR with ζ = 1) so
            that the samples, and so ``.std``, show the posterior's spread rather than the start's).
        warm_start: "baseline", "harmonic", "dagger", "fbp", "adjoint", "none" (see :func:`initial_estimate`) or,
            with target="sample", "estimate" (the draws start from the estimate target's reconstruction with the
            same prior, made once; its NFE count in ``.nfe``); default: the task table's.
        prior_weight: λ, the prior's weight against the measurement in plug-and-play's data step (DPIR; > 0;
            default: the task table's, 0.23 as in DPIR unless the row sets another). Other methods ignore it.
        cg_effort: for operators whose data step runs conjugate gradients (CT), the iterations allowed per step
            in units of √κ, κ = 1 + ‖A‖² γ its condition number (> 0; default: the task table's, whose CT rows
            set one; None is the operator's own stopping rule). Used by "pnp" and "dc".
        self_ensemble: cycle the prior through the 8 flips and 90° rotations, one a step (:class:`DihedralCycle`:
            no extra NFE); default on for priors trained with those augmentations (every shipped one), off for
            other denoisers, whose errors need not be equivariant.
        memory_budget: bytes the reconstruction may grow by (default 4 GiB = 4 * 2**30; at least 1 MiB; None or 0:
            no limit). When a network call on the whole image would not fit (see :mod:`scoreinv.solve.memory`),
            the prior is called on overlapping tiles blended smoothly (:class:`~scoreinv.model.tiling.TiledDenoiser`,
            the tile :func:`~scoreinv.model.tiling.tile_for_memory` picks) while the data step stays global;
            ``settings["tiling"]`` records whether and how.
        progress: draw a progress bar on stderr.
    """
    # Settings, measurement and prior
    started = time.monotonic()
    device = resolve_device(device)
    problem = measured(y, operator, device=device, sigma_y=sigma_y)
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
        raise InputError(f"n_samples must be a whole number >= 1, got {n_samples!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not -2 ** 63 <= seed < 2 ** 64:
        raise InputError(f"seed must be a whole number in [-2^63, 2^64), got {seed!r}")
    if target not in TARGETS:
        raise InputError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
    settings = resolve(TARGETS[target][problem.row].settings, methods=METHODS, n_samples=n_samples, method=method, steps=steps,
                       sigma_start=sigma_start, sigma_end=sigma_end, eta=eta, warm_start=warm_start,
                       prior_weight=prior_weight, cg_effort=cg_effort, target=target)
    channels = problem.x_shape[1]
    if prior is None:
        prior = default_prior_for(problem.row, target=target, family=problem.family, channels=channels)
    denoiser = resolve_prior(prior, family=problem.family, channels=channels, device=device)
    self_ensemble = bool(denoiser.dihedral) if self_ensemble is None else bool(self_ensemble)

    # Schedule and guidance
    chosen = METHODS[settings.method]
    start = settings.sigma_start if settings.warm_start != "none" else denoiser.sigma_max
    if not settings.sigma_end < start:
        raise InputError(f"sigma_end ({settings.sigma_end:g}) must be below the first noise level ({start:g})")
    sigmas = karras_sigmas(chosen.levels(settings.steps), sigma_max=start, sigma_min=settings.sigma_end).tolist()
    guidance = chosen.guidance(Measurement(operator=problem.operator, y=problem.y, sigma_y=problem.sigma_y,
                                           x_shape=problem.x_shape, sigma_data=denoiser.sigma_data, settings=settings))
    generator = torch.Generator(device=device).manual_seed(seed)

    # Sampling
    bar = Progress(settings.steps * n_samples, desc=settings.method, enabled=progress)
    fitted, tiling = fit_to_budget(denoiser, problem.x_shape, memory_budget)
    counted = CountingDenoiser(DihedralCycle(fitted) if self_ensemble else fitted, bar)
    samples = []
    with torch.no_grad():
        warm, warm_nfe = _warm_start(y, operator, problem, settings.warm_start, prior=denoiser, seed=seed,
                                     device=device, memory_budget=memory_budget, self_ensemble=self_ensemble)
        for _ in range(n_samples):
            noise = torch.randn(problem.x_shape, generator=generator, device=device)
            samples.append(chosen.sampler(counted, warm + sigmas[0] * noise, sigmas, guidance=guidance,
                                          generator=generator, **chosen.options(settings)).clamp(0, 1))
    bar.close()

    # Record
    samples = torch.stack(samples)
    record = {**asdict(settings), "n_levels": len(sigmas), "sigma_start": sigmas[0], "sigma_end": sigmas[-1],
              "sigma_y": problem.sigma_y, "sigma_y_source": problem.sigma_y_source,
              "sigma_y_estimator": problem.sigma_y_estimator, "n_samples": n_samples, "seed": seed, "device": str(device),
              "self_ensemble": self_ensemble, "tiling": tiling, **describe(denoiser), "task_family": problem.family,
              "defaults_row": problem.row, "target": target, "nfe_per_sample": counted.calls // n_samples,
              "warm_start_nfe": warm_nfe, "convention": CONVENTION}
    calibration, why = calibration_for(getattr(denoiser, "card", None), target=target, row=problem.row,
                                       settings=fitted_settings(record))
    record["calibration"] = {"calibrated": calibration is not None, "fitted_on" if calibration else "why": why}
    return Reconstruction(mean=samples.mean(0), std=predictive_std(samples, calibration=calibration) if n_samples > 1
                          else None, samples=samples, nfe=warm_nfe + counted.calls, seconds=time.monotonic() - started,
                          settings=record, calibration=calibration)


def _warm_start(y, operator, problem, how: str, *, prior, seed: int, device, memory_budget,
                self_ensemble: bool) -> tuple[torch.Tensor, int]:
    """(the warm start (B, C, H, W) in [0, 1], its network evaluations): for "estimate", the estimate target's
    reconstruction of the same measurement with the draws' own prior, σ_y as resolved and the same self-ensemble,
    once for all samples; else :func:`initial_estimate`, which calls no network."""
    if how == "estimate":
        first = reconstruct(y, operator, prior=prior, target="estimate", seed=seed, device=device,
                            sigma_y=problem.sigma_y, self_ensemble=self_ensemble, memory_budget=memory_budget)
        return first.mean, first.nfe
    return initial_estimate(problem.operator, problem.y, how, problem.x_shape, prior_mean=prior.data_mean,
                            sigma_y=problem.sigma_y, family=problem.family), 0
