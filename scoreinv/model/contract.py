"""The one model contract: a prior is a denoiser ``D(x, sigma)`` that declares its noise range and data statistics."""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class Prior(Protocol):
    """What samplers and :func:`scoreinv.reconstruct` use of a prior (a :class:`~scoreinv.model.denoiser.Denoiser`
    satisfies it; so can any ``nn.Module`` of yours, e.g. a DeepInverse denoiser wrapped by
    :func:`scoreinv.interop.deepinv.from_deepinv_denoiser`).

    ``D(x, sigma)`` estimates E[x₀ | x₀ + σ n = x] for images x (B, C, H, W) in [0, 1] and σ a float or (B,) tensor
    in [0, 1] units; the score is ``(D(x, sigma) - x) / sigma**2``.

    Attributes:
        sigma_min: smallest noise level the prior was trained on ([0, 1] units).
        sigma_max: largest noise level ([0, 1] units): where sampling from pure noise starts.
        sigma_data: σ_d, standard deviation of the training pixels ([0, 1] units).
        data_mean: μ, mean training pixel value in [0, 1].
        channels: C, the channel count the prior models (None: any).
        dihedral: True when trained on flipped and 90°-rotated patches (the self-ensemble may then cycle it).
    """

    sigma_min: float
    sigma_max: float
    sigma_data: float
    data_mean: float
    channels: int | None
    dihedral: bool

    def __call__(self, x: torch.Tensor, sigma) -> torch.Tensor: ...

    def to(self, device): ...


def describe(prior) -> dict:
    """What a result records of its prior: name, checksum and precision (None where a prior does not say)."""
    card = getattr(prior, "card", None) or {}
    return {"prior": getattr(prior, "name", None) or type(prior).__name__, "prior_sha256": card.get("sha256"),
            "precision": getattr(prior, "precision", None)}


def missing_attributes(prior) -> list[str]:
    """The attributes of :class:`Prior` that ``prior`` lacks (empty when it satisfies the contract)."""
    needed = ["sigma_min", "sigma_max", "sigma_data", "data_mean", "channels", "dihedral"]
    return [name for name in needed if not hasattr(prior, name)] + ([] if callable(prior) else ["__call__"])
