"""Classical super-resolution: bicubic interpolation back to full size."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def bicubic(y: torch.Tensor, factor: int) -> torch.Tensor:
    """Bicubic interpolation (Keys 1981, a = −0.75 as in torch) by an integer factor, clipped to [0, 1].

    Uses ``F.interpolate(mode="bicubic", align_corners=False)``: pixel centres are aligned as for block averaging,
    so it inverts the geometry of box or antialiased downsampling by ``factor``.

    Args:
        y: (B, C, h, w) low-resolution image in [0, 1].
        factor: integer scale ≥ 1; the output is (B, C, factor·h, factor·w).
    """
    if int(factor) != factor or factor < 1:
        raise ValueError(f"factor must be a positive integer, got {factor}")
    size = (y.shape[-2] * int(factor), y.shape[-1] * int(factor))
    return F.interpolate(y, size=size, mode="bicubic", align_corners=False).clamp(0, 1)


def bicubic_baseline(y: torch.Tensor, op, *, sigma_y: float) -> torch.Tensor:
    """:func:`bicubic` with the factor of an ``operators.Downsample`` (σ_y is not used).

    Args:
        y: (B, C, h, w) measurement; op: operator with ``.factor``; sigma_y: noise std in [0, 1] units (ignored).
    """
    return bicubic(y, op.factor)
