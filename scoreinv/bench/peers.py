"""Peers for ``scoreinv bench tasks --peers``: DeepInverse's DPS (Chung et al. 2023) and DiffPIR (Zhu et al. 2023),
driven by *our* prior network and *our* operators, so that only the sampling algorithm differs.

DeepInverse (``pip install scoreinv[peers]``) is optional: without it :func:`skip_note` says so and no peer runs.
The adapter follows DeepInverse's documented interfaces: a ``deepinv.models.Denoiser`` is called as
``D(x, sigma)`` on images in [0, 1] with σ in [0, 1] units (our :class:`~scoreinv.model.denoiser.Denoiser`'s contract
too); a ``deepinv.physics.LinearPhysics`` takes ``A``, ``A_adjoint`` and a noise model, and its ``prox_l2(z, y,
γ)`` is argmin_x ½‖A x − y‖² + 1/(2γ)‖x − z‖², which our operators compute in closed form where they can.
"""
from __future__ import annotations

import inspect

import torch

SKIP_NOTE = "peers skipped: deepinv not installed (pip install scoreinv[peers])"
# name → the NFE at which the method is usually run (DPS: 1000 DDPM steps as in Chung et al.; DiffPIR: 100)
USUAL_NFE = {"dps": 1000, "diffpir": 100}
# task family → DPS guidance weight λ on ‖A D(x) − y‖, chosen with ``python -m scoreinv.bench.tune_dps`` on a
# BSDS500 training crop (see that module); DeepInverse's default λ = 1 barely follows the data with our prior
DPS_WEIGHT = {"inpaint": 1000.0, "deblur": 300.0, "sr": 300.0}
DIFFPIR_MIN_SIGMA = 1e-3  # DiffPIR's ρ_t ∝ σ_y² vanishes for noiseless data; its authors floor σ_y at 1e-3 too


def skip_note() -> str | None:
    """The one-line note to record when DeepInverse cannot be imported, else None."""
    try:
        import deepinv  # noqa: F401
    except ImportError:
        return SKIP_NOTE
    return None


def deepinv_version() -> str | None:
    """The installed DeepInverse version, or None."""
    try:
        import deepinv
    except ImportError:
        return None
    return getattr(deepinv, "__version__", "unknown")


def peer_settings(name: str, *, steps: int | None = None, weight: float | None = None) -> dict:
    """What a peer ran: the DeepInverse class and version, its iterations, its DPS weight, and that its other
    parameters are DeepInverse's defaults.

    Args:
        name: "dps" or "diffpir".
        steps: the iterations asked for (None: :data:`USUAL_NFE`).
        weight: DPS's guidance weight (None: DeepInverse's default).
    """
    settings = {"sampler": {"dps": "deepinv.sampling.DPS", "diffpir": "deepinv.sampling.DiffPIR"}[name],
                "steps": steps or USUAL_NFE[name], "deepinv": deepinv_version(),
                "other_parameters": "DeepInverse's defaults" + (" (sigma_y floored at 1e-3)" if name == "diffpir" else "")}
    if name == "dps":
        settings["weight"] = weight if weight is not None else "DeepInverse's default"
    return settings


def run_peer(name: str, y: torch.Tensor, operator, denoiser, *, sigma_y: float, steps: int | None = None,
             weight: float | None = None, seed: int = 0, device=None) -> tuple[torch.Tensor, int]:
    """Reconstruct with a DeepInverse sampler and our prior; returns ((1, C, H, W) in [0, 1] on the CPU, NFE).

    Args:
        name: "dps" or "diffpir".
        y: the measurement (1, …) of ``operator``.
        operator: an ``operators.LinearOperator``.
        denoiser: our prior, a :class:`~scoreinv.model.denoiser.Denoiser`.
        sigma_y: measurement noise std in y's units.
        steps: sampler iterations (default: :data:`USUAL_NFE`).
        weight: DPS's guidance weight λ on ‖A D(x) − y‖ (None: DeepInverse's default, 1); ignored by DiffPIR.
        seed: seeds the sampler's random numbers.
        device: torch device to run on.
    """
    import deepinv as dinv

    device = torch.device(device or "cpu")
    operator = operator.to(device)
    y = y.to(device=device, dtype=torch.float32)
    x_shape = tuple(operator.A_adjoint(y).shape)
    prior = counting_denoiser(dinv, denoiser.to(device))
    physics = linear_physics(dinv, operator, sigma_y=sigma_y, x_shape=x_shape, device=device)
    steps = steps or USUAL_NFE[name]
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)  # for code paths that draw from the global generator
        if name == "dps":
            x = _dps(dinv, prior, physics, y, steps=steps, seed=seed, device=device, x_shape=x_shape, weight=weight)
        elif name == "diffpir":
            x = _diffpir(dinv, prior, physics, y, steps=steps, seed=seed, device=device, sigma_y=sigma_y)
        else:
            raise ValueError(f"unknown peer {name!r}; choose one of {', '.join(USUAL_NFE)}")
    return x.detach().float().clamp(0, 1).cpu(), prior.calls


