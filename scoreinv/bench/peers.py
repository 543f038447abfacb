"""Peers for ``scoreinv bench``: DeepInverse's DPS (Chung et al. 2023), DiffPIR (Zhu et al. 2023), DDRM (Kawar et al.
2022) and DPIR (Zhang et al. 2021), driven by *our* prior network and *our* operators, so that only the algorithm
differs; each with the knobs it is tuned on (``scoreinv bench tune --peer``) and the table of tuned values that
``scoreinv bench tasks --peers`` uses.

DeepInverse (``pip install scoreinv[peers]``) is optional: without it :func:`skip_note` says so and no peer runs.
Conventions shared with DeepInverse: images in [0, 1], σ in those units, a ``Denoiser`` called as ``D(x, σ)``, and
``prox_l2(z, y, γ)`` = argmin_x ½‖A x − y‖² + 1/(2γ)‖x − z‖².
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from scoreinv.bench.peer_physics import (PeerUnsupported, _construct, counting_denoiser, linear_physics, svd_kind,
                                         svd_physics)
from scoreinv.errors import InputError

SKIP_NOTE = "peers skipped: deepinv not installed (pip install scoreinv[peers])"
DIFFPIR_MIN_SIGMA = 1e-3  # DiffPIR's ρ_t ∝ σ_y² vanishes for noiseless data; its authors floor σ_y at 1e-3 too
DPIR_MIN_SIGMA = 0.01     # DeepInverse's DPIR floors σ_y at 0.01 in its step sizes; its schedule's end here too


@dataclass(frozen=True)
class Peer:
    """A DeepInverse method: what it is, the NFE it is usually run at, and its knobs with DeepInverse's defaults
    (None: a rule stated in :func:`run_peer`)."""

    sampler: str
    paper: str
    usual_nfe: int
    knobs: dict


PEERS = {
    "dps": Peer("deepinv.sampling.DPS", "Chung et al. 2023", 1000, {"weight": 1.0}),
    "diffpir": Peer("deepinv.sampling.DiffPIR", "Zhu et al. 2023", 100, {"lambda": 7.0, "zeta": 0.1}),
    "ddrm": Peer("deepinv.sampling.DDRM", "Kawar et al. 2022", 100, {"eta": 0.85, "eta_b": 1.0, "sigma_max": 1.0}),
    "dpir": Peer("deepinv.optim HQS (DPIR's iteration)", "Zhang et al. 2021", 8,
                 {"sigma_start": 49.0 / 255, "sigma_end": None, "prior_weight": 0.23}),
}
USUAL_NFE = {name: peer.usual_nfe for name, peer in PEERS.items()}


@dataclass(frozen=True)
class TunedRow:
    """Knob values of one peer on one task, chosen by ``command`` (a ``scoreinv bench tune --peer`` run) on
    ``tuned_on`` (a validation set, never a reported one); ``steps`` is the NFE it was tuned and is run at."""

    knobs: dict
    steps: int
    tuned_on: str
    command: str


def _row(peer: str, task: str, knobs: dict, steps: int, grid: str) -> TunedRow:
    """A row tuned by ``scoreinv bench tune --peer PEER --task TASK`` on BSD68's first 2 images (128² crops)."""
    return TunedRow(knobs=knobs, steps=steps, tuned_on="bsd68",
                    command=f"scoreinv bench tune --peer {peer} --task {task} {grid} --data bsd68 --limit 2 --crop 128")


