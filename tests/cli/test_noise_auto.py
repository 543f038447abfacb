"""``--noise auto`` below the command: the NOISE option type, measured problems read from files with noise="auto"
(the estimate in the operator, the details and a note), a simulated problem's estimate beside its truth, and the
solve command end to end once its --noise takes NOISE."""
from __future__ import annotations

import json

import click
import numpy as np
import pytest
import skimage.io
import torch
from click.testing import CliRunner

import operators as ops
from scoreinv.cli.common import NOISE, Command, NoiseLevel
from scoreinv.errors import InputError
from scoreinv.problems.measured import (measured_ct, measured_deblur, measured_inpaint, measured_sr,
                                        with_estimated_noise)

from cli_checks import ok

SIGMA = 0.03          # the noise written into the test pictures ([0, 1] units, before 8-bit rounding)
TOLERANCE = 0.2       # small pictures (128 x 128 and below): few tiles


@click.command(cls=Command)
@click.option("--noise", type=NOISE, default=None)
def noise_echo(noise):
    click.echo(repr(noise))


@pytest.mark.parametrize("text,value", [("auto", "'auto'"), ("AUTO", "'auto'"), ("0.02", "0.02"), ("0", "0.0"),
                                        ("1", "1.0")])
def test_the_noise_type_takes_numbers_in_range_and_auto(text, value):
    result = ok(CliRunner().invoke(noise_echo, ["--noise", text]))
    assert result.output.strip() == value


@pytest.mark.parametrize("text,fragment", [("aut", "'aut' is not a number"), ("-0.1", "not in [0, 1]"),
                                           ("1.5", "not in [0, 1]"), ("nan", "not a finite number")])
def test_bad_noise_values_are_one_line(text, fragment):
    result = CliRunner().invoke(noise_echo, ["--noise", text])   # click's usage error: usage lines, then one Error
    assert result.exit_code == 2 and "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and fragment in errors[0] and "or auto" in errors[0], result.stderr


def noisy_picture(path, image: np.ndarray, seed: int = 0) -> np.ndarray:
    """Write ``image`` ([0, 1], (H, W) or (H, W, C)) plus N(0, SIGMA²) noise as an 8-bit PNG; returns the noise."""
    noise = np.random.default_rng(seed).normal(0, SIGMA, image.shape)
    skimage.io.imsave(str(path), np.round(np.clip(image + noise, 0, 1) * 255).astype(np.uint8), check_contrast=False)
    return noise


