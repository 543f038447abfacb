"""Which shipped prior a call runs when it names none: the image type's default, unless the problem's row of the
settings table names, for the call's target, a grey prior of its own (faster, or fine-tuned on larger crops) that
scored as well or better on validation images."""
from __future__ import annotations

from scoreinv.priors.registry import default_prior

_WIDE = ("natural-gray-wide", "bsd68", "draws of a lower LPIPS and a higher PSNR than natural-gray's in the same time")

GREY_ROW_PRIORS = {
    ("estimate", "inpaint-random"): ("natural-gray-fast", "bsd68", "a PSNR as high as natural-gray's in two thirds "
                                                                   "of the time"),
    ("estimate", "inpaint-box"): ("natural-gray-fast", "bsd68", "a PSNR as high as natural-gray's in two thirds of "
                                                                "the time"),
    ("estimate", "deblur"): ("natural-gray-fast", "bsd68", "a PSNR as high as natural-gray's in half the time"),
    **{("sample", row): _WIDE for row in ("inpaint-random", "inpaint-box", "deblur")},
}
"""(target, row) → (the grey prior it runs, the validation set it was chosen on, why): the estimate rows whose PSNR
the faster prior did not lower on validation images, and the sample rows whose draws the prior fine-tuned on larger
crops (``natural-gray-wide``) improved; the commands are in docs/tuning.md ("The grey prior of a row"). Other rows
run :func:`~scoreinv.priors.registry.default_prior`: the sr and deblur-lowpass estimates scored lower with the
faster prior and level with the wider one, as did their draws."""


def default_prior_for(row: str, *, target: str, family: str, channels: int) -> str:
    """The name of the shipped prior for a problem of ``row`` and ``target`` on ``channels``-channel images measured
    by an operator of ``family``: the row's grey prior for grey natural images where :data:`GREY_ROW_PRIORS` names
    one, else :func:`~scoreinv.priors.registry.default_prior`.

    Args:
        row: the problem's row of the settings table (:func:`scoreinv.solve.rows.row_of`).
        target: "estimate" or "sample".
        family: the operator's family ("inpaint", "deblur", "sr", "ct" or "other").
        channels: C of the images (1 or 3).
    """
    if channels == 1 and family != "ct" and (target, row) in GREY_ROW_PRIORS:
        return GREY_ROW_PRIORS[target, row][0]
    return default_prior(family, channels)


def default_prior_of(operator, *, target: str, channels: int) -> str:
    """:func:`default_prior_for` the row that ``operator`` gets (:func:`scoreinv.solve.rows.row_of`).

    Args:
        operator: the measurement operator (an ``operators`` module with a ``family``).
        target: "estimate" or "sample".
        channels: C of the images (1 or 3).
    """
    from scoreinv.solve.rows import row_of

    return default_prior_for(row_of(operator), target=target, family=operator.family, channels=channels)
