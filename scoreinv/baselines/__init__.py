"""Classical baselines that the benchmark compares the score-based solvers against, one table per task family.

Every entry of ``BASELINES[task]`` is a (name, fn) pair with the uniform signature ``fn(y, op, *, sigma_y) -> x``:
``y`` the measurement of the operator ``op`` (from the ``operators`` package), ``sigma_y`` the noise standard
deviation in the measurement's units ([0, 1] image units except CT sinograms), ``x`` a (B, C, H, W) image in [0, 1].
"""
from __future__ import annotations

from scoreinv.baselines import deconvolution, inpainting, tomography, upsampling
from scoreinv.errors import InputError

BASELINES = {
    "inpaint": [("biharmonic", inpainting.biharmonic_baseline)],
    "deblur": [("wiener", deconvolution.wiener_baseline), ("tv", deconvolution.tv)],
    "sr": [("bicubic", upsampling.bicubic_baseline)],
    "ct": [("fbp", tomography.fbp), ("tv", tomography.tv)],
}

# The fast baseline of each family, used as the samplers' warm start (reconstruct(warm_start="baseline"))
WARM_STARTS = {"inpaint": inpainting.biharmonic_baseline, "deblur": deconvolution.wiener_baseline,
               "sr": upsampling.bicubic_baseline, "ct": tomography.fbp}


def baselines_for(task: str) -> list:
    """The (name, fn) baselines of a task family ("inpaint", "deblur", "sr" or "ct"); one-line error otherwise."""
    if task not in BASELINES:
        raise InputError(f"no baselines for task {task!r}; use one of {', '.join(BASELINES)}")
    return BASELINES[task]