DDRM_GRID = "--grid eta=0.5,0.85,1 --grid eta_b=0.4,0.7,1"
# (peer, task) → its tuned row; a task without one borrows its family's first row (see :func:`tuned_row`); the
# sweeps are in docs/tuning.md ("Peers")
TUNED = {
    ("dps", "inpaint-random"): _row("dps", "inpaint-random", {"weight": 1000.0}, 1000,
                                    "--grid weight=300,1000,3000"),
    ("dps", "deblur-gauss"): _row("dps", "deblur-gauss", {"weight": 100.0}, 1000, "--grid weight=100,300,1000"),
    ("dps", "sr4"): _row("dps", "sr4", {"weight": 300.0}, 1000, "--grid weight=100,300,1000"),
    ("dps", "inpaint-box"): _row("dps", "inpaint-box", {"weight": 300.0}, 1000, "--grid weight=300,1000,3000"),
    ("diffpir", "inpaint-random"): _row("diffpir", "inpaint-random", {"lambda": 30.0, "zeta": 1.0}, 100,
                                        "--grid lambda=1,7,30 --grid zeta=0.1,0.3,1"),
    ("diffpir", "deblur-gauss"): _row("diffpir", "deblur-gauss", {"lambda": 1.0, "zeta": 1.0}, 100,
                                      "--grid lambda=0.5,1,2 --grid zeta=0.8,1"),
    ("diffpir", "sr4"): _row("diffpir", "sr4", {"lambda": 1.0, "zeta": 1.0}, 100,
                             "--grid lambda=0.3,1,3,7,30 --grid zeta=0.1,0.3,0.6,1"),
    ("ddrm", "inpaint-random"): _row("ddrm", "inpaint-random", {"eta": 1.0, "eta_b": 1.0}, 100, DDRM_GRID),
    ("ddrm", "deblur-gauss"): _row("ddrm", "deblur-gauss", {"eta": 0.85, "eta_b": 0.7}, 100, DDRM_GRID),
    ("ddrm", "sr4"): _row("ddrm", "sr4", {"eta": 0.85, "eta_b": 1.0}, 100, DDRM_GRID),
    ("dpir", "inpaint-random"): _row("dpir", "inpaint-random", {"sigma_start": 0.5, "sigma_end": 0.01,
                                                                "prior_weight": 0.03}, 24,
                                     "--grid sigma_start=0.5 --grid steps=24 --grid prior_weight=0.03,0.1 "
                                     "--grid sigma_end=0.002,0.005,0.01"),
    ("dpir", "deblur-gauss"): _row("dpir", "deblur-gauss", {"sigma_start": 0.192, "sigma_end": 0.005,
                                                            "prior_weight": 0.05}, 8,
                                   "--grid sigma_start=0.192 --grid steps=8 --grid prior_weight=0.02,0.05,0.1 "
                                   "--grid sigma_end=0.005,0.01,0.02"),
    ("dpir", "sr4"): _row("dpir", "sr4", {"sigma_start": 0.192, "sigma_end": 0.005, "prior_weight": 0.1}, 24,
                          "--grid sigma_start=0.192 --grid steps=24 --grid prior_weight=0.03,0.1 "
                          "--grid sigma_end=0.005,0.01,0.02"),
    ("diffpir", "deblur-motion"): _row("diffpir", "deblur-motion", {"lambda": 3.0, "zeta": 1.0}, 100,
                                       "--grid lambda=3,7,15 --grid zeta=1"),
    ("ddrm", "deblur-motion"): _row("ddrm", "deblur-motion", {"eta": 0.5, "eta_b": 0.2}, 100,
                                    "--grid eta=0.3,0.5 --grid eta_b=0.2,0.4"),
    ("dpir", "deblur-motion"): _row("dpir", "deblur-motion", {}, 8,
                                    "--grid sigma_start=0.192 --grid steps=8 --grid prior_weight=0.23,0.5,1 "
                                    "--grid sigma_end=0.005,0.01"),
    ("diffpir", "inpaint-box"): _row("diffpir", "inpaint-box", {"lambda": 7.0, "zeta": 1.0}, 100,
                                     "--grid lambda=7 --grid zeta=0.3,0.6,1"),
    ("ddrm", "inpaint-box"): _row("ddrm", "inpaint-box", {"eta": 1.0, "eta_b": 1.0}, 100, DDRM_GRID),
    ("dpir", "inpaint-box"): _row("dpir", "inpaint-box", {"sigma_start": 5.0, "prior_weight": 0.1}, 24,
                                  "--grid sigma_start=1,2,5 --grid steps=24 --grid prior_weight=0.1"),
}


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


