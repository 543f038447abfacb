"""Classical inpainting: biharmonic interpolation of the missing pixels."""
from __future__ import annotations

import numpy as np
import torch


def biharmonic(y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Biharmonic inpainting (Damelin & Hoang 2018), scikit-image ``inpaint_biharmonic``, per image and channel.

    Known pixels (mask 1) are returned unchanged; missing ones solve Δ²x = 0 with the known ones as boundary values.

    Args:
        y: (B, C, H, W) measurement in [0, 1] (values under mask 0 are ignored).
        mask: (1|B, 1|C, H, W) in {0, 1}, 1 = known pixel.
    """
    from skimage.restoration import inpaint_biharmonic

    known = mask.to(torch.bool).expand_as(y).cpu().numpy()
    images = y.detach().cpu().double().numpy()
    out = np.empty_like(images)
    for b in range(images.shape[0]):
        for c in range(images.shape[1]):
            missing = ~known[b, c]
            out[b, c] = inpaint_biharmonic(images[b, c], missing) if missing.any() else images[b, c]
    result = torch.from_numpy(np.where(known, images, out)).clamp(0, 1)
    return result.to(device=y.device, dtype=y.dtype)


def biharmonic_baseline(y: torch.Tensor, op, *, sigma_y: float) -> torch.Tensor:
    """:func:`biharmonic` with the mask of an ``operators.Mask`` (σ_y is not used: known pixels are kept as measured).

    Args:
        y: (B, C, H, W) masked measurement; op: operator with ``.mask`` (1|B, 1|C, H, W), 1 = known;
        sigma_y: noise std in [0, 1] units (ignored).
    """
    return biharmonic(y, op.mask)
