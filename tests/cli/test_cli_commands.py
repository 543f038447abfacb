"""The command line end to end on tiny pictures with tiny random priors: solve (every task family, simulated and
measured), sample, likelihood, priors, and one-line errors for bad input."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import skimage.io
import torch

import operators as ops
from scoreinv.solve.settings import ROWS

from cli_checks import make_reconstruct_diverge, ok
from cli_checks import one_line_error as _one_line_error
from conftest import needs_kernels


def one_line_error(result, *fragments) -> str:
    """A failure whose one ``Error:`` line may follow notes and warnings."""
    return _one_line_error(result, *fragments, notes_allowed=True)


REPO = Path(__file__).resolve().parents[2]
FAST = ["--steps", "4", "--quiet"]






def digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def image_shape(path: Path) -> tuple:
    return skimage.io.imread(str(path)).shape


def sidecar(path: Path) -> dict:
    record = json.loads(Path(path).read_text())
    assert {"input", "output", "task", "settings", "metrics", "nfe", "seconds", "std_map", "figure"} <= set(record)
    assert record["nfe"] > 0 and record["seconds"] >= 0
    assert "convention" in record["settings"] and record["settings"]["steps"] == 4
    return record


# solve --simulate

@pytest.mark.parametrize("task,channels", [("inpaint", 1), ("deblur", 1), ("sr", 1), ("ct", 1),
                                           ("inpaint", 3), ("deblur", 3), ("sr", 3)])
def test_solve_simulate_each_family(cli, tiny_priors, write_picture, tmp_path, task, channels):
    picture = write_picture("clean.png", 32, 48, channels)
    before = digest(picture)
    prior = tiny_priors["ct" if task == "ct" else "gray" if channels == 1 else "color"]
    result = ok(cli("solve", "--task", task, "--simulate", picture, "--prior", prior, *FAST))
    assert "PSNR" in result.output and "SSIM" in result.output and "NFE" in result.output
    output = tmp_path / "clean_restored.png"
    assert image_shape(output) == ((32, 48) if channels == 1 else (32, 48, 3))
    record = sidecar(tmp_path / "clean_restored.json")
    assert record["simulate"] is True
    assert set(record["metrics"]) == {"psnr", "ssim", "lpips"}
    assert all(isinstance(record["metrics"][key], float) for key in ("psnr", "ssim", "lpips"))
    assert record["settings"]["task_family"] == task
    assert digest(picture) == before


@pytest.mark.parametrize("task", ["inpaint-box", "deblur-gauss", "sr4", "ct-limited"])
def test_solve_simulate_task_names(cli, tiny_priors, write_picture, tmp_path, task):
    picture = write_picture("clean.png", 32, 48)
    prior = tiny_priors["ct" if task.startswith("ct") else "gray"]
    ok(cli("solve", "--task", task, "--simulate", picture, "--prior", prior, "-o", "out.png", *FAST))
    assert sidecar(tmp_path / "out.json")["task"] == task


def test_solve_eta_and_prior_weight_reach_the_sampler(cli, tiny_prior, write_picture, tmp_path):
    picture = write_picture("clean.png", 32, 48)
    ok(cli("solve", "--task", "deblur-gauss", "--simulate", picture, "--prior", tiny_prior, "-o", "row.png", *FAST))
    row = sidecar(tmp_path / "row.json")["settings"]
    from scoreinv.solve.settings import ROWS

    own = ROWS["deblur-lowpass"].settings
    assert (row["defaults_row"], row["eta"], row["prior_weight"]) == ("deblur-lowpass", own.eta, own.prior_weight)
    assert own.eta != 0.5 and own.prior_weight != 0.5  # so that both overrides show
    ok(cli("solve", "--task", "deblur-gauss", "--simulate", picture, "--prior", tiny_prior, "-o", "set.png",
           "--eta", "0.5", "--prior-weight", "0.5", *FAST))
    chosen = sidecar(tmp_path / "set.json")["settings"]
    assert (chosen["eta"], chosen["prior_weight"]) == (0.5, 0.5)
    assert digest(tmp_path / "set.png") != digest(tmp_path / "row.png")
    for bad in (["--eta", "1.5"], ["--prior-weight", "0"]):
        result = cli("solve", "--task", "deblur-gauss", "--simulate", picture, "--prior", tiny_prior, *bad, *FAST)
        assert result.exit_code != 0 and bad[0] in result.output


def test_solve_memory_budget_reaches_reconstruct(cli, tiny_prior, write_picture, tmp_path):
    """A budget too small for one call on the picture tiles it (recorded); 0 never tiles; negative is refused."""
    picture = write_picture("wide.png", 96, 144)
    ok(cli("solve", "--task", "deblur-gauss", "--simulate", picture, "--prior", tiny_prior, "-o", "tiled.png",
           "--memory-budget", "1", *FAST))
    tiling = sidecar(tmp_path / "tiled.json")["settings"]["tiling"]
    assert tiling["tiled"] and tiling["tiles"] > 1
    ok(cli("solve", "--task", "deblur-gauss", "--simulate", picture, "--prior", tiny_prior, "-o", "whole.png",
           "--memory-budget", "0", *FAST))
    assert not sidecar(tmp_path / "whole.json")["settings"]["tiling"]["tiled"]
    result = cli("solve", "--task", "deblur-gauss", "--simulate", picture, "--prior", tiny_prior,
                 "--memory-budget", "-1", *FAST)
    assert result.exit_code != 0 and "--memory-budget" in result.output


def test_solve_cg_effort_reaches_the_data_step(cli, tiny_priors, write_picture, tmp_path):
    picture = write_picture("clean.png", 24, 24)
    ct = ("solve", "--task", "ct", "--simulate", picture, "--angles", "0:90:10", "--prior", tiny_priors["ct"])
    ok(cli(*ct, "-o", "row.png", *FAST))
    assert sidecar(tmp_path / "row.json")["settings"]["cg_effort"] == ROWS["ct-limited"].settings.cg_effort
    ok(cli(*ct, "-o", "set.png", "--cg-effort", "2", *FAST))
    assert sidecar(tmp_path / "set.json")["settings"]["cg_effort"] == 2.0
    result = cli(*ct, "--cg-effort", "0", *FAST)
    assert result.exit_code != 0 and "--cg-effort" in result.output


@needs_kernels
def test_solve_simulate_levin_motion(cli, tiny_prior, write_picture, tmp_path):
    picture = write_picture("clean.png", 32, 48)
    ok(cli("solve", "--task", "deblur-motion", "--simulate", picture, "--prior", tiny_prior, "-o", "out.png", *FAST))
    assert image_shape(tmp_path / "out.png") == (32, 48)


def test_solve_simulate_skimage_picture(cli, tiny_prior, tmp_path):
    ok(cli("solve", "--task", "inpaint", "--simulate", "skimage:camera", "--prior", tiny_prior, "--steps", "2",
           "--quiet"))
    assert image_shape(tmp_path / "camera_restored.png") == (512, 512)


def test_solve_simulate_operator_options(cli, tiny_prior, write_picture, tmp_path):
    picture = write_picture("clean.png", 32, 48)
    ok(cli("solve", "--task", "inpaint", "--simulate", picture, "--box", "8x12+4+4", "--prior", tiny_prior,
           "-o", "box.png", *FAST))
    assert sidecar(tmp_path / "box.json")["measurement"]["box"] == "8x12+4+4"
    ok(cli("solve", "--task", "inpaint", "--simulate", picture, "--missing", "0.5", "--noise", "0.02",
           "--prior", tiny_prior, "-o", "random.png", *FAST))
    record = sidecar(tmp_path / "random.json")
    assert record["measurement"]["missing_fraction"] == 0.5 and record["settings"]["sigma_y"] == 0.02
    ok(cli("solve", "--task", "ct", "--simulate", picture, "--angles", "0:90:10", "--size", "24x32",
           "--prior", tiny_prior, "-o", "ct.png", *FAST))
    assert image_shape(tmp_path / "ct.png") == (24, 32)
    assert len(sidecar(tmp_path / "ct.json")["measurement"]["angles_deg"]) == 10


@pytest.mark.parametrize("size,expected", [(None, (40, 40)), ("24", (24, 24))])
def test_solve_simulate_ct_from_16_bit_png(cli, tiny_priors, tmp_path, size, expected):
    hu = np.full((40, 40), 1024 - 1000, np.uint16)  # air around a disc of water-like tissue
    hu[np.hypot(*np.mgrid[-20:20, -20:20]) < 15] = 1024 + 30
    skimage.io.imsave(str(tmp_path / "slice.png"), hu, check_contrast=False)
    args = ["--size", size] if size else []
    ok(cli("solve", "--task", "ct", "--simulate", "slice.png", *args, "--prior", tiny_priors["ct"], *FAST))
    assert image_shape(tmp_path / "slice_restored.png") == expected
    record = sidecar(tmp_path / "slice_restored.json")
    assert record["measurement"]["size"] == list(expected) and len(record["measurement"]["angles_deg"]) == 30


def test_solve_sr_simulate_crops_to_the_scale(cli, tiny_prior, write_picture, tmp_path):
    picture = write_picture("odd.png", 35, 50)
    result = ok(cli("solve", "--task", "sr", "--simulate", picture, "--scale", "4", "--prior", tiny_prior, *FAST))
    assert "cropped 35x50 to 32x48" in result.stderr
    assert image_shape(tmp_path / "odd_restored.png") == (32, 48)


def test_solve_grey_and_colour_switches(cli, tiny_priors, write_picture, tmp_path):
    picture = write_picture("colour.png", 32, 48, 3)
    ok(cli("solve", "--task", "inpaint", "--simulate", picture, "--grey", "--prior", tiny_priors["gray"],
           "-o", "grey.png", *FAST))
    assert image_shape(tmp_path / "grey.png") == (32, 48)
    grey = write_picture("grey.png", 32, 48, 1)
    ok(cli("solve", "--task", "inpaint", "--simulate", grey, "--colour", "--prior", tiny_priors["color"],
           "-o", "colour.png", *FAST))
    assert image_shape(tmp_path / "colour.png") == (32, 48, 3)


def test_solve_writes_std_map_figure_and_json(cli, tiny_prior, write_picture, tmp_path):
    picture = write_picture("clean.png", 32, 48)
    result = ok(cli("solve", "--task", "inpaint", "--simulate", picture, "--prior", tiny_prior, "-o", "r.png",
                    "--std-map", "std.png", "--figure", "fig.png", "--json", "meta.json", *FAST))
    assert image_shape(tmp_path / "std.png") == (32, 48)
    height, width, _ = image_shape(tmp_path / "fig.png")
    assert height > 32 and width == 4 * 48 + 3 * 2  # measurement | reconstruction | std | truth
    record = sidecar(tmp_path / "meta.json")
    assert record["settings"]["n_samples"] == 4  # the default when the std is asked for
    assert record["std_map"] == "std.png" and record["figure"] == "fig.png" and record["std_map_white"] > 0
    assert "std.png" in result.output and "fig.png" in result.output


def test_solve_target_sample_draws_by_split_gibbs(cli, tiny_prior, write_picture, tmp_path):
    picture = write_picture("clean.png", 32, 48)
    ok(cli("solve", "--task", "inpaint", "--simulate", picture, "--prior", tiny_prior, "-o", "s.png", "--target",
           "sample", "--samples", "2", "--std-map", "std.png", *FAST))
    settings = sidecar(tmp_path / "s.json")["settings"]
    # two couplings at least, four prior levels each
    assert settings["target"] == "sample" and settings["method"] == "gibbs" and settings["nfe_per_sample"] == 8
    assert image_shape(tmp_path / "std.png") == (32, 48)


def test_solve_same_seed_same_bytes(cli, tiny_prior, write_picture, tmp_path):
    picture = write_picture("clean.png", 32, 48)
    for name, seed in (("a.png", 3), ("b.png", 3), ("c.png", 4)):
        ok(cli("solve", "--task", "deblur", "--simulate", picture, "--prior", tiny_prior, "--seed", seed, "-o", name,
               *FAST))
    assert digest(tmp_path / "a.png") == digest(tmp_path / "b.png")
    assert digest(tmp_path / "a.png") != digest(tmp_path / "c.png")


# solve with real measurements

def test_solve_inpaint_with_mask_file(cli, tiny_priors, write_picture, tmp_path):
    damaged = write_picture("damaged.png", 32, 48, 3)
    known = np.ones((32, 48), dtype=np.uint8) * 255
    known[8:20, 10:30] = 0
    skimage.io.imsave(str(tmp_path / "mask.png"), known, check_contrast=False)
    before = digest(damaged), digest(tmp_path / "mask.png")
    ok(cli("solve", "--task", "inpaint", damaged, "--mask", "mask.png", "--prior", tiny_priors["color"], *FAST))
    restored = skimage.io.imread(str(tmp_path / "damaged_restored.png"))
    original = skimage.io.imread(str(damaged))
    assert restored.shape == (32, 48, 3)
    assert np.array_equal(restored[known > 0], original[known > 0])  # σ_y = 0: known pixels kept exactly
    assert sidecar(tmp_path / "damaged_restored.json")["metrics"] is None
    assert (digest(damaged), digest(tmp_path / "mask.png")) == before


def test_solve_inpaint_from_rgba_alpha(cli, tiny_priors, tmp_path):
    from tests.conftest import smooth_picture

    rgba = np.concatenate([smooth_picture(32, 48, 3), np.full((32, 48, 1), 255, np.uint8)], -1)
    rgba[5:15, 5:25, 3] = 0  # transparent = missing
    skimage.io.imsave(str(tmp_path / "holes.png"), rgba, check_contrast=False)
    ok(cli("solve", "--task", "inpaint", "holes.png", "--prior", tiny_priors["color"], *FAST))
    assert image_shape(tmp_path / "holes_restored.png") == (32, 48, 3)
    record = sidecar(tmp_path / "holes_restored.json")
    assert record["measurement"]["mask"].startswith("alpha channel")
    assert record["measurement"]["missing_fraction"] == round(200 / (32 * 48), 4)


@pytest.mark.parametrize("spec", ["gaussian:1.5", "gaussian:1,5", "motion:5,30", "kernel.npy", "kernel.png",
                                  pytest.param("levin:1", marks=needs_kernels)])
def test_solve_deblur_kernel_forms(cli, tiny_prior, write_picture, tmp_path, spec):
    blurry = write_picture("blurry.png", 32, 48)
    kernel = np.outer(np.hanning(7)[1:-1], np.hanning(7)[1:-1])
    np.save(tmp_path / "kernel.npy", kernel)
    skimage.io.imsave(str(tmp_path / "kernel.png"), np.round(kernel / kernel.max() * 255).astype(np.uint8),
                      check_contrast=False)
    ok(cli("solve", "--task", "deblur", blurry, "--kernel", spec, "--prior", tiny_prior, *FAST))
    assert image_shape(tmp_path / "blurry_restored.png") == (32, 48)
    assert sidecar(tmp_path / "blurry_restored.json")["measurement"]["kernel"].endswith(spec)


@pytest.mark.parametrize("scale", [2, 4])
def test_solve_sr_scale(cli, tiny_prior, write_picture, tmp_path, scale):
    small = write_picture("small.png", 12, 16)
    ok(cli("solve", "--task", "sr", small, "--scale", scale, "--prior", tiny_prior, *FAST))
    assert image_shape(tmp_path / "small_restored.png") == (12 * scale, 16 * scale)


def _sinogram(tmp_path: Path, angles, size=(24, 32)) -> Path:
    x = torch.rand(1, 1, *size)
    y = ops.ParallelBeamCT(size, angles).A(x)[0, 0].numpy()
    np.save(tmp_path / "sino.npy", y)
    return tmp_path / "sino.npy"


@pytest.mark.parametrize("angles", ["12", "0:180:12", "angles.txt", None])
def test_solve_ct_from_sinogram(cli, tiny_priors, tmp_path, angles):
    degrees = np.arange(12) * 15.0
    np.savetxt(tmp_path / "angles.txt", degrees)
    sinogram = _sinogram(tmp_path, degrees)
    before = digest(sinogram)
    args = ["--angles", angles] if angles else []
    result = ok(cli("solve", "--task", "ct", sinogram, *args, "--size", "24x32", "--prior", tiny_priors["ct"],
                    "--figure", "fig.png", "--samples", "2", *FAST))
    assert image_shape(tmp_path / "sino_restored.png") == (24, 32)
    assert image_shape(tmp_path / "fig.png")[1] == 40 + 32 + 32 + 2 * 2  # sinogram (40 detectors) | recon | std
    assert sidecar(tmp_path / "sino_restored.json")["measurement"]["detectors"] == 40
    assert ("note: angles" in result.stderr) == (angles is None)
    assert digest(sinogram) == before


# sample, likelihood, priors

def test_sample_grid(cli, tiny_prior, tmp_path):
    result = ok(cli("sample", "--prior", tiny_prior, "-n", "5", "--size", "16x24", "--steps", "4", "-o", "grid.png",
                    "--quiet"))
    assert image_shape(tmp_path / "grid.png") == (2 * 16 + 2, 3 * 24 + 2 * 2)  # 3 columns, 2 rows, 2 px gaps
    assert "NFE" in result.output


@pytest.mark.parametrize("sampler", ["pc", "ancestral", "ode", "langevin"])
def test_sample_each_sampler_is_reproducible(cli, tiny_priors, tmp_path, sampler):
    for name in ("a.png", "b.png"):
        ok(cli("sample", "--prior", tiny_priors["color"], "-n", "2", "--size", "8", "--sampler", sampler,
               "--steps", "10", "-o", name, "--quiet"))
    assert image_shape(tmp_path / "a.png") == (8, 18, 3)
    assert digest(tmp_path / "a.png") == digest(tmp_path / "b.png")


def test_likelihood(cli, tiny_priors, write_picture, tmp_path):
    picture = write_picture("face.png", 16, 16)
    result = ok(cli("likelihood", picture, "--prior", tiny_priors["gray"], "--steps", "2", "--json", "ll.json"))
    assert "bits/dim" in result.output and "nats" in result.output
    record = json.loads((tmp_path / "ll.json").read_text())
    assert np.isfinite(record["bits_per_dim"]) and record["nfe"] == 4 and record["shape"] == [1, 16, 16]
    colour = ok(cli("likelihood", picture, "--prior", tiny_priors["color"], "--steps", "2", "--seed", "1"))
    assert "3x16x16" in colour.output


def test_likelihood_ct_png(cli, tiny_priors, tmp_path):
    hu = np.full((16, 16), 1024 + 40, np.uint16)  # soft tissue, HU + 1024
    skimage.io.imsave(str(tmp_path / "slice.png"), hu, check_contrast=False)
    ok(cli("likelihood", "slice.png", "--prior", tiny_priors["ct"], "--steps", "2"))


def test_priors_lists_cards(cli, tiny_priors):
    result = ok(cli("priors", env={"SCOREINV_PRETRAINED": str(tiny_priors["gray"].parent)}))
    assert "tiny-gray" in result.output and "tiny-color" in result.output and "tiny-ct" in result.output


# bad input: one line, non-zero exit, no traceback

def test_error_missing_file(cli, tiny_prior):
    one_line_error(cli("solve", "--task", "inpaint", "--simulate", "nope.png", "--prior", tiny_prior, *FAST),
                   "nope.png", "no such file")


def test_error_unreadable_image(cli, tiny_prior, tmp_path):
    (tmp_path / "text.png").write_text("this is not an image")
    one_line_error(cli("solve", "--task", "deblur", "--simulate", "text.png", "--prior", tiny_prior, *FAST),
                   "text.png", "not a readable image")


def _mask(tmp_path: Path, values: np.ndarray) -> Path:
    skimage.io.imsave(str(tmp_path / "mask.png"), values.astype(np.uint8), check_contrast=False)
    return tmp_path / "mask.png"


@pytest.mark.parametrize("mask,fragment", [
    (np.full((20, 30), 255), "mask is 20x30 but"),
    (np.zeros((32, 48)), "hides every pixel"),
    (np.full((32, 48), 255), "hides no pixel"),
])
def test_error_bad_masks(cli, tiny_prior, write_picture, tmp_path, mask, fragment):
    damaged = write_picture("damaged.png")
    one_line_error(cli("solve", "--task", "inpaint", damaged, "--mask", _mask(tmp_path, mask), "--prior", tiny_prior,
                       *FAST), fragment)


def test_error_inpaint_without_mask(cli, tiny_prior, write_picture):
    one_line_error(cli("solve", "--task", "inpaint", write_picture(), "--prior", tiny_prior, *FAST), "--mask")


def test_error_nan_sinogram(cli, tiny_priors, tmp_path):
    sinogram = _sinogram(tmp_path, np.arange(12) * 15.0)
    array = np.load(sinogram)
    array[3, 5] = np.nan
    np.save(sinogram, array)
    one_line_error(cli("solve", "--task", "ct", sinogram, "--size", "24x32", "--prior", tiny_priors["ct"], *FAST),
                   "NaN")


def test_error_wrong_detector_count(cli, tiny_priors, tmp_path):
    sinogram = _sinogram(tmp_path, np.arange(12) * 15.0)
    one_line_error(cli("solve", "--task", "ct", sinogram, "--size", "32", "--prior", tiny_priors["ct"], *FAST),
                   "40 detectors", "needs 46")
    one_line_error(cli("solve", "--task", "ct", sinogram, "--angles", "20", "--size", "24x32",
                       "--prior", tiny_priors["ct"], *FAST), "12 angle rows", "20")


def test_error_kernel_larger_than_image(cli, tiny_prior, write_picture):
    small = write_picture("small.png", 24, 32)
    one_line_error(cli("solve", "--task", "deblur", small, "--kernel", "gaussian:5", "--prior", tiny_prior, *FAST),
                   "larger than")
    one_line_error(cli("solve", "--task", "deblur", "--simulate", small, "--prior", tiny_prior, *FAST), "larger than")


def test_error_bad_kernel_spec(cli, tiny_prior, write_picture):
    one_line_error(cli("solve", "--task", "deblur", write_picture(), "--kernel", "motion:4", "--prior", tiny_prior,
                       *FAST), "--kernel")


def test_error_unknown_prior(cli, write_picture):
    one_line_error(cli("solve", "--task", "inpaint", "--simulate", write_picture(), "--prior", "no-such-prior", *FAST),
                   "no prior named 'no-such-prior'")
    one_line_error(cli("sample", "--prior", "no-such-prior", "-n", "1"), "no-such-prior")


def test_error_output_is_input(cli, tiny_prior, write_picture, tmp_path):
    picture = write_picture("clean.png")
    before = digest(picture)
    one_line_error(cli("solve", "--task", "inpaint", "--simulate", picture, "-o", "clean.png", "--prior", tiny_prior,
                       *FAST), "refusing to overwrite")
    one_line_error(cli("solve", "--task", "inpaint", "--simulate", picture, "--figure", str(picture),
                       "--prior", tiny_prior, *FAST), "refusing to overwrite")
    assert digest(picture) == before


def test_error_option_misuse(cli, tiny_priors, write_picture):
    picture, prior = write_picture(), tiny_priors["gray"]
    one_line_error(cli("solve", "--task", "inpaint-random", picture, "--prior", prior), "--simulate")
    one_line_error(cli("solve", "--task", "inpaint", picture, "--kernel", "gaussian:1", "--prior", prior),
                   "--kernel applies to --task deblur")
    one_line_error(cli("solve", "--task", "deblur-gauss", "--simulate", picture, "--kernel", "gaussian:1",
                       "--prior", prior), "--task deblur --kernel")
    one_line_error(cli("solve", "--task", "inpaint", "--simulate", picture, "--std-map", "s.png", "--samples", "1",
                       "--prior", prior), "--samples 2")
    one_line_error(cli("solve", "--task", "inpaint", "--simulate", picture, "--colour", "--prior", prior, *FAST),
                   "--grey")
    one_line_error(cli("solve", "--task", "inpaint", "--simulate", picture, "-o", "out.txt", "--prior", prior),
                   ".png")
    one_line_error(cli("solve", "--task", "inpaint", "--simulate", picture, "-o", "missing/out.png", "--prior", prior),
                   "does not exist")
    one_line_error(cli("solve", "--task", "inpaint", "--simulate", "skimage:nothing", "--prior", prior),
                   "camera")


def test_error_in_a_real_process(tmp_path):
    """The installed entry point's behaviour: exit status 1, ``Error: …`` on stderr, no traceback."""
    env = {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    process = subprocess.run([sys.executable, "-m", "scoreinv", "solve", "--task", "inpaint", "missing.png"],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert process.returncode == 1
    assert process.stderr.strip().splitlines() == ["Error: missing.png: no such file"]


def test_lpips_unavailable_is_reported_as_null(cli, tiny_prior, write_picture, tmp_path, monkeypatch):
    monkeypatch.setenv("SCOREINV_LPIPS_WEIGHTS", str(tmp_path / "no-such-weights.pth"))
    result = ok(cli("solve", "--task", "inpaint", "--simulate", write_picture("clean.png"), "--prior", tiny_prior,
                    *FAST))
    assert "warning: LPIPS not computed" in result.stderr and "LPIPS n/a" in result.output
    record = sidecar(tmp_path / "clean_restored.json")
    assert record["metrics"]["lpips"] is None and record["metrics"]["psnr"] is not None


def test_diverged_sampler_writes_nothing(cli, tiny_prior, write_picture, tmp_path, monkeypatch):
    make_reconstruct_diverge(monkeypatch)
    one_line_error(cli("solve", "--task", "inpaint", "--simulate", write_picture("clean.png"), "--prior", tiny_prior,
                       "--figure", "fig.png", *FAST), "NaN", "nothing was written")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean.png"]


def test_error_unknown_device(cli, tiny_prior, write_picture):
    one_line_error(cli("solve", "--task", "inpaint", "--simulate", write_picture(), "--prior", tiny_prior,
                       "--device", "potato", *FAST), "unknown device 'potato'")