def tuned_row(name: str, task) -> tuple[TunedRow, str] | tuple[None, None]:
    """(row, the task it was tuned on) for peer ``name`` on ``task`` (a :class:`~scoreinv.problems.tasks.Task`):
    the task's own row, else the first row of a task of the same family, else (None, None)."""
    if (name, task.name) in TUNED:
        return TUNED[name, task.name], task.name
    return family_row(name, task.family)


def family_row(name: str, family: str) -> tuple[TunedRow, str] | tuple[None, None]:
    """(row, its task) of the first task of ``family`` ("inpaint", "deblur", "sr", "ct") tuned for peer ``name``."""
    from scoreinv.problems.tasks import TASKS

    for (peer, task), row in TUNED.items():
        if peer == name and task in TASKS and TASKS[task].family == family:
            return row, task
    return None, None


# DPS's weight by task family (its tuned row's, else DeepInverse's), as earlier versions named it
DPS_WEIGHT = {family: float(family_row("dps", family)[0].knobs["weight"]) if family_row("dps", family)[0]
              else PEERS["dps"].knobs["weight"] for family in ("inpaint", "deblur", "sr")}


def peers_for(task) -> tuple[list, list]:
    """(peer names that run on ``task``, notes): DDRM needs an operator with an SVD; a peer without a tuned row
    for the task's family runs with DeepInverse's defaults, and a note says so."""
    operator = task.build((1, 1, 64, 64), 0, torch.Generator().manual_seed(0))
    names, notes = [], []
    for name in PEERS:
        if name == "ddrm" and svd_kind(operator) is None:
            notes.append(f"deepinv-ddrm not run on {task.name}: DDRM needs a singular value decomposition (masks, "
                         f"circular blurs, box downsampling)")
            continue
        names.append(name)
        if tuned_row(name, task)[0] is None:
            notes.append(f"deepinv-{name} on {task.name} runs with DeepInverse's defaults: no tuned row for the "
                         f"{task.family} family")
    return names, notes


def check_knobs(name: str, knobs: dict | None) -> dict:
    """Peer ``name``'s knobs: its defaults updated by ``knobs``; one-line InputError for an unknown peer or knob."""
    if name not in PEERS:
        raise InputError(f"unknown peer {name!r}; choose one of {', '.join(PEERS)}")
    unknown = sorted(set(knobs or {}) - set(PEERS[name].knobs))
    if unknown:
        raise InputError(f"{name} has no knob {', '.join(unknown)}; its knobs: {', '.join(PEERS[name].knobs)}")
    return {**PEERS[name].knobs, **(knobs or {})}


def peer_settings(name: str, *, steps: int | None = None, knobs: dict | None = None, tuned_on: str | None = None,
                  command: str | None = None) -> dict:
    """What a peer ran, for results.json: the DeepInverse method and version, its paper, iterations, every knob's
    value, and where those values were tuned (None: DeepInverse's defaults)."""
    peer = PEERS[name]
    return {"sampler": peer.sampler, "paper": peer.paper, "steps": steps or peer.usual_nfe,
            "deepinv": deepinv_version(), "knobs": check_knobs(name, knobs),
            "tuned_on": tuned_on or "not tuned: DeepInverse's defaults", "tuning_command": command}


