"""The DeepInverse peers: DDRM's physics reproduce our operators, DPIR's schedule, the tuned table's discipline, and
``scoreinv bench tune --peer`` end to end on tiny crops. Tests that run DeepInverse skip without it."""
from __future__ import annotations

import re
import shlex
import sys

import pytest
import skimage.io
import torch

import operators as ops
from scoreinv.bench.peers import PEERS, TUNED, TunedRow, check_knobs, dpir_schedule, peers_for, tuned_row
from scoreinv.bench.tune import REPORTED_SETS, parse_grid, refuse_reported, tune
from scoreinv.errors import InputError
from scoreinv.problems.tasks import TASKS, get_task

from cli_checks import ok
from conftest import smooth_picture

NEEDS_DEEPINV = "the peers need deepinv (pip install scoreinv[peers])"


def svd_operators():
    """Operators DDRM runs on, with the image shape each is checked on."""
    g = torch.Generator().manual_seed(1)
    return [(ops.Mask.random((1, 1, 24, 32), missing=0.7, generator=g), (1, 1, 24, 32)),
            (ops.Mask.random((1, 1, 16, 16), missing=0.5, generator=g), (2, 3, 16, 16)),
            (ops.Blur(ops.gaussian_kernel(3.0, 25)), (1, 1, 32, 40)),
            (ops.Blur(ops.motion_kernel(9, 30.0)), (1, 3, 24, 24)),
            (ops.Downsample(4), (1, 1, 32, 48)),
            (ops.Downsample(2), (2, 3, 16, 12))]


@pytest.mark.parametrize("index", range(6))
def test_ddrm_physics_reproduce_our_operator(index):
    dinv = pytest.importorskip("deepinv", reason=NEEDS_DEEPINV)
    from scoreinv.bench.peer_physics import svd_physics

    operator, shape = svd_operators()[index]
    physics = svd_physics(dinv, operator, sigma_y=0.01, x_shape=shape, device="cpu")
    x, z = torch.rand(shape, generator=torch.Generator().manual_seed(2)), torch.rand(shape)
    y = operator.A(x)
    scale = float(y.abs().max())
    assert float((physics.A(x) - y).abs().max()) <= 1e-5 * scale
    assert float((physics.A_adjoint(y) - operator.A_adjoint(y)).abs().max()) <= 1e-5 * scale
    assert float((physics.prox_l2(z, y, 0.7) - operator.prox_l2(z, y, 0.7)).abs().max()) <= 1e-5
    # an SVD: V is orthonormal (V Vᵀ x = x) and U Uᵀ is the identity on measurements
    assert float((physics.V(physics.V_adjoint(x)) - x).abs().max()) <= 1e-5
    assert float((physics.U(physics.U_adjoint(y)) - y).abs().max()) <= 1e-5 * scale
    assert float(physics.noise_model.sigma) == pytest.approx(0.01)


def test_box_downsampling_singular_values_are_one_over_the_factor():
    dinv = pytest.importorskip("deepinv", reason=NEEDS_DEEPINV)
    from scoreinv.bench.peer_physics import box_downsampling

    physics = box_downsampling(dinv, 3, img_size=(1, 9, 12), noise_model=dinv.physics.ZeroNoise(), device="cpu")
    values = physics.mask[physics.mask != 0]
    assert values.numel() == 3 * 4 and torch.allclose(values, torch.full_like(values, 1 / 3))
    # AᵀA = V diag(s²) Vᵀ: a constant block is kept with gain 1/9, a zero-mean one is erased
    x = torch.zeros(1, 1, 9, 12)
    x[..., :3, :3] = 1.0
    x[..., 3:6, :3] = torch.tensor([[1.0, -1.0, 0.0]] * 3)
    assert torch.allclose(physics.A_adjoint_A(x)[..., :3, :3], torch.full((3, 3), 1 / 9), atol=1e-6)
    assert float(physics.A_adjoint_A(x)[..., 3:6, :3].abs().max()) < 1e-6


def test_a_different_forward_model_and_operators_without_an_svd_are_refused():
    dinv = pytest.importorskip("deepinv", reason=NEEDS_DEEPINV)
    from scoreinv.bench.peer_physics import PeerUnsupported, check_forward, svd_physics

    shape = (1, 1, 32, 32)
    blur = ops.Blur(ops.gaussian_kernel(1.5, 9))
    shifted = dinv.physics.BlurFFT(img_size=shape[1:], filter=blur.kernel.roll(1, -1).float()[None])  # one pixel off
    with pytest.raises(PeerUnsupported, match="differs"):
        check_forward(blur, shifted, shape)
    for operator in [ops.Blur(ops.gaussian_kernel(2.0, 9), boundary="zero"), ops.Downsample(2, filter="bicubic"),
                     ops.ParallelBeamCT.sparse_view((32, 32), 8)]:
        with pytest.raises(PeerUnsupported, match="singular value decomposition"):
            svd_physics(dinv, operator, sigma_y=0.0, x_shape=shape, device="cpu")


