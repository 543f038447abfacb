"""``python -m scoreinv.bench.tiling`` on the tiny prior at 64²: a row per configuration, each from a fresh process,
the tiled outputs compared with the untiled one, and the tile tile_for_memory picks for a budget."""
from __future__ import annotations

import math

import pytest

from scoreinv.bench import tiling as bench
from scoreinv.bench.tiling import default_configs, main, markdown_table, measure_tiling
from scoreinv.model.tiling import tile_for_memory


def test_default_configs_are_on_the_grid():
    assert default_configs(512) == [(288, 64), (256, 32), (128, 32)]
    for size in (64, 100, 256, 1000):
        assert all(tile % 8 == 0 and overlap % 8 == 0 and 0 < overlap < tile for tile, overlap in
                   default_configs(size))


@pytest.mark.slow
def test_each_row_is_a_fresh_process(tiny_prior):
    rows = measure_tiling(str(tiny_prior), size=32, configs=[(16, 8)], repeats=1, precision="fp32")
    assert [(row["tile"], row["overlap"], row["tiles"]) for row in rows] == [(None, 0, 1), (16, 8, 9)]
    for row in rows:
        assert row["seconds"] > 0 and row["call_mb"] >= 0 and row["peak_mb"] >= row["before_mb"] > 0
        assert math.isfinite(row["psnr_db"]) and row["precision"] == "fp32" and row["threads"] == 1
    assert rows[1]["vs_untiled_db"] > 20  # (the tiny prior, zero-initialised, is pointwise: tiling is exact)


def test_rows_budget_and_markdown(tiny_prior, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(bench, "_child", bench.run_one)  # in this process: the rows' logic, not their isolation
    budget_mb = 70
    rows = measure_tiling(str(tiny_prior), size=64, configs=[(32, 8), (64, None)], repeats=1, precision="fp32",
                          budget_mb=budget_mb)
    assert [(row["tile"], row["overlap"], row["tiles"]) for row in rows] == [
        (None, 0, 1), (32, 8, 9), (64, 16, 1), (tile_for_memory(budget_mb * 2 ** 20, maximum=64), 16, 1)]
    assert rows[1]["vs_untiled_db"] > 20 and rows[2]["vs_untiled_db"] == math.inf  # a tile the picture's size
    assert rows[-1]["budget_mb"] == budget_mb and all(row["budget_mb"] is None for row in rows[:-1])
    table = markdown_table(rows, "tiny")
    assert "| untiled | 1 (64²) |" in table and "| 32 / 8 | 9 (32²) |" in table and "(tile_for_memory, 70 MB)" in table
    page = tmp_path / "page.md"
    page.write_text("before\n<!-- begin tiling -->\nold\n<!-- end tiling -->\nafter\n")
    main(["--prior", str(tiny_prior), "--size", "32", "--tiles", "16/8", "--repeats", "1", "--precision", "fp32",
          "--markdown", str(page)])
    text = page.read_text()
    assert "old" not in text and "| 16 / 8 | 9 (16²) |" in text and text.endswith("after\n")
    assert "python -m scoreinv.bench.tiling --prior" in text and "| 16 / 8 | 9 (16²) |" in capsys.readouterr().out