def run_peer(name: str, y: torch.Tensor, operator, denoiser, *, sigma_y: float, steps: int | None = None,
             knobs: dict | None = None, seed: int = 0, device=None) -> tuple[torch.Tensor, int]:
    """Reconstruct with a DeepInverse method and our prior; returns ((1, C, H, W) in [0, 1] on the CPU, NFE).

    Args:
        name: a peer of :data:`PEERS` ("dps", "diffpir", "ddrm", "dpir").
        y: the measurement (1, …) of ``operator``.
        operator: an ``operators.LinearOperator`` (DDRM: a mask, circular blur or box downsampling).
        denoiser: our prior, a :class:`~scoreinv.model.denoiser.Denoiser`.
        sigma_y: measurement noise std in y's units (≥ 0).
        steps: iterations, one network evaluation each (default: the peer's :data:`USUAL_NFE`).
        knobs: values for the peer's knobs (:data:`PEERS`; missing ones take DeepInverse's defaults): DPS weight
            (> 0, on ‖A D(x) − y‖); DiffPIR lambda (> 0) and zeta ([0, 1]); DDRM eta, eta_b ([0, 1]) and sigma_max
            (> 0, its schedule is linspace(sigma_max, 0, steps)); DPIR sigma_start > sigma_end (> 0; None:
            max(σ_y, 0.01)), geometric in between, and prior_weight (> 0, DPIR's λ).
        seed: seeds the method's random numbers.
        device: torch device to run on.
    Raises:
        PeerUnsupported: DDRM on an operator without an SVD, or a DeepInverse physics whose A differs from ours.
    """
    import deepinv as dinv

    k = check_knobs(name, knobs)
    device = torch.device(device or "cpu")
    operator = operator.to(device)
    y = y.to(device=device, dtype=torch.float32)
    x_shape = tuple(operator.A_adjoint(y).shape)
    prior = counting_denoiser(dinv, denoiser.to(device))
    steps = steps or USUAL_NFE[name]
    physics = (svd_physics(dinv, operator, sigma_y=sigma_y, x_shape=x_shape, device=device) if name == "ddrm" else
               linear_physics(dinv, operator, sigma_y=sigma_y, x_shape=x_shape, device=device))
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)  # DiffPIR and DDRM draw from the global generator
        if name == "dps":
            x = _dps(dinv, prior, physics, y, steps=steps, seed=seed, device=device, x_shape=x_shape,
                     weight=k["weight"])
        elif name == "diffpir":
            x = _diffpir(dinv, prior, physics, y, steps=steps, seed=seed, device=device, sigma_y=sigma_y,
                         lambda_=k["lambda"], zeta=k["zeta"])
        elif name == "ddrm":
            x = _ddrm(dinv, prior, physics, y, steps=steps, seed=seed, eta=k["eta"], eta_b=k["eta_b"],
                      sigma_max=k["sigma_max"])
        else:
            x = _dpir(dinv, prior, physics, y, steps=steps, sigma_y=sigma_y, sigma_start=k["sigma_start"],
                      sigma_end=k["sigma_end"], prior_weight=k["prior_weight"], device=device)
    return x.detach().float().clamp(0, 1).cpu(), prior.calls


def _dps(dinv, prior, physics, y, *, steps: int, seed: int, device, x_shape: tuple, weight: float) -> torch.Tensor:
    """DeepInverse's DPS: its VP schedule and DDPM solver, ``steps`` steps, guidance ``weight`` on the residual norm
    (DeepInverse < 0.3 has no weight parameter: there its own step rule runs and ``weight`` is not used)."""
    import inspect

    if "denoiser" in inspect.signature(dinv.sampling.DPS).parameters:  # deepinv ≥ 0.3: a posterior SDE sampler
        generator = torch.Generator(device=device).manual_seed(seed)
        sampler = _construct(dinv.sampling.DPS, denoiser=prior, num_steps=steps, device=device, rng=generator,
                             weight=float(weight))
        return sampler(y, physics, x_init=x_shape, seed=seed)
    sampler = _construct(dinv.sampling.DPS, model=prior, data_fidelity=dinv.optim.data_fidelity.L2(),
                         max_iter=steps, device=device)
    return sampler(y, physics, seed=seed)