def counting_denoiser(dinv, denoiser):
    """Our prior as a ``deepinv.models.Denoiser`` that counts its calls (the NFE)."""

    class PriorDenoiser(dinv.models.Denoiser):
        """D(x, σ) of a scoreinv prior; x in [0, 1], σ a float or one value per image in [0, 1] units."""

        def __init__(self, prior):
            super().__init__()
            self.prior, self.calls = prior, 0

        def forward(self, x, sigma, *args, **kwargs):
            self.calls += 1
            sigma = torch.as_tensor(sigma, device=x.device, dtype=torch.float32).flatten()
            sigma = sigma[0] if sigma.numel() == 1 else sigma
            return self.prior(x.float(), sigma.clamp_min(1e-6)).to(x.dtype)

    return PriorDenoiser(denoiser)


def linear_physics(dinv, operator, *, sigma_y: float, x_shape: tuple, device):
    """Our operator as a ``deepinv.physics.LinearPhysics`` with its own prox and pseudo-inverse."""

    class OperatorPhysics(dinv.physics.LinearPhysics):
        """A, Aᵀ, prox_l2 and A⁺ of a scoreinv operator."""

        def prox_l2(self, z, y, gamma, *args, **kwargs):
            gamma = float(gamma) if not torch.is_tensor(gamma) or gamma.numel() == 1 else gamma.flatten()
            return operator.prox_l2(z.float(), y.float(), gamma).to(z.dtype)

        def A_dagger(self, y, *args, **kwargs):
            return operator.A_dagger(y.float())

    noise = dinv.physics.GaussianNoise(sigma=float(sigma_y))
    return _construct(OperatorPhysics, A=lambda x, **kw: operator.A(x), A_adjoint=lambda v, **kw: operator.A_adjoint(v),
                      img_size=x_shape[1:], noise_model=noise, device=device)


def _dps(dinv, prior, physics, y, *, steps: int, seed: int, device, x_shape: tuple,
         weight: float | None = None) -> torch.Tensor:
    """DeepInverse's DPS with its default schedule, ``steps`` solver steps and guidance ``weight`` (DeepInverse
    < 0.3 has no weight parameter: there its own step rule runs and ``weight`` is not used)."""
    parameters = inspect.signature(dinv.sampling.DPS).parameters
    if "denoiser" in parameters:  # deepinv ≥ 0.3: a posterior SDE sampler
        generator = torch.Generator(device=device).manual_seed(seed)
        options = {} if weight is None else {"weight": float(weight)}
        sampler = _construct(dinv.sampling.DPS, denoiser=prior, num_steps=steps, device=device, rng=generator,
                             **options)
        return sampler(y, physics, x_init=x_shape, seed=seed)
    sampler = _construct(dinv.sampling.DPS, model=prior, data_fidelity=dinv.optim.data_fidelity.L2(),
                         max_iter=steps, device=device)
    return sampler(y, physics, seed=seed)


def _diffpir(dinv, prior, physics, y, *, steps: int, seed: int, device, sigma_y: float) -> torch.Tensor:
    """DeepInverse's DiffPIR with its default ζ and λ, ``steps`` iterations, σ_y floored at 1e-3."""
    physics.noise_model = dinv.physics.GaussianNoise(sigma=max(float(sigma_y), DIFFPIR_MIN_SIGMA))
    sampler = _construct(dinv.sampling.DiffPIR, model=prior, data_fidelity=dinv.optim.data_fidelity.L2(),
                         sigma=max(float(sigma_y), DIFFPIR_MIN_SIGMA), max_iter=steps, device=device)
    return sampler(y, physics, seed=seed)


def _construct(cls, **kwargs):
    """``cls(**kwargs)`` without the keywords its signature does not name (they differ between versions)."""
    parameters = inspect.signature(cls).parameters
    return cls(**{key: value for key, value in kwargs.items() if key in parameters})