def smooth_array(height: int = 128, width: int = 128, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v, u = np.mgrid[0:height, 0:width] / max(height, width)
    plane = sum(np.sin(2 * np.pi * (rng.uniform(0.5, 2) * v + rng.uniform(0.5, 2) * u) + rng.uniform(0, 6))
                for _ in range(3))
    return 0.2 + 0.6 * (plane - plane.min()) / np.ptp(plane)


def check_estimated(problem, truth: float = SIGMA):
    estimate = problem.details["sigma_y"]
    assert problem.details["sigma_y_source"] == "estimated" and problem.details["sigma_y_estimator"]
    assert problem.operator.noise.sigma == problem.sigma_y == estimate
    assert abs(estimate / truth - 1) <= TOLERANCE, problem.details
    notes = [note for note in problem.notes if note.startswith("σ_y estimated from the measurement: ")]
    assert len(notes) == 1 and f"{estimate:.4g}" in notes[0]
    json.dumps(problem.details, allow_nan=False)   # the record is plain JSON


def test_a_blurry_file_with_noise_auto(tmp_path):
    blurred = ops.Blur(ops.gaussian_kernel(1.5, 7)).A(torch.from_numpy(smooth_array()).float()[None, None])
    noisy_picture(tmp_path / "blurry.png", blurred[0, 0].numpy())
    check_estimated(measured_deblur(str(tmp_path / "blurry.png"), kernel="gaussian:1.5", noise="auto", channels=None))
    given = measured_deblur(str(tmp_path / "blurry.png"), kernel="gaussian:1.5", noise=0.01, channels=None)
    assert given.sigma_y == 0.01 and "sigma_y_source" not in given.details and not given.notes


def test_a_small_file_with_noise_auto(tmp_path):
    noisy_picture(tmp_path / "small.png", smooth_array(96, 128))
    check_estimated(measured_sr(str(tmp_path / "small.png"), scale=2, noise="auto", channels=None))


def test_an_rgba_file_uses_only_its_opaque_pixels(tmp_path):
    image = np.stack([smooth_array(seed=s) for s in range(3)], -1)
    noisy_picture(tmp_path / "rgb.png", image)
    rgba = np.concatenate([skimage.io.imread(str(tmp_path / "rgb.png")), np.full((128, 128, 1), 255, np.uint8)], -1)
    rgba[::2, ::3, 3] = 0                                                    # a sixth of the pixels missing
    rgba[rgba[..., 3] == 0, :3] = np.random.default_rng(1).integers(0, 256, (int((rgba[..., 3] == 0).sum()), 3))
    skimage.io.imsave(str(tmp_path / "holes.png"), rgba, check_contrast=False)
    problem = measured_inpaint(str(tmp_path / "holes.png"), mask=None, noise="auto", channels=None)
    check_estimated(problem)
    assert "known pixels" in problem.details["sigma_y_estimator"]


def test_a_sinogram_file_with_noise_auto(tmp_path):
    from skimage.data import shepp_logan_phantom
    from skimage.transform import resize

    x = torch.from_numpy(resize(shepp_logan_phantom(), (128, 128), anti_aliasing=True)).float()[None, None]
    operator = ops.ParallelBeamCT((128, 128), np.arange(60) * 3.0)
    clean = operator.A(x)
    np.save(tmp_path / "sino.npy", (clean + 0.1 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(0)))
            [0, 0].numpy())
    problem = measured_ct(str(tmp_path / "sino.npy"), angles="60", size=(128, 128), noise="auto")
    check_estimated(problem, truth=0.1)
    assert problem.details["units"].startswith("sinogram")


def test_a_simulated_problem_keeps_its_truth_beside_the_estimate():
    from scoreinv.problems.simulated import simulated

    problem = with_estimated_noise(simulated("deblur-gauss", "skimage:camera", seed=0))
    assert problem.details["sigma_y_simulated"] == 0.01
    check_estimated(problem, truth=0.01)
    assert "simulated with 0.01" in problem.notes[-1]


def test_noise_other_than_a_number_or_auto_is_one_line(tmp_path):
    noisy_picture(tmp_path / "blurry.png", smooth_array(32, 32))
    with pytest.raises(InputError, match="number in \\[0, 1\\] or auto") as error:
        measured_deblur(str(tmp_path / "blurry.png"), kernel="gaussian:1", noise="aut", channels=None)
    assert "\n" not in str(error.value)


def _solve_takes_auto() -> bool:
    from scoreinv.cli.solve import solve_command

    return any(param.name == "noise" and isinstance(param.type, NoiseLevel) for param in solve_command.params)


@pytest.mark.skipif(not _solve_takes_auto(), reason="scoreinv solve's --noise does not take NOISE (auto) yet")
def test_solve_with_noise_auto_records_the_estimate(cli, tiny_prior, tmp_path):
    blurred = ops.Blur(ops.gaussian_kernel(1.5, 7)).A(torch.from_numpy(smooth_array(64, 64)).float()[None, None])
    noisy_picture(tmp_path / "blurry.png", blurred[0, 0].numpy())
    result = ok(cli("solve", "--task", "deblur", "blurry.png", "--kernel", "gaussian:1.5", "--noise", "auto",
                    "--prior", tiny_prior, "--steps", "4", "--quiet"))
    assert "note: σ_y estimated from the measurement: " in result.stderr
    record = json.loads((tmp_path / "blurry_restored.json").read_text())
    assert record["measurement"]["sigma_y_source"] == "estimated"
    assert record["settings"]["sigma_y"] == record["measurement"]["sigma_y"]
    assert abs(record["measurement"]["sigma_y"] / SIGMA - 1) <= TOLERANCE