def test_ddrm_runs_where_an_svd_exists_only_and_untuned_peers_are_noted():
    names = {task: peers_for(get_task(task)) for task in ("inpaint-box", "deblur-gauss", "sr4", "ct-sparse")}
    assert all(names[task][0] == list(PEERS) for task in ("inpaint-box", "deblur-gauss", "sr4"))
    assert "ddrm" not in names["ct-sparse"][0]
    assert any("deepinv-ddrm not run on ct-sparse" in note and "singular value" in note for note in names["ct-sparse"][1])
    for task, (runs, notes) in names.items():
        untuned = [name for name in runs if tuned_row(name, get_task(task))[0] is None]
        assert [note for note in notes if "DeepInverse's defaults" in note] == [
            f"deepinv-{name} on {task} runs with DeepInverse's defaults: no tuned row for the "
            f"{get_task(task).family} family" for name in untuned]


def test_knobs_are_each_peers_own():
    assert check_knobs("diffpir", {"lambda": 3.0}) == {"lambda": 3.0, "zeta": PEERS["diffpir"].knobs["zeta"]}
    for name, knobs in [("ddrm", {"weight": 1.0}), ("dps", {"zeta": 1.0}), ("nope", {})]:
        with pytest.raises(InputError):
            check_knobs(name, knobs)
    grid = parse_grid(["lambda=1,7", "zeta=0.3"], peer="diffpir")
    assert grid == [{}, {"lambda": 1.0, "zeta": 0.3}, {"lambda": 7.0, "zeta": 0.3}]
    assert parse_grid(["eta-b=0.5", "steps=20"], peer="ddrm") == [{}, {"eta_b": 0.5, "steps": 20}]
    with pytest.raises(InputError):
        parse_grid(["lambda=1"], peer="ddrm")
    with pytest.raises(InputError):
        parse_grid(["weight=1"])  # not a reconstruct setting


def test_dpir_schedule_is_geometric_with_deepinvs_step_rule():
    sigmas, steps = dpir_schedule(5, sigma_y=0.0, sigma_start=0.2, sigma_end=None, prior_weight=0.25)
    assert sigmas[0] == pytest.approx(0.2) and sigmas[-1] == pytest.approx(0.01)  # noiseless: ends at the 0.01 floor
    ratios = [b / a for a, b in zip(sigmas, sigmas[1:])]
    assert max(ratios) == pytest.approx(min(ratios))
    assert steps == pytest.approx([(s / 0.01) ** 2 / 0.25 for s in sigmas])
    sigmas, _ = dpir_schedule(3, sigma_y=0.05, sigma_start=0.5, sigma_end=None, prior_weight=0.23)
    assert sigmas[-1] == pytest.approx(0.05)
    with pytest.raises(InputError):
        dpir_schedule(3, sigma_y=0.0, sigma_start=0.5, sigma_end=0.0, prior_weight=0.23)


def check_row(name: str, task: str, row: TunedRow) -> None:
    """A tuned row's discipline: its set is a validation set (never reported), its command is a ``bench tune
    --peer`` run of this peer and task on that set, and its values are a point of that command's grid."""
    from scoreinv.cli.bench import tune_command

    assert row.tuned_on not in REPORTED_SETS, f"{name} on {task} was tuned on a reported set: {row.tuned_on}"
    refuse_reported(row.tuned_on)
    words = shlex.split(row.command)
    if words[:3] == ["python", "-m", "scoreinv.bench.tune_dps"]:  # DPS's sweep on one BSDS500 training image
        from scoreinv.bench.tune_dps import TRAIN_IMAGE, parse_args

        args = parse_args(words[3:])
        assert (name, row.tuned_on, row.steps) == ("dps", "bsds500-train", 1000) and "train" in TRAIN_IMAGE
        assert task in args.tasks.split(",") and row.knobs["weight"] in [float(w) for w in args.weights.split(",")]
        return
    assert words[:3] == ["scoreinv", "bench", "tune"], row.command
    params = tune_command.make_context("tune", words[3:]).params
    assert (params["peer"], params["task_name"], params["data"]) == (name, task, row.tuned_on), row.command
    refuse_reported(params["data"])
    # the row is a point its command tried (the empty point: DeepInverse's defaults at the usual NFE)
    steps = params["peer_steps"] or PEERS[name].usual_nfe
    tried = [(check_knobs(name, {k: v for k, v in point.items() if k != "steps"}), point.get("steps", steps))
             for point in parse_grid(list(params["grid"]), peer=name)]
    assert (check_knobs(name, row.knobs), row.steps) in tried, f"{name} on {task}: not a point of {row.command}"
    assert task in TASKS


