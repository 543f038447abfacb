"""A memory budget for :func:`scoreinv.reconstruct`: the prior called on tiles when a call on the whole image would
not fit, the data step left global."""
from __future__ import annotations

import math
import warnings

from torch import nn

from scoreinv.errors import InputError
from scoreinv.model.tiling import BASE_BYTES, BYTES_PER_PIXEL, TiledDenoiser, tile_for_memory, tile_spans

DEFAULT_MEMORY_BUDGET = 4 * 2 ** 30  # bytes (4 GiB)
SMALLEST_BUDGET = 2 ** 20  # bytes: a smaller positive budget is taken for a slip of units (MB given as bytes)
STATE_BYTES_PER_VALUE = 64  # bytes per image value (B·C·H·W) held outside the network call (see budget_plan)
TILE_GRID = 8  # tile corners sit on multiples of this (and of the network's own down-sampling factor)
SMALLEST_TILE = 64  # pixels: the smallest tile side chosen, even when the budget asks for less


def check_budget(memory_budget) -> float | None:
    """``memory_budget`` as a float number of bytes, or None when nothing is to be tiled (None, 0 or inf); a
    one-line InputError for anything else.

    Args:
        memory_budget: bytes a reconstruction may grow by (≥ 1 MiB), or None / 0 / inf for no limit.
    """
    if memory_budget is None:
        return None
    if isinstance(memory_budget, bool) or not isinstance(memory_budget, (int, float)) or math.isnan(memory_budget):
        raise InputError(f"memory_budget must be a number of bytes (or None for no limit), got {memory_budget!r}")
    if memory_budget == 0 or memory_budget == math.inf:
        return None
    if memory_budget < 0:
        raise InputError(f"memory_budget must be >= 0 bytes (0 or None: no limit), got {memory_budget!r}")
    if memory_budget < SMALLEST_BUDGET:
        raise InputError(f"memory_budget is in bytes and must be at least 1 MiB ({SMALLEST_BUDGET}), got "
                         f"{memory_budget!r} (for {memory_budget:g} MB pass {memory_budget:g} * 2**20)")
    return float(memory_budget)


def budget_plan(x_shape, memory_budget, *, factor: int = 1) -> dict:
    """Whether and how to tile the prior's calls on images of ``x_shape`` so that a reconstruction's memory stays
    within ``memory_budget``: the linear call model of :func:`~scoreinv.model.tiling.tile_for_memory` plus
    :data:`STATE_BYTES_PER_VALUE` bytes a value for the images the sampler, the guidance and the tiles' blending
    hold (about 16 float32 copies). A budget too small even for the smallest tile still tiles at that tile and
    records ``within_budget`` False.

    Args:
        x_shape: (B, C, H, W) of the images.
        memory_budget: bytes (see :func:`check_budget`; None / 0 / inf: never tile).
        factor: the network's down-sampling factor; tile corners sit on multiples of it and of 8.

    Returns:
        {"memory_budget": bytes or None, "tiled": bool, "tile": the TiledDenoiser's tile or None, "overlap":
        pixels or None, "tiles": tiles a call, "side": the largest tile side used, pixels (tiled only), "multiple":
        the grid of the tile corners (tiled only), "estimated_bytes": the model's peak growth, "within_budget":
        bool}.
    """
    budget = check_budget(memory_budget)
    batch, channels, height, width = (int(n) for n in x_shape)
    state = STATE_BYTES_PER_VALUE * batch * channels * height * width

    def call_bytes(h: int, w: int) -> float:
        return BASE_BYTES + batch * h * w * (BYTES_PER_PIXEL + 8 * channels)

    plan = {"memory_budget": budget, "tiled": False, "tile": None, "overlap": None, "tiles": 1,
            "estimated_bytes": state + call_bytes(height, width)}
    if budget is None or plan["estimated_bytes"] <= budget:
        return {**plan, "within_budget": True}
    multiple = math.lcm(TILE_GRID, max(1, int(factor)))
    tile = tile_for_memory(budget - state, channels, batch=batch, multiple=multiple, minimum=SMALLEST_TILE,
                           maximum=max(height, width))
    tiler = TiledDenoiser(nn.Identity(), tile=tile, multiple=multiple)
    rows = tile_spans(height, tile=tile, overlap=tiler.overlap, multiple=multiple)
    cols = tile_spans(width, tile=tile, overlap=tiler.overlap, multiple=multiple)
    side = max(max(b - a for a, b in rows), max(b - a for a, b in cols))
    estimate = state + call_bytes(side, side)  # rotations swap H and W: the larger side both ways
    return {**plan, "tiled": True, "tile": tile, "overlap": tiler.overlap, "tiles": len(rows) * len(cols),
            "side": side, "multiple": multiple, "estimated_bytes": estimate, "within_budget": estimate <= budget}


def fit_to_budget(denoiser: nn.Module, x_shape, memory_budget) -> tuple[nn.Module, dict]:
    """``denoiser`` as a reconstruction on images of ``x_shape`` should call it within ``memory_budget``: itself
    when the whole image fits (or it is a TiledDenoiser already, the caller's choice), else a
    :class:`~scoreinv.model.tiling.TiledDenoiser` with the tile of :func:`budget_plan`; and the plan, for the
    result's settings. Wrap it before the self-ensemble, so that each rotation is tiled whole.

    Args:
        denoiser: D(x, σ) on (B, C, H, W) images in [0, 1].
        x_shape: (B, C, H, W) of the images it will be called on.
        memory_budget: bytes (≥ 1 MiB), or None / 0 / inf for never tiling.
    """
    if isinstance(denoiser, TiledDenoiser):
        check_budget(memory_budget)
        return denoiser, {"memory_budget": memory_budget or None, "tiled": True, "tile": denoiser.tile,
                          "overlap": denoiser.overlap, "chosen_by": "caller"}
    factor = getattr(getattr(denoiser, "net", None), "factor", 1)
    plan = budget_plan(x_shape, memory_budget, factor=factor)
    if not plan["within_budget"]:
        warnings.warn(f"memory_budget of {plan['memory_budget'] / 2 ** 20:.0f} MB is below the estimated "
                      f"{plan['estimated_bytes'] / 2 ** 20:.0f} MB of an image of {tuple(x_shape)} on the smallest "
                      f"tiles ({plan['tile']} pixels)", stacklevel=3)
    if not plan["tiled"]:
        return denoiser, plan
    return TiledDenoiser(denoiser, tile=plan["tile"], overlap=plan["overlap"], multiple=plan["multiple"]), plan
