"""``python -m scoreinv.bench.tiling`` on the tiny prior at 64²: a row per configuration, each from a fresh process,
the tiled outputs compared with the untiled one, and the tile tile_for_memory picks for a budget; ``--sizes``: whole
reconstructions per size on BSD68 mosaics (here of fake images), tiled within a budget and untiled."""
from __future__ import annotations

import math

import pytest
import torch

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


# --sizes: whole reconstructions per size within a memory budget

@pytest.fixture
def fake_bsd68(tmp_path):
    """A data/bsd68 folder of three random grey PNGs, 321 × 481 but the second portrait (481 × 321)."""
    import numpy as np
    from PIL import Image

    folder = tmp_path / "shared" / "data" / "bsd68"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for index, shape in enumerate([(321, 481), (481, 321), (321, 481)]):
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(folder / f"test{index:03d}.png")
    return folder


def test_the_mosaic_places_the_images_at_their_own_scale(fake_bsd68):
    from scoreinv.bench.tiling_sizes import bsd68_mosaic
    from scoreinv.io.images import read_image

    images = [read_image(path, channels=1) for path in sorted(fake_bsd68.glob("*.png"))]
    picture = bsd68_mosaic(700, 1000, folder=fake_bsd68)
    assert picture.shape == (1, 700, 1000)

    def piece(row, col):
        return picture[:, 321 * row:321 * (row + 1), 481 * col:481 * (col + 1)]

    assert torch.equal(piece(0, 0), images[0]) and torch.equal(piece(0, 1), images[1].transpose(-2, -1))
    assert torch.equal(piece(1, 0), images[0].flip(-1))  # the second pass is mirrored
    assert torch.equal(picture[:, 642:, :481], images[0].flip(-2)[:, :58])  # the third upside down, cropped


def test_sizes_rows_markdown_and_section(tiny_prior, fake_bsd68, tmp_path, capsys, monkeypatch):
    from scoreinv.bench import tiling_sizes
    from scoreinv.bench.tiling_sizes import markdown_sizes, measure_sizes, run_reconstruction
    from scoreinv.errors import InputError
    from scoreinv.solve.memory import budget_plan

    budget_mb = 70  # the tiny prior's whole 96² call is modelled at 74 MB, most of it the fixed 64 MB
    rows = measure_sizes(str(tiny_prior), sizes=[(96, 96), (64, 64), (64, 200)], budgets_mb=[budget_mb, 4096, 70],
                         task="deblur-gauss", steps=3, untiled_max_pixels=96 * 96, folder=fake_bsd68,
                         child=run_reconstruction)
    runs = [(row["height"], row["width"], row["budget_mb"], row["tiled"]) for row in rows]
    assert runs == [(96, 96, None, False), (96, 96, budget_mb, True), (64, 64, None, False), (64, 200, 70, True)]
    untiled, tiled = rows[:2]
    plan = budget_plan((1, 1, 96, 96), budget_mb * 2 ** 20)
    assert (tiled["tile"], tiled["overlap"], tiled["tiles"], tiled["side"]) == (plan["tile"], plan["overlap"],
                                                                              plan["tiles"], plan["side"])
    assert tiled["model_mb"] <= budget_mb < untiled["model_mb"] and tiled["within_budget"]
    # the tiny prior is pointwise: its tiles are exact, so the tiled result is the untiled one
    assert tiled["vs_untiled_db"] > 60 and abs(tiled["delta_db"]) < 1e-3 and "vs_untiled_db" not in rows[3]
    for row in rows:
        assert row["seconds"] > 0 and row["growth_mb"] >= 0 and row["peak_mb"] >= row["before_mb"] > 0
        assert row["nfe"] == 3 and row["method"] == "pnp" and math.isfinite(row["psnr_db"])
    table = markdown_sizes(rows, "tiny")
    assert "| 96 × 96 (0.01) | untiled | 1 |" in table and f"| budget {budget_mb} MB | {tiled['tiles']} (" in table
    with pytest.raises(InputError, match="one a size"):
        measure_sizes(str(tiny_prior), sizes=[(64, 64)] * 3, budgets_mb=[1, 2], child=run_reconstruction)

    monkeypatch.setattr(tiling_sizes, "_child", run_reconstruction)  # in this process
    monkeypatch.setenv("SCOREINV_SHARED", str(fake_bsd68.parents[1]))
    page = tmp_path / "page.md"
    page.write_text("<!-- begin tiling -->\nkeep\n<!-- end tiling -->\n<!-- begin tiling-sizes -->\nold\n"
                    "<!-- end tiling-sizes -->\n")
    main(["--prior", str(tiny_prior), "--sizes", "64x96", "--budget-mb", "70", "--steps", "2", "--untiled-max-mp",
          "0", "--markdown", str(page)])
    text = page.read_text()
    assert "keep" in text and "old" not in text and "| 64 × 96 (0.01) | budget 70 MB |" in text
    assert "--sizes 64x96" in text and "| 64 × 96" in capsys.readouterr().out


@pytest.mark.slow
def test_each_size_is_a_fresh_process(tiny_prior, fake_bsd68):
    from scoreinv.bench.tiling_sizes import measure_sizes

    rows = measure_sizes(str(tiny_prior), sizes=[(64, 80)], budgets_mb=[69], steps=2, folder=fake_bsd68,
                         precision="fp32")
    assert [(row["budget_mb"], row["tiled"]) for row in rows] == [(None, False), (69, True)]
    assert rows[1]["vs_untiled_db"] > 60 and all(row["threads"] == 1 and row["precision"] == "fp32" for row in rows)
