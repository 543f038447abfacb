"""``scoreinv bench tune``: grids of settings on validation images; reported test sets are refused."""
from __future__ import annotations

import pytest
import skimage.io

from scoreinv.bench.tune import parse_grid, refuse_reported, tune
from scoreinv.errors import InputError
from scoreinv.solve.settings import ROWS

from cli_checks import ok, one_line_error
from conftest import smooth_picture, write_tiny_prior


def test_the_grid_is_every_combination_after_the_rows_own():
    grid = parse_grid(["sigma_start=0.05,0.2", "steps=20,40"])
    assert grid[0] == {} and len(grid) == 5
    assert {"sigma_start": 0.2, "steps": 40} in grid and all(isinstance(g.get("steps", 1), int) for g in grid)
    assert parse_grid([]) == [{}]
    for bad in ["sigma=0.1", "steps=a", "steps"]:
        with pytest.raises(InputError):
            parse_grid([bad])


@pytest.mark.parametrize("data", ["set12", "cbsd68", "ct-test", "../shared/data/set12", "x/ct/test"])
def test_reported_sets_are_refused(data):
    with pytest.raises(InputError, match="reported test set"):
        refuse_reported(data)


def test_a_tiny_grid_runs_and_the_command_refuses_set12(cli, tiny_priors, tmp_path):
    folder = tmp_path / "val"
    folder.mkdir()
    for i in range(2):
        skimage.io.imsave(str(folder / f"{i}.png"), smooth_picture(24, 24, seed=i), check_contrast=False)
    candidates = tune("inpaint-random", parse_grid(["steps=2,3"]), data=str(folder), limit=2,
                      prior=str(tiny_priors["gray"]), device="cpu")
    assert [c.nfe for c in candidates] == [ROWS["inpaint-random"].settings.steps, 2, 3] and all(c.psnr > 0 for c in candidates)
    result = ok(cli("bench", "tune", "--task", "inpaint-random", "--grid", "steps=2", "--data", folder,
                    "--prior", tiny_priors["gray"], "--device", "cpu"))
    assert "steps=2" in result.stdout and "the row's own" in result.stdout
    one_line_error(cli("bench", "tune", "--task", "sr4", "--data", "set12"), "reported test set")


def test_centre_crop_and_its_refusal():
    from scoreinv.bench.options import centre_crop
    import torch

    image = torch.arange(5 * 7, dtype=torch.float32).reshape(1, 5, 7)
    assert torch.equal(centre_crop(image, 3), image[:, 1:4, 2:5])
    with pytest.raises(InputError, match="at most 5"):
        centre_crop(image, 6)


def test_the_crop_reaches_every_image_and_bad_options_are_one_line(cli, tiny_priors, tmp_path):
    from scoreinv.bench.tune import task_images_and_prior

    folder = tmp_path / "val"
    folder.mkdir()
    skimage.io.imsave(str(folder / "0.png"), smooth_picture(24, 30, seed=0), check_contrast=False)
    _, images, _, _ = task_images_and_prior("sr4", data=str(folder), limit=1, prior=str(tiny_priors["gray"]),
                                            device="cpu", crop=16)
    assert images[0][1].shape == (1, 16, 16)
    one_line_error(cli("bench", "tune", "--task", "sr4", "--data", folder, "--crop", "40", "--prior",
                       tiny_priors["gray"], "--device", "cpu"), "--crop 40", "at most 24")
    one_line_error(cli("bench", "tune", "--task", "sr4", "--data", folder, "--peer-steps", "3"), "--peer")
    one_line_error(cli("bench", "tune", "--peer", "ddrm", "--task", "sr4", "--data", folder, "--grid", "weight=1"),
                   "weight=1")


def test_without_a_prior_each_point_and_the_peers_run_the_prior_reconstruct_would(tmp_path, monkeypatch):
    """A tune of inpaint-random without --prior runs the estimate and the sample points on their rows' grey priors
    and the peers on the image type's default, as reconstruct and ``bench tasks --peers`` would."""
    from scoreinv.bench.tune import _peer_prior, _priors_by_point, parse_grid, task_images
    from scoreinv.solve.row_priors import GREY_ROW_PRIORS

    shipped = tmp_path / "shipped"
    shipped.mkdir()
    fast = GREY_ROW_PRIORS["estimate", "inpaint-random"][0]
    wide = GREY_ROW_PRIORS["sample", "inpaint-random"][0]
    for i, name in enumerate(["natural-gray", fast, wide]):
        write_tiny_prior(shipped / f"{name}.pt", seed=i)
    monkeypatch.setenv("SCOREINV_PRETRAINED", str(shipped))
    folder = tmp_path / "val"
    folder.mkdir()
    skimage.io.imsave(str(folder / "0.png"), smooth_picture(24, 24), check_contrast=False)
    task, images = task_images("inpaint-random", data=str(folder), limit=1)
    grid = parse_grid(["target=estimate,sample"])
    priors = _priors_by_point(grid, task, images[0][1], prior=None, device="cpu")
    assert priors["estimate", None].name == fast and priors["sample", None].name == wide != "natural-gray"
    assert _peer_prior(task, images[0][1], prior=None, device="cpu").name == "natural-gray"
    named = _priors_by_point(grid, task, images[0][1], prior="natural-gray", device="cpu")
    assert {p.name for p in named.values()} == {"natural-gray"}
    # a prior= axis of the grid wins over both
    chosen = _priors_by_point(parse_grid([f"prior={fast}"]), task, images[0][1], prior="natural-gray", device="cpu")
    assert chosen["estimate", fast].name == fast and chosen["estimate", None].name == "natural-gray"
