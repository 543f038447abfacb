"""Adapters to DeepInverse (deepinv ≥ 0.5): operators ↔ physics, priors ↔ denoisers, and a reconstructor.

Importing this module imports deepinv; nothing else in scoreinv does. Both libraries share the conventions: images
(B, C, H, W) in [0, 1], σ in those units, and prox_l2(z, y, γ) = argmin_x ½‖A x − y‖² + 1/(2γ)‖x − z‖², the
solution of (AᵀA + I/γ) x = Aᵀy + z/γ, so every γ passes through unchanged.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Callable, Optional

import deepinv
import torch
from deepinv.models import Denoiser as DeepinvDenoiser
from deepinv.models import Reconstructor
from deepinv.physics import LinearPhysics
from torch import nn

import operators as ops

DEEPINV_SIGMA_MIN = 1.0 / 255   # one grey level: the low end of the range DeepInverse's denoisers are trained on
DEEPINV_SIGMA_MAX = 50.0 / 255  # DRUNet's and DnCNN's training range ends at σ = 50/255
DEEPINV_SIGMA_DATA = 0.25       # σ_d of natural images' pixels, as our priors' default
DEEPINV_DATA_MEAN = 0.5


# Small helpers

def _cg_options(tol: Optional[float], max_iter: Optional[int]) -> dict:
    """The conjugate-gradient options actually given (None means: the solver's own default)."""
    return {name: value for name, value in (("tol", tol), ("max_iter", max_iter)) if value is not None}


def _batch_gamma(value, like: torch.Tensor, name: str = "gamma"):
    """γ (or σ) as our operators and priors take it: a float, or a (B,) tensor for a batch ``like`` (B, …)."""
    if not isinstance(value, torch.Tensor) or value.numel() == 1:
        return float(value)
    if value.numel() == like.shape[0]:
        return value.reshape(-1).to(device=like.device, dtype=like.dtype)
    raise ValueError(f"{name} must be a float or hold one value per batch item ({like.shape[0]}), got shape "
                     f"{tuple(value.shape)}")


def _sigma_of(noise_model) -> Optional[float]:
    """The scalar σ of a DeepInverse noise model's ``sigma`` (the largest if it holds one a batch item), or None."""
    sigma = getattr(noise_model, "sigma", None)
    if isinstance(sigma, torch.Tensor) and sigma.numel() > 0 and sigma.is_floating_point():
        return float(sigma.detach().abs().max())
    return float(sigma) if isinstance(sigma, (int, float)) and not isinstance(sigma, bool) else None


@contextmanager
def _settings_kept(physics):
    """Restore the solver settings (``max_iter``, ``tol``, ``solver``) that DeepInverse's A_dagger and prox_l2
    overwrite on the physics whenever they are passed."""
    kept = {name: getattr(physics, name) for name in ("max_iter", "tol", "solver") if hasattr(physics, name)}
    try:
        yield
    finally:
        for name, value in kept.items():
            setattr(physics, name, value)


# Our operators as DeepInverse physics

class OurNoise(deepinv.physics.NoiseModel):
    """One of our noise models (e.g. ``operators.PoissonNoise``) as a DeepInverse one; draws with ``rng`` (a
    torch.Generator on the measurement's device; None: the global one)."""

    def __init__(self, noise: ops.NoiseModel, *, rng: Optional[torch.Generator] = None) -> None:
        super().__init__(rng=rng)
        self.ours = noise

    def forward(self, x: torch.Tensor, seed: Optional[int] = None, **kwargs) -> torch.Tensor:
        self.rng_manual_seed(seed)
        return self.ours.sample(x, generator=self.rng)


def deepinv_noise(noise: ops.NoiseModel):
    """A DeepInverse noise model for one of ours: ``GaussianNoise(σ)`` → ``deepinv.physics.GaussianNoise(sigma=σ)``
    (``ZeroNoise`` for σ = 0), anything else wrapped as :class:`OurNoise`."""
    if isinstance(noise, ops.GaussianNoise):
        return deepinv.physics.ZeroNoise() if noise.sigma == 0 else deepinv.physics.GaussianNoise(sigma=noise.sigma)
    return OurNoise(noise)


class OperatorPhysics(LinearPhysics):
    """One of our operators as a ``deepinv.physics.LinearPhysics``: A, A_adjoint, A_dagger and prox_l2 call the
    operator's own (closed forms where it has them, else its conjugate gradients); the noise model is mapped by
    :func:`deepinv_noise`. DeepInverse's ``solver`` and ``verbose`` arguments are accepted and ignored; ``tol`` and
    ``max_iter``, when given, go to the operator's conjugate gradients (closed forms ignore them).

    Args:
        operator: an ``operators.LinearOperator`` (registered as the submodule ``operator``, so ``.to``,
            ``clone`` and ``state_dict`` reach its buffers).
    """

    def __init__(self, operator: ops.LinearOperator) -> None:
        if not isinstance(operator, ops.LinearOperator):
            raise TypeError(f"as_physics takes an operators.LinearOperator, got {type(operator).__name__}")
        shape = operator.default_input_shape()
        super().__init__(noise_model=deepinv_noise(operator.noise), img_size=None if shape is None else shape[1:])
        self.operator = operator

    def A(self, x: torch.Tensor, **kwargs) -> torch.Tensor:
        """y = A x for images x (B, C, H, W) (DeepInverse's parameter keywords are ignored)."""
        return self.operator.A(x)

    def A_adjoint(self, y: torch.Tensor, **kwargs) -> torch.Tensor:
        return self.operator.A_adjoint(y)

    def A_dagger(self, y: torch.Tensor, solver=None, max_iter=None, tol=None, verbose=False, **kwargs):
        """The operator's pseudo-inverse A⁺ y."""
        return self.operator.A_dagger(y, **_cg_options(tol, max_iter))

    def prox_l2(self, z, y: torch.Tensor, gamma, solver=None, max_iter=None, tol=None, verbose=False, **kwargs):
        """argmin_x ½‖A x − y‖² + 1/(2γ)‖x − z‖² by the operator's prox_l2 (z None or a number: a constant image;
        γ a float, a 0-d tensor or one value per batch item)."""
        if z is None or isinstance(z, (int, float)):
            z = torch.full_like(self.operator.A_adjoint(y), 0.0 if z is None else float(z))
        return self.operator.prox_l2(z, y, _batch_gamma(gamma, z), **_cg_options(tol, max_iter))


def as_physics(operator: ops.LinearOperator) -> OperatorPhysics:
    """One of our operators (B, C, H, W) → y, compositions with ``@`` too, as a DeepInverse ``LinearPhysics`` (see
    :class:`OperatorPhysics`)."""
    return OperatorPhysics(operator)


# DeepInverse physics as our operators

class PhysicsNoise(ops.NoiseModel):
    """A DeepInverse noise model that our ``GaussianNoise`` cannot hold (σ > 1, e.g. on sinograms, or not Gaussian):
    ``sample`` calls ``model`` (with its own generator; ours is ignored), ``sigma`` is its σ in the measurement's
    units (0 when it has none)."""

    def __init__(self, model, *, sigma: float) -> None:
        self.model, self.sigma = model, float(sigma)

    def sample(self, y: torch.Tensor, *, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        return self.model(y)

    def variance(self, y: torch.Tensor) -> torch.Tensor:
        return torch.full_like(y, self.sigma ** 2)


def our_noise(noise_model) -> ops.NoiseModel:
    """Our noise model for a DeepInverse one: ZeroNoise (or None) → ``GaussianNoise(0)``, Gaussian σ ≤ 1 →
    ``GaussianNoise(σ)`` (a batch of σ: the largest), anything else :class:`PhysicsNoise`."""
    if noise_model is None or isinstance(noise_model, deepinv.physics.ZeroNoise):
        return ops.GaussianNoise(0.0)
    sigma = _sigma_of(noise_model)
    if isinstance(noise_model, deepinv.physics.GaussianNoise) and sigma is not None and sigma <= 1.0:
        return ops.GaussianNoise(sigma)
    return PhysicsNoise(noise_model, sigma=sigma or 0.0)


class PhysicsOperator(ops.LinearOperator):
    """A DeepInverse ``LinearPhysics`` as one of our operators (family "other"): A, A_adjoint, A_dagger and
    prox_l2 call the physics' own; ``norm`` is our power iteration on them; ``noise`` is mapped by
    :func:`our_noise`, so that ``noise.sigma`` is reconstruct's default σ_y. The solver settings DeepInverse's
    A_dagger and prox_l2 overwrite (max_iter, tol, solver) are restored after each call.

    Args:
        physics: a ``deepinv.physics.LinearPhysics`` on (B, C, H, W) float images (registered as the submodule
            ``physics``, so ``.to(device)`` moves it).
    """

    def __init__(self, physics: LinearPhysics) -> None:
        super().__init__(noise=our_noise(getattr(physics, "noise_model", None)))
        self.physics = physics

    def A(self, x: torch.Tensor) -> torch.Tensor:
        return self.physics.A(x)

    def validate_measurement(self, y: torch.Tensor) -> torch.Tensor:
        """Raise ValueError unless y is a finite float32/float64 tensor; any shape the physics makes (e.g. (B, m))."""
        if not isinstance(y, torch.Tensor) or y.dtype not in (torch.float32, torch.float64) or y.numel() == 0:
            raise ValueError("y must be a non-empty float32 or float64 torch.Tensor shaped as the physics' A makes it")
        if not bool(torch.isfinite(y).all()):
            raise ValueError("y contains NaN or infinite values; replace them (e.g. torch.nan_to_num) first")
        return y

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return self.physics.A_adjoint(y)

    def A_dagger(self, y: torch.Tensor, *, tol: Optional[float] = None,
                 max_iter: Optional[int] = None) -> torch.Tensor:
        """The physics' A⁺ y (``tol`` / ``max_iter``: its solver's, None for the physics' own settings)."""
        with _settings_kept(self.physics):
            return self.physics.A_dagger(y, **_cg_options(tol, max_iter))

    def prox_l2(self, z: torch.Tensor, y: torch.Tensor, gamma, *, tol: Optional[float] = None,
                max_iter: Optional[int] = None) -> torch.Tensor:
        """The physics' prox_l2(z, y, γ) (same γ convention; a (B,) γ is shaped (B, 1, 1, 1))."""
        gamma = _batch_gamma(gamma, z)
        gamma = gamma if isinstance(gamma, float) else gamma.reshape(-1, *([1] * (z.ndim - 1)))
        with _settings_kept(self.physics):
            return self.physics.prox_l2(z, y, gamma, **_cg_options(tol, max_iter))

    def extra_repr(self) -> str:
        return f"noise={self.noise!r}"


class PhysicsMask(PhysicsOperator):
    """A DeepInverse ``Inpainting`` (family "inpaint"); ``mask`` is its mask, (1|B, C, H, W), 1 = known."""

    family = "inpaint"

    @property
    def mask(self) -> torch.Tensor:
        return self.physics.mask


class PhysicsBlur(PhysicsOperator):
    """A DeepInverse ``Blur`` or ``BlurFFT`` (family "deblur"); ``kernel`` is its filter (b, c, h, w), ``boundary``
    its padding in our words ("circular", "valid", "zero" for "constant", else DeepInverse's name)."""

    family = "deblur"

    @property
    def kernel(self) -> torch.Tensor:
        return self.physics.filter

    @property
    def boundary(self) -> str:
        if isinstance(self.physics, deepinv.physics.BlurFFT):
            return "circular"
        padding = getattr(self.physics, "padding", "valid")
        return {"constant": "zero"}.get(padding, padding)


class PhysicsDownsample(PhysicsOperator):
    """A DeepInverse ``Downsampling`` with a padding other than "valid" (family "sr"): ``factor`` is its factor."""

    family = "sr"

    @property
    def factor(self) -> int:
        return int(self.physics.factor)


class PhysicsCT(PhysicsOperator):
    """A DeepInverse ``Tomography`` (family "ct"): ``angles_deg`` are its angles, ``fbp`` its filtered
    back-projection. Its sinograms are (B, C, detectors, angles) in its own units (scaled to ‖A‖ = 1 when built
    with ``normalize=True``), so pass ``sigma_y`` in those units."""

    family = "ct"

    @property
    def angles_deg(self) -> tuple:
        return tuple(float(a) for a in self.physics.angles.detach().reshape(-1).tolist())

    def fbp(self, y: torch.Tensor) -> torch.Tensor:
        return self.physics.fbp(y)


def _operator_class(physics) -> type:
    """The adapter class for a physics: by DeepInverse class, "other" unless it is one we recognise (and has the
    parameters its family's row and warm start read)."""
    p = deepinv.physics
    if isinstance(physics, p.Inpainting) and isinstance(getattr(physics, "mask", None), torch.Tensor):
        return PhysicsMask
    if isinstance(physics, (p.Blur, p.BlurFFT)) and isinstance(getattr(physics, "filter", None), torch.Tensor):
        return PhysicsBlur
    if isinstance(physics, p.Downsampling) and not isinstance(physics, p.Upsampling) \
            and getattr(physics, "padding", None) != "valid" and getattr(physics, "factor", None) is not None:
        return PhysicsDownsample
    if isinstance(physics, p.Tomography):
        return PhysicsCT
    return PhysicsOperator


def from_physics(physics) -> ops.LinearOperator:
    """A DeepInverse ``LinearPhysics`` as an operator ``reconstruct`` accepts: the family comes from its class
    (Inpainting → "inpaint", Blur / BlurFFT → "deblur", Downsampling → "sr", Tomography → "ct", else "other"),
    and with it the row of the settings table; a physics made by :func:`as_physics` gives back its operator.

    Args:
        physics: a ``deepinv.physics.LinearPhysics`` on (B, C, H, W) float images.
    Raises:
        TypeError: for a physics that is not linear.
    """
    if isinstance(physics, OperatorPhysics):
        return physics.operator
    if isinstance(physics, ops.LinearOperator):
        return physics
    if not isinstance(physics, LinearPhysics):
        raise TypeError(f"reconstruct needs a linear measurement: a deepinv.physics.LinearPhysics, got "
                        f"{type(physics).__name__}")
    return _operator_class(physics)(physics)


# Priors and denoisers

class PriorDenoiser(DeepinvDenoiser):
    """Our prior as a ``deepinv.models.Denoiser``: ``forward(x, sigma)`` is ``prior(x, sigma)`` cast to x's dtype.

    Args:
        prior: a :class:`scoreinv.model.contract.Prior` (e.g. ``load_prior("natural-gray")``), D(x, σ) on x
            (B, C, H, W) in [0, 1] with σ in [0, 1] units.
    """

    def __init__(self, prior) -> None:
        super().__init__()
        self.prior = prior

    def forward(self, x: torch.Tensor, sigma, **kwargs) -> torch.Tensor:
        """Denoise x (B, C, H, W) in [0, 1] at σ (a float, a 0-d tensor or (B,), in [0, 1] units)."""
        return self.prior(x, _batch_gamma(sigma, x, "sigma")).to(x.dtype)


def as_deepinv_denoiser(prior) -> PriorDenoiser:
    """Our prior (a :class:`scoreinv.model.contract.Prior`) as a DeepInverse denoiser, e.g. for ``deepinv.optim``
    or ``deepinv.sampling`` (see :class:`PriorDenoiser`)."""
    return PriorDenoiser(prior)


class DeepinvPrior(nn.Module):
    """A DeepInverse denoiser as our :class:`~scoreinv.model.contract.Prior`: ``D(x, sigma)`` calls
    ``model(x, sigma)``, σ passed through as the float or (B,) tensor the sampler gives.

    What is assumed: the model is a Gaussian denoiser of images in [0, 1] whose σ is the noise's standard deviation
    in those units (DeepInverse's convention), so it estimates E[x₀ | x₀ + σ n]; the samplers may call it at σ
    outside its training range (a warm-started row starts at 0.1–0.5, sampling from noise at ``sigma_max``); a
    model that ignores σ (DnCNN) is used as it is. The attributes are declared, not measured: pass the training
    range and data statistics if they differ from the defaults.

    Args:
        model: a ``deepinv.models.Denoiser`` or any module ``model(x, sigma)``.
        sigma_min, sigma_max: its training range of σ ([0, 1] units, 0 < sigma_min ≤ sigma_max).
        sigma_data: σ_d, the standard deviation of its training pixels ([0, 1] units, > 0).
        data_mean: μ, their mean, in [0, 1].
        channels: C it denoises (None: any).
        dihedral: whether it was trained on flips and 90° rotations (turns the self-ensemble on by default).
        name: what results record as the prior (default: the model's class name).
    """

    def __init__(self, model: Callable, *, sigma_min: float, sigma_max: float, sigma_data: float, data_mean: float,
                 channels: Optional[int], dihedral: bool, name: Optional[str]) -> None:
        super().__init__()
        if not callable(model):
            raise TypeError(f"from_deepinv_denoiser needs a callable denoiser model(x, sigma), got "
                            f"{type(model).__name__}")
        numbers = {"sigma_min": sigma_min, "sigma_max": sigma_max, "sigma_data": sigma_data, "data_mean": data_mean}
        bad = [k for k, v in numbers.items() if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0)]
        if bad or min(sigma_min, sigma_data) <= 0 or sigma_min > sigma_max or data_mean > 1:
            raise ValueError("need finite 0 < sigma_min <= sigma_max, sigma_data > 0 and data_mean in [0, 1], got "
                             + ", ".join(f"{k}={v!r}" for k, v in numbers.items()))
        if channels is not None and (isinstance(channels, bool) or not isinstance(channels, int) or channels < 1):
            raise ValueError(f"channels must be a positive whole number or None, got {channels!r}")
        self.model = model
        self.sigma_min, self.sigma_max, self.sigma_data = float(sigma_min), float(sigma_max), float(sigma_data)
        self.data_mean, self.channels, self.dihedral = float(data_mean), channels, bool(dihedral)
        self.name = name or type(model).__name__

    def forward(self, x: torch.Tensor, sigma) -> torch.Tensor:
        """Denoise x (B, C, H, W) in [0, 1] at σ (a float or a (B,) tensor, [0, 1] units)."""
        return self.model(x, sigma)


def from_deepinv_denoiser(model, *, sigma_min: float = DEEPINV_SIGMA_MIN, sigma_max: float = DEEPINV_SIGMA_MAX,
                          sigma_data: float = DEEPINV_SIGMA_DATA, data_mean: float = DEEPINV_DATA_MEAN,
                          channels: Optional[int] = None, dihedral: bool = False, name: Optional[str] = None):
    """A DeepInverse denoiser (e.g. ``deepinv.models.DRUNet``) as a prior for ``reconstruct(..., prior=)``; what is
    assumed is in :class:`DeepinvPrior`. A denoiser made by :func:`as_deepinv_denoiser` gives back its prior.

    Args:
        model: the denoiser, called as ``model(x, sigma)`` on x (B, C, H, W) in [0, 1].
        sigma_min: smallest σ it was trained on ([0, 1] units; default 1/255).
        sigma_max: largest σ ([0, 1] units; default 50/255, DRUNet's range): where sampling from noise starts.
        sigma_data: σ_d of its training pixels ([0, 1] units; default 0.25), used by the guidance rules.
        data_mean: μ of its training pixels in [0, 1] (default 0.5), the "none" and "dagger" warm starts' image.
        channels: C it denoises (default None: any; a mismatch then fails inside the model).
        dihedral: trained on flips and 90° rotations (default False: the self-ensemble stays off unless asked).
        name: what results record as the prior (default the class name).
    """
    if isinstance(model, PriorDenoiser):
        return model.prior
    if isinstance(model, DeepinvPrior):
        return model
    return DeepinvPrior(model, sigma_min=sigma_min, sigma_max=sigma_max, sigma_data=sigma_data, data_mean=data_mean,
                        channels=channels, dihedral=dihedral, name=name)


# reconstruct as a DeepInverse reconstructor

class Solver(Reconstructor):
    """A function ``run(y, physics) -> x`` as a ``deepinv.models.Reconstructor`` whose estimates (B, C, H, W) follow
    y's device and dtype; ``settings`` records the keywords it was built with. Built by
    :func:`scoreinv.interop.deepinv_solver.solver`."""

    def __init__(self, run: Callable, *, settings: dict) -> None:
        super().__init__()
        self.run, self.settings = run, dict(settings)

    def forward(self, y: torch.Tensor, physics, **kwargs) -> torch.Tensor:
        """The estimate of x from y = A x + n for ``physics`` (DeepInverse's extra keywords are ignored)."""
        return self.run(y, physics).to(device=y.device, dtype=y.dtype)
