"""``scoreinv bench coverage``: its statistics on known inputs, and the command end to end on tiny images."""
from __future__ import annotations

import scipy.stats
import skimage.io
import torch

import operators as ops
from scoreinv.bench.coverage import measure_coverage, spearman, unknown_pixels

from cli_checks import ok
from conftest import smooth_picture


def test_spearman_matches_scipy():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(500, generator=g)
    b = a + torch.randn(500, generator=g)
    assert spearman(a, b) == float(scipy.stats.spearmanr(a.numpy(), b.numpy()).statistic) or \
        abs(spearman(a, b) - scipy.stats.spearmanr(a.numpy(), b.numpy()).statistic) < 1e-9
    assert abs(spearman(a, -a) + 1) < 1e-12


def test_unknown_pixels_are_the_missing_ones_of_a_mask_and_all_otherwise():
    mask = ops.Mask.random((1, 1, 8, 8), missing=0.5, generator=torch.Generator().manual_seed(0))
    unknown = unknown_pixels(mask, (1, 1, 8, 8))
    assert torch.equal(unknown, mask.mask < 0.5)
    assert bool(unknown_pixels(ops.Downsample(2), (1, 1, 8, 8)).all())


def test_coverage_runs_on_tiny_images(cli, tiny_priors, tmp_path):
    folder = tmp_path / "val"
    folder.mkdir()
    for i in range(2):
        skimage.io.imsave(str(folder / f"{i}.png"), smooth_picture(24, 24, seed=i), check_contrast=False)
    row = measure_coverage("inpaint-random", data=str(folder), limit=2, n_samples=3, prior=str(tiny_priors["gray"]),
                           device="cpu")
    assert row.images == 2 and row.samples == 3 and 0 < row.pixels < 2 * 24 * 24
    assert all(0 <= v <= 1 for v in (row.quantile50, row.quantile90, row.std50, row.std90))
    assert row.std50 <= row.std90 and row.quantile50 <= row.quantile90 and row.rms_z > 0
    for pooled, (lowest, highest) in ((row.interval50, row.interval50_images), (row.interval90, row.interval90_images)):
        assert lowest <= pooled <= highest  # the pooled coverage is a pixel-weighted mean of the images'
    result = ok(cli("bench", "coverage", "--tasks", "sr4", "--data", folder, "--limit", "1", "--samples", "2",
                    "--prior", tiny_priors["gray"], "--device", "cpu"))
    assert "| sr4 | sample | 1 × 2 |" in result.stdout


def test_a_fit_written_into_the_card_is_applied_and_reported(cli, tiny_priors, tmp_path):
    """``--fit --write-card`` on validation images stores a calibration that reconstruct then applies to calls
    with those settings: the coverage table says what it was fitted on; reported sets are refused for a fit."""
    import json
    import shutil

    folder = tmp_path / "val"
    folder.mkdir()
    for i in range(2):
        skimage.io.imsave(str(folder / f"{i}.png"), smooth_picture(24, 24, seed=i), check_contrast=False)
    priors = tmp_path / "priors"
    priors.mkdir()
    for suffix in (".pt", ".json", ".md"):
        shutil.copy(tiny_priors["gray"].with_suffix(suffix), priors)
    prior = priors / tiny_priors["gray"].name
    card = prior.with_suffix(".json")
    common = ["--tasks", "sr4", "--data", folder, "--limit", "2", "--samples", "3", "--prior", prior, "--device", "cpu"]
    fitted = ok(cli("bench", "coverage", "--fit", "--write-card", *common))
    assert "| sr4 | sr |" in fitted.stdout and "wrote the calibration into" in fitted.stdout
    entry = json.loads(card.read_text())["calibration"]["sample"]["sr"]
    assert entry["quantiles"] == sorted(entry["quantiles"]) and entry["samples"] == 3
    assert "Interval calibration" in prior.with_suffix(".md").read_text()
    measured = ok(cli("bench", "coverage", *common))
    assert f"{folder}: 2 images x 3 samples" in measured.stdout
    refused = cli("bench", "coverage", "--fit", "--tasks", "sr4", "--data", "set12", "--prior", prior)
    assert refused.exit_code != 0 and "reported test set" in refused.output
    assert json.loads(card.read_text())["calibration"]["sample"]["sr"] == entry