def test_every_tuned_row_names_a_validation_set_and_its_command():
    assert TUNED, "the tuned table is empty"
    for (name, task), row in TUNED.items():
        check_row(name, task, row)
    reported = TunedRow(knobs={"weight": 1.0}, steps=10, tuned_on="set12",
                        command="scoreinv bench tune --peer dps --task sr4 --data set12")
    with pytest.raises((AssertionError, InputError)):
        check_row("dps", "sr4", reported)
    hidden = TunedRow(knobs={"weight": 1.0}, steps=10, tuned_on="bsd68",
                      command="scoreinv bench tune --peer dps --task sr4 --data ../shared/data/cbsd68")
    with pytest.raises((AssertionError, InputError)):
        check_row("dps", "sr4", hidden)


def test_a_task_without_a_row_borrows_its_familys():
    for (name, task), row in TUNED.items():
        family = TASKS[task].family
        for other in [t for t in TASKS if TASKS[t].family == family and (name, t) not in TUNED]:
            borrowed, source = tuned_row(name, get_task(other))
            assert borrowed is not None and TASKS[source].family == family
        assert tuned_row(name, get_task(task)) == (row, task)
    assert tuned_row("diffpir", get_task("ct-sparse")) == (None, None)


@pytest.fixture
def validation(tmp_path):
    folder = tmp_path / "val"
    folder.mkdir()
    for i in range(2):
        skimage.io.imsave(str(folder / f"{i}.png"), smooth_picture(24, 28, seed=i), check_contrast=False)
    return folder


@pytest.mark.parametrize("peer, grid, nfe", [("dps", ["weight=100,300"], 2), ("diffpir", ["lambda=1,7"], 3),
                                              ("ddrm", ["eta=0.5", "eta_b=0.5,1"], 3), ("dpir", ["steps=2,4"], None)])
def test_tune_runs_a_peer_on_16px_crops(peer, grid, nfe, validation, tiny_priors):
    pytest.importorskip("deepinv", reason=NEEDS_DEEPINV)
    points = parse_grid(grid, peer=peer)
    candidates = tune("inpaint-random", points, data=str(validation), limit=2, prior=str(tiny_priors["gray"]),
                      device="cpu", peer=peer, peer_steps=3, crop=16)
    assert [c.overrides for c in candidates] == points and all(c.psnr is not None and c.psnr > 0 for c in candidates)
    expected = [nfe] * len(points) if nfe else [3, 2, 4]  # DPS's ancestral solver never calls D at its last step
    assert [c.nfe for c in candidates] == expected


def test_the_tune_command_prints_the_best_point_of_the_grid(cli, validation, tiny_priors, tmp_path):
    pytest.importorskip("deepinv", reason=NEEDS_DEEPINV)
    page = tmp_path / "tuning.md"
    page.write_text("# t\n<!-- begin peers-sr4 -->\nold\n<!-- end peers-sr4 -->\nkept\n")
    result = ok(cli("bench", "tune", "--peer", "diffpir", "--task", "sr4", "--data", validation, "--limit", "2",
                    "--crop", "16", "--peer-steps", "3", "--grid", "lambda=0.5,30", "--grid", "zeta=0.2,1",
                    "--prior", tiny_priors["gray"], "--device", "cpu", "--markdown", page, "--section", "peers-sr4"))
    rows = re.findall(r"^\| (.+?) \| \**([\d.]+)\** \|", result.stdout, re.M)
    assert len(rows) == 5 and rows[0][0] == "DeepInverse's defaults"
    top = max(rows, key=lambda r: float(r[1]))[0]
    assert f"best: {top}" in result.stdout
    text = page.read_text()
    assert "old" not in text and text.endswith("kept\n") and f"Best: {top}." in text
    assert "scoreinv bench tune --peer diffpir --task sr4 --grid lambda=0.5,30 --grid zeta=0.2,1 --data" in text
    assert "--limit 2 --peer-steps 3 --crop 16 --seed 0" in text


def test_without_deepinv_the_peer_commands_print_one_note(cli, monkeypatch, validation):
    from scoreinv.bench.peers import SKIP_NOTE, skip_note

    monkeypatch.setitem(sys.modules, "deepinv", None)
    assert skip_note() == SKIP_NOTE
    result = ok(cli("bench", "tune", "--peer", "dpir", "--task", "sr4", "--data", validation))
    assert result.stdout.strip() == SKIP_NOTE
