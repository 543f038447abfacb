"""Classical deconvolution: the Wiener filter with a natural-image spectrum model, and TV deconvolution."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from scoreinv.baselines.tv import gradient, gradient_adjoint, tv_solve

# Natural-image power spectrum S(ω) = κ / |ω|² (|ω| in cycles per pixel, S per pixel for intensities in [0, 1]).
# The log-log least-squares fit (slope fixed at −2) of the mean periodogram of 60 greyscale BSDS500 *training*
# images gives κ = 8e-4; the Wiener PSNR on 20 other training images (Gaussian blur σ = 3 px, σ_y ∈ {0.01, 0.03})
# peaks at half that over the grid κ ∈ {2, 4, 8, 16, 32}·1e-4, so κ = 4e-4. No test set was used.
SPECTRUM_KAPPA = 4e-4
TV_DEBLUR_C = 0.125  # λ = c · σ_y · ‖A‖ for TV deconvolution; see :func:`tv`


def wiener(y: torch.Tensor, kernel: torch.Tensor, *, sigma_y: float, kappa: float = SPECTRUM_KAPPA) -> torch.Tensor:
    """Wiener filter (Wiener 1949) for circular convolution, X = H* Y / (|H|² + σ_y² / S(ω)) with S(ω) = κ / |ω|².

    The noise-to-signal ratio per frequency is σ_y² |ω|² / κ (|ω| in cycles/pixel): no free parameter beyond
    σ_y, since κ was set once on BSDS500 training images (see ``SPECTRUM_KAPPA``). Output clipped to [0, 1].

    Args:
        y: (B, C, H, W) blurred noisy image, intensities in [0, 1].
        kernel: (kh, kw), (C, kh, kw) or (1|B, 1|C, kh, kw) blur kernel, kh ≤ H and kw ≤ W, applied as a true
            convolution centred at (kh // 2, kw // 2) with circular boundary.
        sigma_y: standard deviation of the additive white Gaussian noise in [0, 1] units.
        kappa: κ of the spectrum model (default set on BSDS500 training images).
    """
    return wiener_from_otf(y, kernel_otf(kernel, tuple(y.shape[-2:])), sigma_y=sigma_y, kappa=kappa)


def wiener_baseline(y: torch.Tensor, op, *, sigma_y: float) -> torch.Tensor:
    """The Wiener filter of :func:`wiener` for an ``operators.Blur``; circular: transfer function read off A(δ).

    Other boundaries ("zero", "valid"), which no FFT diagonalises, use the same Gaussian model in the image
    domain: S(ω) = κ/|ω|² is the gradient prior ‖∇x‖² / (4π²κ), so X minimises ‖A x − y‖² + σ_y² ‖∇x‖² / (4π²κ),
    solved by conjugate gradients (at most 200 iterations) from the (edge-padded) measurement.

    Args:
        y: (B, C, H, W) measurement of ``op`` ((B, C, H − h + 1, W − w + 1) for "valid").
        op: the blur operator (its ``boundary`` is read when present; default circular).
        sigma_y: noise standard deviation in [0, 1] units.
    """
    if getattr(op, "boundary", "circular") == "circular":
        return wiener_from_otf(y, operator_otf(op, tuple(y.shape), device=y.device), sigma_y=sigma_y)
    return _wiener_cg(y, op, sigma_y=sigma_y)


def _wiener_cg(y: torch.Tensor, op, *, sigma_y: float, kappa: float = SPECTRUM_KAPPA,
               iterations: int = 200) -> torch.Tensor:
    """(AᵀA + μ ∇ᵀ∇) x = Aᵀy with μ = σ_y² / (4π²κ) by conjugate gradients (Hestenes & Stiefel 1952), clipped."""
    mu = sigma_y ** 2 / (4 * math.pi ** 2 * kappa)
    x = full_size(y, op).clone()
    normal = lambda v: op.A_adjoint(op.A(v)) + mu * gradient_adjoint(gradient(v))  # noqa: E731
    r = op.A_adjoint(y) - normal(x)
    d, rr = r.clone(), r.pow(2).sum()
    stop = 1e-12 * op.A_adjoint(y).pow(2).sum()
    for _ in range(iterations):
        if rr <= stop:
            break
        nd = normal(d)
        alpha = rr / d.mul(nd).sum()
        x, r = x + alpha * d, r - alpha * nd
        rr_new = r.pow(2).sum()
        d, rr = r + (rr_new / rr) * d, rr_new
    return x.clamp(0, 1)


def tv(y: torch.Tensor, op, *, sigma_y: float, weight: float | None = None, iterations: int = 300) -> torch.Tensor:
    """TV-regularised deconvolution (Rudin, Osher & Fatemi 1992 prior) by the Chambolle–Pock solver of ``tv.py``.

    λ = c · σ_y · ‖A‖ with c = ``TV_DEBLUR_C`` = 0.125: the best mean PSNR over c ∈ {0.03, 0.06, 0.125, 0.25} on
    8 BSDS500 *training* images (256² crops; Gaussian blur σ = 1.5 and 3 px, 15 px motion blur; σ_y ∈ {0.01,
    0.03}); never on a test set. Solution kept in [0, 1], started from the measurement (edge-padded for "valid"
    blur).

    Args:
        y: (B, C, H, W) blurred noisy image.
        op: operator with ``A``, ``A_adjoint`` and ``norm`` (any blur; ``boundary`` "valid" is padded back).
        sigma_y: noise standard deviation in [0, 1] units.
        weight: λ (default from the rule above).
        iterations: Chambolle–Pock iterations (default 300).
    """
    x0 = full_size(y, op).clamp(0, 1)
    if weight is None:
        weight = TV_DEBLUR_C * sigma_y * float(op.norm(tuple(x0.shape)))
    return tv_solve(y, op, weight=weight, iterations=iterations, x0=x0, constraint="box")


def full_size(y: torch.Tensor, op) -> torch.Tensor:
    """y itself, or for a "valid" blur y edge-padded by the kernel's reach to the image's (H, W), aligned."""
    if getattr(op, "boundary", "circular") != "valid":
        return y
    kh, kw = op.kernel.shape[-2:]
    pad = ((kw - 1) - kw // 2, kw // 2, (kh - 1) - kh // 2, kh // 2)  # left, right, top, bottom
    return F.pad(y, pad, mode="replicate")


def kernel_otf(kernel: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Optical transfer function (psf2otf) of a kernel centred at (kh // 2, kw // 2), shape (1|B, 1|C, H, W) complex.

    Args:
        kernel: (kh, kw), (C, kh, kw) or (1|B, 1|C, kh, kw).
        size: (H, W) of the image, at least the kernel's size.
    """
    k = kernel.reshape((1,) * (4 - kernel.dim()) + tuple(kernel.shape)).double()
    kh, kw = k.shape[-2:]
    if kh > size[0] or kw > size[1]:
        raise ValueError(f"kernel {kh}x{kw} is larger than the image {size[0]}x{size[1]}")
    padded = torch.zeros(k.shape[:2] + tuple(size), dtype=k.dtype, device=k.device)
    padded[..., :kh, :kw] = k
    return torch.fft.fft2(torch.roll(padded, shifts=(-(kh // 2), -(kw // 2)), dims=(-2, -1)))


def operator_otf(op, shape: tuple[int, int, int, int], *, device="cpu") -> torch.Tensor:
    """Transfer function of a circulant operator: the FFT of its response to an impulse at (0, 0), (B, C, H, W)."""
    impulse = torch.zeros(shape, device=device)
    impulse[..., 0, 0] = 1
    with torch.no_grad():
        response = op.A(impulse)
    return torch.fft.fft2(response.double())


def wiener_from_otf(y: torch.Tensor, otf: torch.Tensor, *, sigma_y: float, kappa: float = SPECTRUM_KAPPA) -> torch.Tensor:
    """The Wiener estimate of :func:`wiener` given the transfer function, clipped to [0, 1].

    Args:
        y: (B, C, H, W) measurement; otf: complex, broadcastable to y; sigma_y: noise std in [0, 1] units.
        kappa: κ of S(ω) = κ / |ω|².
    """
    h, w = y.shape[-2:]
    fy = torch.fft.fftfreq(h, dtype=torch.float64, device=y.device)[:, None]
    fx = torch.fft.fftfreq(w, dtype=torch.float64, device=y.device)[None, :]
    nsr = sigma_y ** 2 * (fy ** 2 + fx ** 2) / kappa
    otf = otf.to(y.device)
    estimate = otf.conj() * torch.fft.fft2(y.double()) / (otf.abs() ** 2 + nsr + 1e-12)
    return torch.fft.ifft2(estimate).real.clamp(0, 1).to(y.dtype)
