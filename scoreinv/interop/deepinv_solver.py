"""``reconstruct`` as a solver of DeepInverse's benchmark interface: a callable ``solver(y, physics) -> x``.

Kept apart from :mod:`scoreinv.interop.deepinv` because it needs ``reconstruct``, whose input checks import that
module in turn (for a DeepInverse physics passed to it); this one imports deepinv only through it.
"""
from __future__ import annotations

from pathlib import Path

import torch

from scoreinv.solve.reconstruct import reconstruct


def solver(*, prior=None, method: str | None = None, steps: int | None = None, n_samples: int = 1, seed: int = 0,
           device=None):
    """``reconstruct`` as a ``deepinv.models.Reconstructor``: ``solver(...)(y, physics)`` returns the posterior
    mean (B, C, H, W) in [0, 1], on y's device and in y's dtype.

    Args:
        prior: a shipped prior's name or NAME.pt path (loaded once, on the first call), a prior, a DeepInverse
            denoiser (wrapped by :func:`scoreinv.interop.deepinv.from_deepinv_denoiser`), or None for the default
            of the operator's family and channels (loaded on every call: pass ``load_prior(NAME)`` to load once).
        method: "pnp", "hqs", "dc", "dps", "pc", "langevin", "mixing" or "gibbs"; default: the operator's row of
            the settings table.
        steps: network evaluations per sample (≥ 1); default: the row's.
        n_samples: posterior samples averaged into the estimate (≥ 1; default 1).
        seed: seeds the sampler (default 0), the same for every call.
        device: "cpu", "cuda" or None (CUDA when available).
    """
    from scoreinv.interop.deepinv import Solver
    from scoreinv.model.devices import resolve_device
    from scoreinv.priors.registry import load_prior

    loaded = {}

    def run(y: torch.Tensor, physics) -> torch.Tensor:
        chosen = prior
        if isinstance(prior, (str, Path)):
            if "prior" not in loaded:
                loaded["prior"] = load_prior(str(prior), device=resolve_device(device))
            chosen = loaded["prior"]
        return reconstruct(y, physics, prior=chosen, method=method, steps=steps, n_samples=n_samples, seed=seed,
                           device=device).mean

    settings = {"prior": prior if prior is None or isinstance(prior, (str, Path)) else type(prior).__name__,
                "method": method, "steps": steps, "n_samples": n_samples, "seed": seed}
    return Solver(run, settings=settings)


def reconstruct_solver(y: torch.Tensor, physics, *, prior=None, method: str | None = None, steps: int | None = None,
                       n_samples: int = 1, seed: int = 0, device=None) -> torch.Tensor:
    """One call of :func:`solver`: the posterior mean of x given y for a DeepInverse physics (or our operator).

    Args:
        y: the measurement (B, …) as ``physics.A`` produces it.
        physics: a ``deepinv.physics.LinearPhysics`` or an ``operators.LinearOperator``.
        prior, method, steps, n_samples, seed, device: as :func:`solver`.
    """
    return solver(prior=prior, method=method, steps=steps, n_samples=n_samples, seed=seed, device=device)(y, physics)
