"""The memory budget of reconstruct: when it tiles, which tile its model picks, what it records, what it refuses."""
from __future__ import annotations

import math

import pytest
import torch

from scoreinv.errors import InputError
from scoreinv.model.tiling import BASE_BYTES, BYTES_PER_PIXEL, TiledDenoiser, tile_spans
from scoreinv.priors.registry import load_prior
from scoreinv.solve.memory import (DEFAULT_MEMORY_BUDGET, SMALLEST_TILE, STATE_BYTES_PER_VALUE, budget_plan,
                                   check_budget, fit_to_budget)

MB = 2 ** 20


def whole_image_bytes(shape) -> float:
    """The model's growth of a reconstruction on (B, C, H, W) images with one call on the whole image."""
    b, c, h, w = shape
    return STATE_BYTES_PER_VALUE * b * c * h * w + BASE_BYTES + b * h * w * (BYTES_PER_PIXEL + 8 * c)


@pytest.mark.parametrize("shape", [(1, 1, 512, 512), (1, 3, 1024, 768), (2, 1, 300, 900), (1, 1, 4000, 6000)])
def test_the_image_is_tiled_exactly_when_a_whole_call_would_not_fit(shape):
    needed = whole_image_bytes(shape)
    assert budget_plan(shape, math.ceil(needed))["tiled"] is False
    assert budget_plan(shape, None)["tiled"] is False and budget_plan(shape, 0)["tiled"] is False
    plan = budget_plan(shape, needed - 1)
    assert plan["tiled"] is True and plan["within_budget"] is True and plan["estimated_bytes"] <= needed - 1
    # the tiles it picks are those the TiledDenoiser cuts, on the grid, and each fits what the state leaves
    h, w = shape[-2:]
    rows, cols = (tile_spans(n, tile=plan["tile"], overlap=plan["overlap"]) for n in (h, w))
    assert plan["tiles"] == len(rows) * len(cols) > 1 and plan["tile"] % 8 == 0
    assert plan["side"] == max(b - a for a, b in rows + cols) <= plan["tile"]


def test_a_larger_budget_never_picks_a_smaller_tile_and_the_default_is_4_gib():
    assert DEFAULT_MEMORY_BUDGET == 4 * 2 ** 30
    shape = (1, 1, 4000, 6000)
    tiles = [budget_plan(shape, budget * MB) for budget in (1700, 2048, 3000, 4096, 8192, 16384)]
    assert [plan["tile"] for plan in tiles] == sorted(plan["tile"] for plan in tiles)
    assert all(plan["within_budget"] and plan["estimated_bytes"] <= plan["memory_budget"] for plan in tiles)
    assert budget_plan((1, 1, 1024, 1024), DEFAULT_MEMORY_BUDGET)["tiled"] is False


def test_a_budget_below_the_smallest_tile_tiles_at_it_and_says_so(tiny_priors):
    shape = (1, 1, 4000, 6000)
    plan = budget_plan(shape, 64 * MB)
    assert plan["tiled"] and plan["tile"] == SMALLEST_TILE and plan["within_budget"] is False
    assert plan["estimated_bytes"] > 64 * MB
    denoiser = load_prior(str(tiny_priors["gray"]), device="cpu")
    with pytest.warns(UserWarning, match="below the estimated"):
        fitted, record = fit_to_budget(denoiser, (1, 1, 200, 200), 2 * MB)
    assert isinstance(fitted, TiledDenoiser) and fitted.denoiser is denoiser and record["tile"] == SMALLEST_TILE


def test_fit_to_budget_wraps_only_when_tiling_and_keeps_a_callers_tiles(tiny_priors):
    denoiser = load_prior(str(tiny_priors["gray"]), device="cpu")
    same, record = fit_to_budget(denoiser, (1, 1, 64, 64), DEFAULT_MEMORY_BUDGET)
    assert same is denoiser and record["tiled"] is False and record["memory_budget"] == DEFAULT_MEMORY_BUDGET
    shape = (1, 1, 256, 192)
    fitted, record = fit_to_budget(denoiser, shape, whole_image_bytes(shape) - 1)
    assert isinstance(fitted, TiledDenoiser) and (fitted.tile, fitted.overlap) == (record["tile"], record["overlap"])
    x = torch.rand(shape)
    with torch.no_grad():  # the tiny prior is pointwise (zero-initialised output), so its tiles are exact
        torch.testing.assert_close(fitted(x, 0.1), denoiser(x, 0.1), rtol=0, atol=1e-6)
    mine = TiledDenoiser(denoiser, tile=32)
    kept, record = fit_to_budget(mine, shape, 2 * MB)
    assert kept is mine and record == {"memory_budget": 2 * MB, "tiled": True, "tile": 32, "overlap": 8,
                                       "chosen_by": "caller"}


@pytest.mark.parametrize("value", [-1, -1e9, float("nan"), "4GB", True, [4096], 4096, MB - 1])
def test_bad_budgets_are_refused_in_one_line(value):
    with pytest.raises(InputError, match="memory_budget") as error:
        check_budget(value)
    assert "\n" not in str(error.value)


def test_no_limit_and_good_budgets():
    assert check_budget(None) is None and check_budget(0) is None and check_budget(math.inf) is None
    assert check_budget(MB) == MB and check_budget(4.5e9) == 4.5e9
