"""Our prior and operators as DeepInverse objects for the peers of ``scoreinv bench``: a denoiser that counts its
calls, any operator as a ``LinearPhysics``, and — for DDRM (Kawar et al. 2022), which needs a singular value
decomposition — masks, circular blurs and box downsampling as DeepInverse ``DecomposablePhysics`` whose forward
model is checked against ours before a run.

DeepInverse is imported by the caller and passed in as ``dinv`` (so that nothing here imports it at module level).
"""
from __future__ import annotations

import math

import torch

import operators as ops
from scoreinv.errors import InputError

FORWARD_TOL = 1e-5  # largest |A_ours x − A_deepinv x| / max |A_ours x| accepted before DDRM runs
SVD_NOTE = "DDRM needs a singular value decomposition: masks, circular blurs and box downsampling only"


class PeerUnsupported(InputError):
    """The peer cannot run on this operator (e.g. DDRM on a blur with zero boundaries or on CT); one line."""


def counting_denoiser(dinv, denoiser):
    """Our prior as a ``deepinv.models.Denoiser`` that counts its calls (the NFE); σ is clamped at 1e-6 (DDRM's
    schedule ends at σ = 0).

    Args:
        dinv: the imported ``deepinv`` module.
        denoiser: our prior, D(x, σ) on x (B, C, H, W) in [0, 1], σ in [0, 1] units.
    """

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
    """Our operator as a ``deepinv.physics.LinearPhysics`` with its own prox and pseudo-inverse, and Gaussian noise
    σ_y (σ_y ≥ 0, y's units); ``x_shape`` is the image's (B, C, H, W)."""

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


def svd_kind(operator) -> str | None:
    """"mask", "blur" or "downsample" when DDRM can run on ``operator`` through :func:`svd_physics`, else None."""
    if isinstance(operator, ops.Mask):
        return "mask"
    if isinstance(operator, ops.Blur) and operator.boundary == "circular":
        return "blur"
    if isinstance(operator, ops.Downsample) and operator.filter == "box":
        return "downsample"
    return None


def svd_physics(dinv, operator, *, sigma_y: float, x_shape: tuple, device, check: bool = True):
    """The DeepInverse ``DecomposablePhysics`` with our operator's forward model: ``Inpainting`` for a mask,
    ``BlurFFT`` for a circular blur, :func:`box_downsampling` for box downsampling; Gaussian noise σ_y.

    Args:
        dinv: the imported ``deepinv`` module.
        operator: an ``ops.Mask``, a circular ``ops.Blur`` or a box ``ops.Downsample``.
        sigma_y: measurement noise std (≥ 0, y's units).
        x_shape: the image's shape (B, C, H, W).
        device: torch device.
        check: verify A x against ours on a random image (:func:`check_forward`) before returning.
    Raises:
        PeerUnsupported: for any other operator.
    """
    kind = svd_kind(operator)
    channels, height, width = (int(s) for s in x_shape[1:])
    noise = dinv.physics.GaussianNoise(sigma=float(sigma_y))
    if kind == "mask":
        mask = operator.mask.to(device=device, dtype=torch.float32).expand(1, channels, height, width).contiguous()
        physics = dinv.physics.Inpainting(img_size=(channels, height, width), mask=mask, noise_model=noise,
                                          device=device)
    elif kind == "blur":
        kernel = operator.kernel.to(device=device, dtype=torch.float32)[None]  # (1, 1|C, h, w)
        physics = dinv.physics.BlurFFT(img_size=(channels, height, width), filter=kernel, noise_model=noise,
                                       device=device)
    elif kind == "downsample":
        physics = box_downsampling(dinv, operator.factor, img_size=(channels, height, width), noise_model=noise,
                                   device=device)
    else:
        raise PeerUnsupported(f"{SVD_NOTE}; got {type(operator).__name__}")
    if check:
        check_forward(operator, physics, x_shape, device=device)
    return physics


