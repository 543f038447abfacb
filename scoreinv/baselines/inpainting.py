"""Classical inpainting: harmonic and biharmonic interpolation of the missing pixels."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

COARSEST = 16        # pixels: the coarse-to-fine cascade stops halving at this side
CG_TOLERANCE = 1e-5  # relative residual at which a level's conjugate gradients stop
CG_ITERATIONS = 400  # at most this many conjugate-gradient iterations a level (biharmonic)
HARMONIC_ITERATIONS = 5000  # the same for the harmonic fill, whose system is far better conditioned
LARGE_HOLE = 8       # pixels: a hole of larger radius is solved directly (conjugate gradients converge too slowly)


def biharmonic(y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Biharmonic inpainting (Damelin & Hoang 2018): the missing pixels solve Δ²x = 0 with the known pixels as
    boundary values. Masks of small holes (radius ≤ ``LARGE_HOLE``, e.g. random missing pixels) are solved on
    ``y``'s device by conjugate gradients on min ‖Δx‖² (Δ the 5-point Laplacian, edges mirrored), coarse to fine;
    larger holes, or a solve that does not converge, by scikit-image's sparse direct ``inpaint_biharmonic``.

    Known pixels (mask 1) are returned unchanged.

    Args:
        y: (B, C, H, W) measurement in [0, 1] (values under mask 0 are ignored).
        mask: (1|B, 1|C, H, W) in {0, 1}, 1 = known pixel.
    """
    known = mask.to(device=y.device, dtype=torch.bool).expand_as(y)
    if not _has_large_holes(known):
        x, converged = _fill(y.detach().float(), known, order=2)
        if converged:
            return torch.where(known, y, x.to(y.dtype)).clamp(0, 1)
    return _biharmonic_direct(y, known)


