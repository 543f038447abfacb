"""Which row of the settings table an operator gets, from its family and what it measures."""
from __future__ import annotations

import torch
import torch.nn.functional as F

LARGE_HOLE = 8          # pixels: a mask whose largest hole is wider (in radius) uses the inpaint-box row
LIMITED_RANGE = 150.0   # degrees: CT angles spanning less than this use the ct-limited row
LOWPASS = 0.6           # a blur that erases (|k̂| < LOST_GAIN) more than this share of frequencies is "deblur-lowpass"
LOST_GAIN = 1e-3        # a frequency whose gain is under this is lost: its signal drops 1000-fold, far under the noise


def row_of(operator) -> str:
    """The row of :data:`scoreinv.solve.settings.ROWS` for an operator, from its declared ``family``.

    Masks whose largest hole has a radius over ``LARGE_HOLE`` pixels use "inpaint-box", other masks
    "inpaint-random"; blurs that erase over ``LOWPASS`` of the frequencies "deblur-lowpass", other blurs
    "deblur"; downsampling "sr"; CT whose angles span under ``LIMITED_RANGE`` degrees "ct-limited", other CT
    "ct-sparse"; any other family "other".
    """
    family = getattr(operator, "family", "other")
    if family == "inpaint":
        return "inpaint-box" if largest_hole_radius(operator.mask) > LARGE_HOLE else "inpaint-random"
    if family == "deblur":
        return "deblur-lowpass" if lost_frequencies(operator.kernel) > LOWPASS else "deblur"
    if family == "ct":
        angles = operator.angles_deg
        return "ct-limited" if max(angles) - min(angles) < LIMITED_RANGE else "ct-sparse"
    return "sr" if family == "sr" else "other"


def largest_hole_radius(mask: torch.Tensor) -> int:
    """How many 3×3 erosions the missing region of a 0/1 mask (…, H, W) survives: its largest hole's radius, px."""
    missing = (mask.reshape(-1, 1, *mask.shape[-2:]) < 0.5).float()
    radius = 0
    while bool(missing.any()) and radius <= max(mask.shape[-2:]):
        missing = -F.max_pool2d(-missing, 3, stride=1, padding=1)
        radius += 1
    return radius


def lost_frequencies(kernel: torch.Tensor) -> float:
    """The share of spatial frequencies a blur kernel (h, w) or (C, h, w) erases: |k̂| < ``LOST_GAIN`` in every
    channel, on a DFT grid of at least 64 × 64 (twice the kernel's side if larger), so it does not depend on the
    image size."""
    k = kernel.detach().to("cpu", torch.float64).reshape(-1, *kernel.shape[-2:])
    side = max(64, 2 * max(k.shape[-2:]))
    gain = torch.fft.rfft2(k, s=(side, side)).abs().amax(0)
    return float((gain < LOST_GAIN).double().mean())