def check_forward(operator, physics, x_shape: tuple, *, device=None, tol: float = FORWARD_TOL, seed: int = 0) -> float:
    """The largest |A x − physics.A x| relative to max |A x| on a uniform random image of ``x_shape``; raises
    PeerUnsupported when it exceeds ``tol`` (the two forward models differ)."""
    x = torch.rand(x_shape, generator=torch.Generator().manual_seed(seed)).to(device or "cpu")
    ours, theirs = operator.to(x.device).A(x), physics.A(x)
    if ours.shape != theirs.shape:
        raise PeerUnsupported(f"DeepInverse's {type(physics).__name__} gives y of shape {tuple(theirs.shape)}, ours "
                              f"{tuple(ours.shape)}")
    error = float((ours - theirs).abs().max() / ours.abs().max().clamp_min(1e-12))
    if not error <= tol:
        raise PeerUnsupported(f"DeepInverse's {type(physics).__name__} differs from our {type(operator).__name__} by "
                              f"{error:.2e} (relative, > {tol:g})")
    return error


def dct_matrix(n: int) -> torch.Tensor:
    """The orthonormal DCT-II matrix (n × n, float64); its first row is constant, 1/√n."""
    k = torch.arange(n, dtype=torch.float64)[:, None]
    i = torch.arange(n, dtype=torch.float64)[None, :]
    c = torch.cos(math.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2.0 / n)
    c[0] = 1.0 / math.sqrt(n)
    return c


def box_downsampling(dinv, factor: int, *, img_size: tuple, noise_model, device):
    """× ``factor`` box downsampling (the mean of each factor × factor block) as a ``DecomposablePhysics``.

    Vᵀ takes each block's 2-D orthonormal DCT (coefficients laid out (B, C, f, f, H/f, W/f)), so the block mean
    is the (0, 0) coefficient times 1/f: the singular values are 1/f there and 0 elsewhere, U keeps the (0, 0)
    coefficients as y (B, C, H/f, W/f) and Uᵀ puts y back with zeros. This is deepinv's layout for DDRM, whose
    ``mask``, ``U_adjoint(y)`` and ``V_adjoint(x)`` share one shape.

    Args:
        dinv: the imported ``deepinv`` module.
        factor: f ≥ 1, dividing H and W.
        img_size: (C, H, W).
        noise_model: a DeepInverse noise model.
        device: torch device.
    """
    f = int(factor)
    channels, height, width = (int(s) for s in img_size)
    if height % f or width % f:
        raise PeerUnsupported(f"box downsampling by {f} needs sides that are multiples of {f}, got {height}×{width}")
    h, w = height // f, width // f

    class BoxDownsampling(dinv.physics.DecomposablePhysics):
        """Mean over f × f blocks, with its SVD (see :func:`box_downsampling`)."""

        def __init__(self):
            mask = torch.zeros(1, channels, f, f, h, w)
            mask[:, :, 0, 0] = 1.0 / f
            super().__init__(mask=mask, img_size=img_size, noise_model=noise_model, device=device)
            self.register_buffer("dct", dct_matrix(f).to(torch.float32))

        def V_adjoint(self, x):
            blocks = x.reshape(x.shape[0], channels, h, f, w, f)
            d = self.dct.to(device=x.device, dtype=x.dtype)
            return torch.einsum("pi,qj,bcminj->bcpqmn", d, d, blocks)

        def V(self, x):
            d = self.dct.to(device=x.device, dtype=x.dtype)
            blocks = torch.einsum("pi,qj,bcpqmn->bcminj", d, d, x)
            return blocks.reshape(x.shape[0], channels, height, width)

        def U(self, x):
            return x[:, :, 0, 0]

        def U_adjoint(self, y):
            out = y.new_zeros(y.shape[0], channels, f, f, h, w)
            out[:, :, 0, 0] = y
            return out

    return BoxDownsampling()


def _construct(cls, **kwargs):
    """``cls(**kwargs)`` without the keywords its signature does not name (they differ between versions)."""
    import inspect

    parameters = inspect.signature(cls).parameters
    return cls(**{key: value for key, value in kwargs.items() if key in parameters})