def _biharmonic_direct(y: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """scikit-image's ``inpaint_biharmonic`` (a sparse direct solve) per image and channel, known pixels kept."""
    from skimage.restoration import inpaint_biharmonic

    mask = known.cpu().numpy()
    images = y.detach().cpu().double().numpy()
    out = np.empty_like(images)
    for b in range(images.shape[0]):
        for c in range(images.shape[1]):
            missing = ~mask[b, c]
            out[b, c] = inpaint_biharmonic(images[b, c], missing) if missing.any() else images[b, c]
    result = torch.from_numpy(np.where(mask, images, out)).clamp(0, 1)
    return result.to(device=y.device, dtype=y.dtype)


def _has_large_holes(known: torch.Tensor) -> bool:
    """Whether some missing pixel is farther than ``LARGE_HOLE`` pixels (in the max norm) from every known one."""
    missing = (~known).reshape(-1, 1, *known.shape[-2:]).float()
    side = 2 * LARGE_HOLE + 1
    return bool((-F.max_pool2d(-missing, side, stride=1, padding=LARGE_HOLE) > 0).any())


def harmonic(y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Harmonic inpainting (Chan & Shen 2002, the membrane model): the missing pixels solve Δx = 0 with the known
    pixels as boundary values, i.e. minimise ‖∇x‖², so every filled value lies between known ones (no overshoot in
    large holes, unlike the biharmonic fill); conjugate gradients, coarse to fine, on ``y``'s device.

    Known pixels (mask 1) are returned unchanged.

    Args:
        y: (B, C, H, W) measurement in [0, 1] (values under mask 0 are ignored).
        mask: (1|B, 1|C, H, W) in {0, 1}, 1 = known pixel.
    """
    known = mask.to(device=y.device, dtype=torch.bool).expand_as(y)
    x, converged = _fill(y.detach().double() if y.device.type == "cpu" else y.detach().float(), known, order=1)
    if not converged:
        raise RuntimeError("harmonic inpainting: conjugate gradients did not converge")
    return torch.where(known, y, x.to(y.dtype)).clamp(0, 1)


def harmonic_baseline(y: torch.Tensor, op, *, sigma_y: float) -> torch.Tensor:
    """:func:`harmonic` with the mask of an ``operators.Mask`` (σ_y is not used: known pixels are kept as measured).

    Args:
        y: (B, C, H, W) masked measurement; op: operator with ``.mask`` (1|B, 1|C, H, W), 1 = known;
        sigma_y: noise std in [0, 1] units (ignored).
    """
    return harmonic(y, op.mask)


def biharmonic_baseline(y: torch.Tensor, op, *, sigma_y: float) -> torch.Tensor:
    """:func:`biharmonic` with the mask of an ``operators.Mask`` (σ_y is not used: known pixels are kept as measured).

    Args:
        y: (B, C, H, W) masked measurement; op: operator with ``.mask`` (1|B, 1|C, H, W), 1 = known;
        sigma_y: noise std in [0, 1] units (ignored).
    """
    return biharmonic(y, op.mask)


def _fill(y: torch.Tensor, known: torch.Tensor, *, order: int) -> tuple[torch.Tensor, bool]:
    """The harmonic (order 1) or biharmonic (order 2) fill of (B, C, H, W) ``y`` where ``known`` is False, started
    from the next coarser level's, and whether this level's conjugate gradients converged."""
    height, width = y.shape[-2:]
    if not bool((~known).any()):
        return y, True
    if min(height, width) > COARSEST:
        # Coarser level: 2 × 2 means of the known pixels; a coarse pixel is known when any of its four is
        weight = F.avg_pool2d(known.to(y.dtype), 2, ceil_mode=True)
        coarse = F.avg_pool2d(torch.where(known, y, 0.0), 2, ceil_mode=True) / weight.clamp_min(1e-12)
        start = F.interpolate(_fill(coarse, weight > 0, order=order)[0], size=(height, width), mode="bilinear",
                              align_corners=False)
    else:
        start = _known_mean(y, known).expand_as(y)
    return _conjugate_gradients(torch.where(known, y, start), known, order=order)


def _known_mean(y: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """The mean known value of each (image, channel), (B, C, 1, 1); 0.5 where nothing is known."""
    count = known.sum((-2, -1), keepdim=True)
    total = torch.where(known, y, 0.0).sum((-2, -1), keepdim=True)
    return torch.where(count > 0, total / count.clamp_min(1), torch.full_like(total, 0.5))


def _conjugate_gradients(x: torch.Tensor, known: torch.Tensor, *, order: int) -> tuple[torch.Tensor, bool]:
    """Minimise ‖∇x‖² (order 1) or ‖Δx‖² (order 2) over the unknown pixels of x (the known ones fixed) by conjugate
    gradients on P (−Δ)^order P u = −P (−Δ)^order x_known, each (image, channel) with its own step sizes; also
    whether every residual fell under ``CG_TOLERANCE`` of its start."""
    free = (~known).to(x.dtype)
    iterations = HARMONIC_ITERATIONS if order == 1 else CG_ITERATIONS

    def normal(v):
        return free * (-_laplacian(v) if order == 1 else _laplacian(_laplacian(v)))

    r = -normal(x)
    p = r.clone()
    rr = (r * r).sum((-2, -1), keepdim=True)
    target = CG_TOLERANCE ** 2 * rr.clamp_min(1e-300)
    for _ in range(iterations):
        if bool((rr <= target).all()):
            return x, True
        q = normal(p)
        alpha = rr / (p * q).sum((-2, -1), keepdim=True).clamp_min(1e-300)
        x = x + alpha * p
        r = r - alpha * q
        rr_next = (r * r).sum((-2, -1), keepdim=True)
        p = r + (rr_next / rr.clamp_min(1e-300)) * p
        rr = rr_next
    return x, bool((rr <= target).all())


def _laplacian(x: torch.Tensor) -> torch.Tensor:
    """The 5-point Laplacian of (…, H, W) x with mirrored edges (x outside the image = its edge pixel): the grid
    graph's Laplacian, a symmetric operator (its own adjoint)."""
    p = F.pad(x.reshape(-1, 1, *x.shape[-2:]), (1, 1, 1, 1), mode="replicate")[:, 0]
    centre = p[:, 1:-1, 1:-1]
    out = p[:, :-2, 1:-1] + p[:, 2:, 1:-1] + p[:, 1:-1, :-2] + p[:, 1:-1, 2:] - 4 * centre
    return out.reshape(x.shape)