def _diffpir(dinv, prior, physics, y, *, steps: int, seed: int, device, sigma_y: float, lambda_: float,
             zeta: float) -> torch.Tensor:
    """DeepInverse's DiffPIR with ρ_t = λ σ_y² / σ̄_t² (σ_y floored at 1e-3) and noise share ζ, ``steps``
    iterations from pure noise."""
    sigma = max(float(sigma_y), DIFFPIR_MIN_SIGMA)
    physics.noise_model = dinv.physics.GaussianNoise(sigma=sigma)
    sampler = _construct(dinv.sampling.DiffPIR, model=prior, data_fidelity=dinv.optim.data_fidelity.L2(),
                         sigma=sigma, max_iter=steps, zeta=float(zeta), lambda_=float(lambda_), device=device)
    return sampler(y, physics, seed=seed)


def _ddrm(dinv, prior, physics, y, *, steps: int, seed: int, eta: float, eta_b: float,
          sigma_max: float) -> torch.Tensor:
    """DeepInverse's DDRM on the SVD physics, schedule linspace(sigma_max, 0, steps), η and η_b as given."""
    if steps < 2:
        raise PeerUnsupported("DDRM needs at least 2 steps (its schedule runs from sigma_max to 0)")
    sampler = dinv.sampling.DDRM(denoiser=prior, sigmas=np.linspace(float(sigma_max), 0.0, steps), eta=float(eta),
                                 etab=float(eta_b))
    return sampler(y, physics, seed=seed)


def dpir_schedule(steps: int, *, sigma_y: float, sigma_start: float, sigma_end: float | None,
                  prior_weight: float) -> tuple[list, list]:
    """(denoiser σ per iteration, HQS step size per iteration) of DPIR (Zhang et al. 2021) as DeepInverse builds
    them: σ geometric from ``sigma_start`` to ``sigma_end`` (None: max(σ_y, 0.01)), step (σ_k / max(σ_y, 0.01))² /
    λ with λ = ``prior_weight``.

    Args:
        steps: iterations (≥ 1).
        sigma_y: measurement noise std (≥ 0).
        sigma_start, sigma_end: first and last denoiser σ ([0, 1] units, > 0).
        prior_weight: λ > 0 (DPIR: 0.23).
    """
    end = max(float(sigma_y), DPIR_MIN_SIGMA) if sigma_end is None else float(sigma_end)
    if not (sigma_start > 0 and end > 0 and prior_weight > 0):
        raise InputError(f"DPIR needs sigma_start, sigma_end and prior_weight > 0, got {sigma_start}, {end}, "
                         f"{prior_weight}")
    sigmas = torch.logspace(np.log10(sigma_start), np.log10(end), steps, dtype=torch.float64).tolist()
    floor = max(float(sigma_y), DPIR_MIN_SIGMA)
    return sigmas, [(s / floor) ** 2 / prior_weight for s in sigmas]


def _dpir(dinv, prior, physics, y, *, steps: int, sigma_y: float, sigma_start: float, sigma_end: float | None,
          prior_weight: float, device) -> torch.Tensor:
    """DeepInverse's DPIR iteration (HQS, data step first, from Aᵀy) with the schedule of :func:`dpir_schedule`;
    built as ``deepinv.optim.DPIR`` builds itself, which hard-codes 8 iterations and σ_y > 0."""
    from deepinv.optim import BaseOptim
    from deepinv.optim.optimizers import create_iterator

    sigmas, stepsizes = dpir_schedule(steps, sigma_y=sigma_y, sigma_start=sigma_start, sigma_end=sigma_end,
                                      prior_weight=prior_weight)
    pnp = dinv.optim.PnP(denoiser=prior)
    solver = BaseOptim(create_iterator("HQS", prior=pnp, cost_fn=None, g_first=False), max_iter=steps,
                       data_fidelity=dinv.optim.L2(), prior=pnp, early_stop=False,
                       params_algo={"stepsize": stepsizes, "g_param": sigmas})
    with torch.no_grad():
        return solver(y, physics)

