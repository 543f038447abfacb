"""``reconstruct(y, operator)``: posterior sampling for y = A x + n with an unconditionally trained prior."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from scoreinv.errors import InputError
from scoreinv.io.progress import Progress
from scoreinv.model.wrappers import CountingDenoiser, DihedralCycle
from scoreinv.sampling import ancestral, annealed_langevin
from scoreinv.sampling import guidance as guidance_lib
from scoreinv.sampling import plug_and_play, predictor_corrector
from scoreinv.sampling.schedules import karras_sigmas
from scoreinv.solve.rows import operator_family, task_of
from scoreinv.solve.settings import Settings, default_eta, default_settings
from scoreinv.solve.warm_start import initial_estimate

METHODS = {
    # name: (sampler, guidance, NFE per level) — the four guidance methods of scoreinv.sampling.guidance
    "dc": (ancestral, guidance_lib.DataConsistency, 1),
    "dps": (ancestral, guidance_lib.DPS, 1),
    "pc": (predictor_corrector, guidance_lib.LikelihoodScore, 2),
    "langevin": (annealed_langevin, guidance_lib.LikelihoodScore, 4),
    "mixing": (predictor_corrector, guidance_lib.Mixing, 2),
    "pnp": (plug_and_play, guidance_lib.PlugAndPlay, 1),
}
CONVENTION = ("images in [0, 1]; y = A x + n with n ~ N(0, sigma_y^2 I), sigma_y in [0, 1] image units "
              "(for CT: in the sinogram's units, image values x pixel lengths)")


@dataclass
class Reconstruction:
    """What :func:`reconstruct` returns.

    Attributes:
        mean: pixel-wise mean of the samples, (B, C, H, W) in [0, 1].
        std: pixel-wise posterior standard deviation (B, C, H, W), or None when n_samples == 1.
        samples: (n_samples, B, C, H, W).
        nfe: network evaluations in all (every sample).
        seconds: wall-clock time.
        settings: every choice made, with the range and noise convention.
    """

    mean: torch.Tensor
    std: torch.Tensor | None
    samples: torch.Tensor
    nfe: int
    seconds: float
    settings: dict = field(default_factory=dict)


def reconstruct(y: torch.Tensor, operator, *, prior=None, method: str | None = None, steps: int | None = None,
                n_samples: int = 1, seed: int = 0, device=None, sigma_y: float | None = None,
                sigma_start: float | None = None, sigma_end: float | None = None, eta: float | None = None,
                warm_start: str | None = None, prior_weight: float | None = None, cg_effort: float | None = None,
                self_ensemble: bool | None = None, progress: bool = False) -> Reconstruction:
    """Sample the posterior p(x | y) ∝ p(y | x) p_θ(x) for a linear operator with a score prior (see the
    guidance methods of Song et al. 2021/2022, Chung et al. 2023, Wang et al. 2023, Zhu et al. 2023).

    Args:
        y: measurement (B, …) as ``operator.A`` produces it (images in [0, 1]; sinograms for CT).
        operator: an ``operators.LinearOperator`` (or any object with A, A_adjoint, A_dagger, prox_l2, norm).
        prior: a Denoiser, a shipped prior's name, or None for the default of the image type (grey or colour
            natural prior from the channel count, the CT prior for CT operators).
        method: "dc", "dps", "pc", "langevin", "mixing" or "pnp"; default from the task table in
            :mod:`scoreinv.solve.settings`.
        steps: network evaluations per sample (approximately: a method's levels are steps // NFE per level).
        n_samples: posterior samples per measurement; their mean is ``.mean`` and their spread ``.std``.
        seed: seeds the generator that is the only source of randomness.
        device: "cpu", "cuda", or None (CUDA if available).
        sigma_y: measurement noise ([0, 1] units); default ``operator.noise.sigma``.
        sigma_start: first noise level (default: the task table's, or the prior's σ_max without warm start).
        sigma_end: last noise level (default: the task table's).
        eta: fresh-noise share of the ancestral and plug-and-play methods in [0, 1] (default: the task table's;
            with n_samples > 1 and a table η of 0, plug-and-play re-noises fully (η = 1, DiffPIR with ζ = 1) so
            that the samples, and so ``.std``, show the posterior's spread rather than the start's).
        warm_start: "baseline", "dagger", "fbp", "adjoint" or "none" (see :func:`initial_estimate`; default: the
            task table's).
        prior_weight: λ, the prior's weight against the measurement in plug-and-play's data step (DPIR; > 0;
            default: the task table's, 0.23 as in DPIR except where measured otherwise). Other methods ignore it.
        cg_effort: for operators whose data step runs conjugate gradients (CT), the iterations allowed per step
            in units of √κ, κ = 1 + ‖A‖² γ its condition number (> 0; default: the task table's, whose CT rows
            set one; None is the operator's own stopping rule). Used by "pnp" and "dc".
        self_ensemble: cycle the prior through the 8 flips and 90° rotations, one a step (:class:`DihedralCycle`:
            no extra NFE); default on for priors trained with those augmentations (every shipped one), off for
            other denoisers, whose errors need not be equivariant.
        progress: draw a progress bar on stderr.
    """
    from scoreinv.model.devices import resolve_device
    from scoreinv.priors.registry import DEFAULTS, load_prior

    started = time.monotonic()
    device = resolve_device(device)
    family = operator_family(operator)
    defaults = default_settings(operator)
    method = method or defaults.method
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if n_samples < 1:
        raise InputError(f"n_samples must be at least 1, got {n_samples}")
    settings = Settings(method=method, steps=steps or defaults.steps,
                        sigma_start=sigma_start if sigma_start is not None else defaults.sigma_start,
                        sigma_end=sigma_end if sigma_end is not None else defaults.sigma_end,
                        eta=eta if eta is not None else default_eta(method, defaults, n_samples),
                        warm_start=warm_start or defaults.warm_start,
                        prior_weight=prior_weight if prior_weight is not None else defaults.prior_weight,
                        cg_effort=cg_effort if cg_effort is not None else defaults.cg_effort)
    if settings.steps < 1:
        raise InputError(f"steps must be at least 1, got {settings.steps}")
    if not settings.prior_weight > 0:
        raise InputError(f"prior_weight must be > 0, got {settings.prior_weight}")
    if settings.cg_effort is not None and not settings.cg_effort > 0:
        raise InputError(f"cg_effort must be > 0, got {settings.cg_effort}")

    # Measurement and operator on the device
    if not isinstance(y, torch.Tensor):
        raise InputError("y must be a torch.Tensor")
    if not bool(torch.isfinite(y).all()):
        raise InputError("the measurement holds NaN or infinite values")
    operator = operator.to(device)
    y = y.to(device=device, dtype=torch.float32)
    try:
        operator.validate_measurement(y)
        x_shape = tuple(operator.A_adjoint(y).shape)
    except (ValueError, RuntimeError) as error:
        raise InputError(f"measurement of shape {tuple(y.shape)} does not fit the operator: "
                         f"{str(error).splitlines()[0]}") from None
    sigma_y = float(operator.noise.sigma if sigma_y is None else sigma_y)
    if sigma_y < 0:
        raise InputError(f"sigma_y must be >= 0, got {sigma_y}")

    # Prior
    if prior is None:
        prior = DEFAULTS[("ct", 1) if family == "ct" else ("natural", x_shape[1])] if x_shape[1] in (1, 3) else None
        if prior is None:
            raise InputError(f"no default prior for {x_shape[1]}-channel images; pass prior=")
    denoiser = load_prior(prior, device=device) if isinstance(prior, str) else prior.to(device)
    if getattr(denoiser, "channels", None) not in (None, x_shape[1]):
        raise InputError(f"prior {getattr(denoiser, 'name', '')!r} models {denoiser.channels}-channel images but "
                         f"the operator's images have {x_shape[1]}")
    if self_ensemble is None:
        self_ensemble = bool(getattr(denoiser, "dihedral", False))

    # Schedule
    sampler, guidance_class, per_level = METHODS[method]
    n_levels = max(2, settings.steps // per_level)
    start = settings.sigma_start if settings.warm_start != "none" else denoiser.sigma_max
    sigmas = karras_sigmas(n_levels, sigma_max=start, sigma_min=settings.sigma_end).tolist()
    generator = torch.Generator(device=device).manual_seed(seed)
    knobs = {"cg_effort": settings.cg_effort} if issubclass(guidance_class, guidance_lib.DataConsistency) else {}
    if guidance_class is guidance_lib.PlugAndPlay:
        knobs["lam"] = settings.prior_weight
    guidance = guidance_class(operator, y, sigma_y=sigma_y, sigma_data=denoiser.sigma_data, x_shape=x_shape, **knobs)
    options = {"eta": settings.eta} if sampler in (ancestral, plug_and_play) else {}
    if sampler is annealed_langevin:
        options = {"steps_per_level": per_level}

    # Sampling
    bar = Progress(settings.steps * n_samples, desc=method, enabled=progress)
    counted = CountingDenoiser(DihedralCycle(denoiser) if self_ensemble else denoiser, bar)
    samples = []
    with torch.no_grad():
        warm = initial_estimate(operator, y, settings.warm_start, x_shape, prior_mean=denoiser.data_mean,
                                sigma_y=sigma_y, family=family)
        for _ in range(n_samples):
            noise = torch.randn(x_shape, generator=generator, device=device)
            samples.append(sampler(counted, warm + sigmas[0] * noise, sigmas, guidance=guidance,
                                   generator=generator, **options).clamp(0, 1))
    bar.close()
    samples = torch.stack(samples)
    record = {**settings.__dict__, "n_levels": len(sigmas), "sigma_start": sigmas[0], "sigma_end": sigmas[-1],
              "sigma_y": sigma_y, "n_samples": n_samples, "seed": seed, "device": str(device),
              "self_ensemble": self_ensemble, "precision": getattr(denoiser, "precision", None),
              "prior": getattr(denoiser, "name", type(denoiser).__name__),
              "prior_sha256": getattr(denoiser, "card", {}).get("sha256"), "task_family": family,
              "defaults_row": task_of(operator),
              "nfe_per_sample": counted.calls // n_samples, "convention": CONVENTION}
    return Reconstruction(mean=samples.mean(0), std=samples.std(0) if n_samples > 1 else None, samples=samples,
                          nfe=counted.calls, seconds=time.monotonic() - started, settings=record)
