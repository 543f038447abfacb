"""Warm starts: the estimate a reconstruction starts from before noise is added."""
from __future__ import annotations

import torch

from scoreinv.errors import InputError


def initial_estimate(operator, y: torch.Tensor, how: str, x_shape, *, prior_mean: float = 0.5,
                     sigma_y: float = 0.0, family: str = "other") -> torch.Tensor:
    """The warm start x_init (B, C, H, W) in [0, 1].

    Args:
        operator: the measurement operator.
        y: the measurement.
        how: "baseline" (the task family's fast classical estimate: biharmonic inpainting, Wiener deconvolution,
            bicubic upsampling, FBP; A⁺ for other operators), "harmonic" (the harmonic fill of a mask's holes, which
            does not overshoot in large ones), "dagger" (μ + A⁺(y − A μ): the measurement's
            minimum-norm correction of the prior's mean image), "fbp" (CT), "adjoint" (Aᵀy) or "none" (the prior's
            mean image μ). ("estimate", the estimate target's reconstruction, needs the prior and is made by
            :func:`scoreinv.reconstruct` itself.)
        x_shape: image shape (B, C, H, W).
        prior_mean: μ, the prior's mean pixel value in [0, 1].
        sigma_y: measurement noise ([0, 1] units), for the baselines.
        family: "inpaint", "deblur", "sr", "ct" or "other".
    """
    mean = torch.full(x_shape, float(prior_mean), device=y.device)
    if how == "none":
        return mean
    if how == "baseline":
        from scoreinv.baselines import WARM_STARTS

        if family in WARM_STARTS:
            return WARM_STARTS[family](y, operator, sigma_y=sigma_y).to(y.device).clamp(0, 1)
        how = "dagger"
    if how == "harmonic":
        if getattr(operator, "family", None) != "inpaint":
            raise InputError("warm_start='harmonic' needs an inpainting (mask) operator")
        from scoreinv.baselines.inpainting import harmonic

        return harmonic(y, operator.mask)
    if how == "fbp":
        if not hasattr(operator, "fbp"):
            raise InputError("warm_start='fbp' needs a CT operator")
        return operator.fbp(y).clamp(0, 1)
    if how == "adjoint":
        return operator.A_adjoint(y).clamp(0, 1)
    if how == "dagger":
        return (mean + operator.A_dagger(y - operator.A(mean))).clamp(0, 1)
    from scoreinv.solve.settings import WARM_STARTS

    raise InputError(f"unknown warm start {how!r}; choose {', '.join(WARM_STARTS)}")
