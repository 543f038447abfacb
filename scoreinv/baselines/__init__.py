"""Classical baselines that the benchmark compares the score-based solvers against, one table per task family.

Every entry of ``BASELINES[task]`` is a (name, fn) pair with the uniform signature ``fn(y, op, *, sigma_y) -> x``:
``y`` the measurement of the operator ``op`` (from the ``operators`` package), ``sigma_y`` the noise standard
deviation in the measurement's units ([0, 1] image units except CT sinograms), ``x`` a (B, C, H, W) image in [0, 1].

BM3D deblurring (``blockmatching``) needs the optional ``bm3d`` package (free for non-commercial use only): it is
listed only when that package is installed, so that a table never shows a row that did not run, and
:func:`baselines_for` prints a one-line note for the deblur family when it is not.
"""
from __future__ import annotations

from scoreinv.baselines import blockmatching, deconvolution, inpainting, tomography, upsampling
from scoreinv.errors import InputError

BASELINES = {
    "inpaint": [("biharmonic", inpainting.biharmonic_baseline), ("harmonic", inpainting.harmonic_baseline)],
    "deblur": [("wiener", deconvolution.wiener_baseline), ("tv", deconvolution.tv)],
    "sr": [("bicubic", upsampling.bicubic_baseline)],
    "ct": [("fbp", tomography.fbp), ("cgls", tomography.cgls), ("sirt", tomography.sirt),
           ("tv", tomography.tv)],
}
if blockmatching.available():
    BASELINES["deblur"].append(("bm3d", blockmatching.bm3d_deblur_baseline))

# The fast baseline of each family, used as the samplers' warm start (reconstruct(warm_start="baseline"))
WARM_STARTS = {"inpaint": inpainting.biharmonic_baseline, "deblur": deconvolution.wiener_baseline,
               "sr": upsampling.bicubic_baseline, "ct": tomography.fbp}


def baselines_for(task: str) -> list:
    """The (name, fn) baselines of a task family ("inpaint", "deblur", "sr" or "ct"); one-line error otherwise."""
    if task not in BASELINES:
        raise InputError(f"no baselines for task {task!r}; use one of {', '.join(BASELINES)}")
    if task == "deblur":
        blockmatching.note_if_missing()
    return BASELINES[task]
