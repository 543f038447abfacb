"""``scoreinv bench tasks`` and ``scoreinv bench merge`` end to end on small generated pictures with tiny random
priors: outputs, one table row per task × method, per-image rows, shards merged = one run, one-line errors,
notes for absent peers and LPIPS, and the DeepInverse adapter's plumbing (against a stand-in module)."""
from __future__ import annotations

import csv
import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import skimage.io
import torch
from click.testing import CliRunner

from scoreinv.baselines import BASELINES
from scoreinv.bench.options import parse_shard, shard_from_env, shard_indices
from scoreinv.bench.peers import DPS_WEIGHT
from scoreinv.bench.report import merge_records
from scoreinv.cli import main
from scoreinv.errors import InputError
from scoreinv.io.figures import GAP, LABEL_HEIGHT
from scoreinv.io.images import read_image
from scoreinv.metrics.quality import psnr
from scoreinv.problems.tasks import TASKS, get_task, simulate
from scoreinv.solve.rows import row_of
from scoreinv.solve.settings import ROWS

from cli_checks import make_reconstruct_diverge, ok, one_line_error
from conftest import smooth_picture

GREY_TASKS = "inpaint-random,deblur-gauss,sr4"


def default(task: str) -> str:
    """The bench's name of scoreinv's default method for ``task`` (from the one table of defaults)."""
    return "scoreinv-" + ROWS[row_of(TASKS[task].build((1, 1, 64, 64), 0, torch.Generator()))].settings.method


GREY_METHODS = {"inpaint-random": [name for name, _ in BASELINES["inpaint"]] + [default("inpaint-random")],
                "deblur-gauss": [name for name, _ in BASELINES["deblur"]] + [default("deblur-gauss")],
                "sr4": ["bicubic", default("sr4")]}
FAST = ["--steps", "4", "--device", "cpu", "--quiet"]


def invoke(*args, env=None):
    """Run ``scoreinv ARGS`` in-process; click's Result."""
    return CliRunner().invoke(main, [str(a) for a in args], env=env)




def pictures(folder: Path, count: int = 3) -> Path:
    """``count`` smooth grey 32 × 40 PNGs in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        skimage.io.imsave(str(folder / f"pic{i}.png"), smooth_picture(32, 40, seed=i), check_contrast=False)
    return folder


def ct_slices(folder: Path, count: int = 2) -> Path:
    """``count`` 16-bit CT PNGs (HU + 1024), 32 × 32: air, a water-like disc, a bone-like spot."""
    folder.mkdir(parents=True, exist_ok=True)
    v, u = np.mgrid[-16:16, -16:16]
    for i in range(count):
        hu = np.full((32, 32), 1024 - 1000, np.uint16)
        hu[np.hypot(v, u + i) < 12] = 1024 + 30
        hu[np.hypot(v - 3, u - 2 + i) < 4] = 1024 + 700
        skimage.io.imsave(str(folder / f"slice{i}.png"), hu, check_contrast=False)
    return folder


def rows_of(out: Path) -> list:
    return json.loads((out / "results.json").read_text())["rows"]


def table_rows(markdown: str) -> list:
    """The body rows of the Markdown table in ``markdown`` as lists of cells."""
    lines = [line for line in markdown.splitlines() if line.startswith("| ") and not line.startswith("| task ")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines if "---" not in line]


def metrics_key(rows: list) -> list:
    return [(r["task"], r["method"], r["index"], r["image"], r["psnr"], r["ssim"], r["lpips"]) for r in rows]


@pytest.fixture(scope="module")
def grey_run(tiny_priors, tmp_path_factory):
    """One unsharded run of three grey tasks on three pictures: (data folder, output folder, Result)."""
    root = tmp_path_factory.mktemp("bench")
    data = pictures(root / "data")
    result = ok(invoke("bench", "tasks", "--tasks", GREY_TASKS, "--data", data, "--prior", tiny_priors["gray"],
                       "--out", root / "all", *FAST))
    return data, root / "all", result


def test_grey_tasks_end_to_end(grey_run):
    data, out, result = grey_run
    assert sorted(p.name for p in out.iterdir()) == ["figure.png", "results.csv", "results.json", "summary.md"]
    record = json.loads((out / "results.json").read_text())
    assert {"command", "date", "machine", "settings", "rows", "notes", "summary"} <= set(record)
    assert record["command"].startswith("scoreinv bench tasks --tasks inpaint-random,deblur-gauss,sr4")
    assert {"platform", "cpu_count", "torch"} <= set(record["machine"])
    assert record["settings"]["steps"] == 4 and record["shards"] == [[0, 1]]
    expected = [(task, method) for task, methods in GREY_METHODS.items() for method in methods]

    # One table row per task × method, printed and written
    for text in (result.stdout, (out / "summary.md").read_text()):
        assert [(row[0], row[1].replace(" (default)", "")) for row in table_rows(text)] == expected
        assert all(row[2] == "3" for row in table_rows(text))
    with open(out / "results.csv", newline="") as f:
        csv_rows = list(csv.DictReader(f))
    assert len(csv_rows) == len(record["rows"]) == 3 * len(expected)

    # Real values: finite metrics, NFE only for the sampler, the default flagged, baselines beat the measurement
    for row in record["rows"]:
        assert 5 < row["psnr"] < 60 and 0 <= row["ssim"] <= 1 and row["seconds"] >= 0 and row["peak_mb"] >= 0
        assert (row["nfe"] > 0) == (row["kind"] == "scoreinv") and row["default"] == (row["kind"] == "scoreinv")
        assert row["lpips"] is None or row["lpips"] >= 0
    assert record["method_settings"]["sr4"][default("sr4")]["steps"] == 4
    for task, baseline in (("inpaint-random", "biharmonic"), ("deblur-gauss", "wiener")):
        for index in range(3):
            image = read_image(data / f"pic{index}.png", channels=1)
            _, y, truth = simulate(get_task(task), image, index=index, seed=0)
            row = next(r for r in record["rows"] if (r["task"], r["method"], r["index"]) == (task, baseline, index))
            assert row["psnr"] > float(psnr(y[0].clamp(0, 1), truth[0])) + 1

    # The figure: one row per task of the first picture, five panels each
    figure = skimage.io.imread(str(out / "figure.png"))
    assert figure.shape[0] == 3 * (32 + LABEL_HEIGHT) + 2 * GAP
    assert figure.shape[1] == 5 * 40 + 4 * GAP


def test_ct_task(tiny_priors, tmp_path):
    data = ct_slices(tmp_path / "ct")
    result = ok(invoke("bench", "tasks", "--tasks", "ct-sparse", "--data", data, "--prior", tiny_priors["ct"],
                       "--out", tmp_path / "out", *FAST))
    assert [(row[0], row[1]) for row in table_rows(result.stdout)] == [
        ("ct-sparse", "fbp"), ("ct-sparse", "cgls"), ("ct-sparse", "sirt"), ("ct-sparse", "tv"),
        ("ct-sparse", default("ct-sparse") + " (default)")]
    rows = rows_of(tmp_path / "out")
    assert len(rows) == 10 and {r["image"] for r in rows} == {"slice0", "slice1"}
    for index in range(2):
        fbp, tv = (next(r for r in rows if r["index"] == index and r["method"] == m) for m in ("fbp", "tv"))
        assert tv["psnr"] > fbp["psnr"] > 15  # TV removes FBP's streaks on these piecewise-constant slices
    figure = skimage.io.imread(str(tmp_path / "out" / "figure.png"))
    assert figure.shape[0] == 32 + LABEL_HEIGHT  # one task row; the sinogram panel is as tall as the image


def test_shards_merged_equal_one_run(grey_run, tiny_priors, tmp_path):
    data, whole, _ = grey_run
    for i in range(2):
        ok(invoke("bench", "tasks", "--tasks", GREY_TASKS, "--data", data, "--prior", tiny_priors["gray"],
                  "--shard", f"{i}/2", "--out", tmp_path / f"part{i}", *FAST))
    assert {r["index"] for r in rows_of(tmp_path / "part0")} == {0, 2}
    assert {r["index"] for r in rows_of(tmp_path / "part1")} == {1}
    assert not (tmp_path / "part1" / "figure.png").exists()  # the figure's picture (index 0) is in part 0
    result = ok(invoke("bench", "merge", tmp_path / "part1", tmp_path / "part0" / "results.json",
                       "-o", tmp_path / "merged"))
    assert metrics_key(rows_of(tmp_path / "merged")) == metrics_key(rows_of(whole))
    assert table_rows(result.stdout)[0][:3] == ["inpaint-random", "biharmonic", "3"]
    merged = json.loads((tmp_path / "merged" / "results.json").read_text())
    assert merged["shards"] == [[0, 2], [1, 2]] and merged["notes"] == []
    assert (tmp_path / "merged" / "figure.png").is_file()
    methods = sum(len(m) for m in GREY_METHODS.values())  # 7, or 8 with bm3d installed
    assert len((tmp_path / "merged" / "results.csv").read_text().splitlines()) == 1 + 3 * methods


def test_a_merged_table_is_stamped_with_its_parts_runs(grey_run, tmp_path):
    _, whole, _ = grey_run
    record = json.loads((whole / "results.json").read_text())
    assert record["machine"]["commit"] and "torch_threads" in record["machine"]
    earlier = {**record, "date": "2026-01-02T03:04:00+00:00",
               "machine": {**record["machine"], "commit": "abc1234", "torch_threads": 7}}
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "results.json").write_text(json.dumps(earlier))
    page = tmp_path / "page.md"
    page.write_text("# page\n<!-- begin t -->\nold\n<!-- end t -->\n")
    ok(invoke("bench", "merge", tmp_path / "old", "-o", tmp_path / "merged", "--markdown", page, "--section", "t"))
    stamp = page.read_text().split("\n\n")[1]
    assert stamp.startswith("Run part 1: 2026-01-02 03:04 UTC;") and "torch threads: 7" in stamp
    assert "commit abc1234" in stamp and "Merged " in stamp


def test_merge_extends_a_limited_run_with_later_images(grey_run, tiny_priors, tmp_path):
    data, whole, _ = grey_run
    common = ("bench", "tasks", "--tasks", GREY_TASKS, "--data", data, "--prior", tiny_priors["gray"])
    ok(invoke(*common, "--limit", "2", "--out", tmp_path / "first2", *FAST))
    ok(invoke(*common, "--limit", "3", "--shard", "2/3", "--out", tmp_path / "third", *FAST))
    ok(invoke("bench", "merge", tmp_path / "first2", tmp_path / "third", "-o", tmp_path / "merged"))
    assert metrics_key(rows_of(tmp_path / "merged")) == metrics_key(rows_of(whole))
    assert json.loads((tmp_path / "merged" / "results.json").read_text())["settings"]["limit"] == 3


def test_merge_refuses_overlap_and_other_settings(grey_run, tmp_path):
    _, whole, _ = grey_run
    one_line_error(invoke("bench", "merge", whole, whole, "-o", tmp_path / "m"), "in both")
    record = json.loads((whole / "results.json").read_text())
    other = {**record, "settings": {**record["settings"], "seed": 7}, "rows": []}
    with pytest.raises(InputError, match="seed"):
        merge_records([record, other], ["a", "b"], command="x")
    one_line_error(invoke("bench", "merge", tmp_path / "nothing", "-o", tmp_path / "m"), "no results.json")
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("spec", ["2/2", "1", "a/b", "-1/2", "0/0"])
def test_bad_shard_spec_is_one_line(tiny_priors, tmp_path, spec):
    data = pictures(tmp_path / "data", 1)
    one_line_error(invoke("bench", "tasks", "--data", data, "--prior", tiny_priors["gray"], "--shard", spec,
                          "--out", tmp_path / "out", *FAST), "--shard takes i/n")
    assert not (tmp_path / "out").exists()


def test_unknown_task_and_data_are_one_line(tiny_priors, tmp_path):
    data = pictures(tmp_path / "data", 1)
    one_line_error(invoke("bench", "tasks", "--tasks", "inpaint-random,denoise", "--data", data, "--out",
                          tmp_path / "out", *FAST), "unknown task 'denoise'")
    one_line_error(invoke("bench", "tasks", "--data", tmp_path / "nowhere", "--out", tmp_path / "out", *FAST),
                   "not a test set")
    one_line_error(invoke("bench", "tasks", "--data", data, "--out", data, *FAST), "is the --data folder")
    assert not (tmp_path / "out").exists()


def test_torchrun_environment_selects_the_shard(tiny_priors, tmp_path):
    data = pictures(tmp_path / "data", 3)
    result = ok(invoke("bench", "tasks", "--tasks", "inpaint-box", "--data", data, "--prior", tiny_priors["gray"],
                       "--out", tmp_path / "out", *FAST, env={"RANK": "1", "WORLD_SIZE": "2"}))
    part = tmp_path / "out" / "shard-1-of-2"
    assert {r["index"] for r in rows_of(part)} == {1} and "bench merge" in result.stderr


def test_missing_peers_and_lpips_are_notes(tiny_priors, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "deepinv", None)  # import deepinv raises ImportError
    monkeypatch.setenv("SCOREINV_LPIPS_WEIGHTS", str(tmp_path / "no-such-weights.pth"))
    data = pictures(tmp_path / "data", 1)
    result = ok(invoke("bench", "tasks", "--tasks", "inpaint-random", "--data", data, "--prior",
                       tiny_priors["gray"], "--peers", "--out", tmp_path / "out", *FAST))
    assert "note: peers skipped: deepinv not installed (pip install scoreinv[peers])" in result.stderr
    assert "LPIPS not computed" in result.stderr
    record = json.loads((tmp_path / "out" / "results.json").read_text())
    assert {r["method"] for r in record["rows"]} == {name for name, _ in BASELINES["inpaint"]} | {default("inpaint-random")}
    assert all(r["lpips"] is None and r["psnr"] is not None for r in record["rows"])
    assert any("deepinv not installed" in note for note in record["notes"])
    assert "deepinv not installed" in (tmp_path / "out" / "summary.md").read_text()
    assert all(row[5] == "n/a" for row in table_rows(result.stdout))


def test_all_methods_and_samples(tiny_priors, tmp_path):
    from scoreinv.sampling.methods import METHODS

    data = pictures(tmp_path / "data", 1)
    result = ok(invoke("bench", "tasks", "--tasks", "deblur-gauss", "--data", data, "--prior", tiny_priors["gray"],
                       "--all-methods", "--samples", "2", "--out", tmp_path / "out", *FAST))
    record = json.loads((tmp_path / "out" / "results.json").read_text())
    scored = [r for r in record["rows"] if r["kind"] == "scoreinv"]
    assert [r["method"] for r in scored] == [f"scoreinv-{name}" for name in METHODS]
    assert sum(r["default"] for r in scored) == 1
    for row in scored:
        assert row["nfe"] == 2 * record["method_settings"]["deblur-gauss"][row["method"]]["nfe_per_sample"]
    assert len(table_rows(result.stdout)) == len(BASELINES["deblur"]) + len(METHODS)


def test_sample_target_scores_the_sample_rows_draw_on_crops(tiny_priors, tmp_path):
    """--target sample runs each task's posterior-sample row (its own method and NFE), and the scored draw is the
    one reconstruct(target="sample") returns for the same measurement; --crop scores centre crops."""
    from scoreinv import reconstruct
    from scoreinv.priors.registry import load_prior
    from scoreinv.solve.settings import SAMPLE_ROWS

    data = tmp_path / "data"
    data.mkdir()
    skimage.io.imsave(str(data / "pic0.png"), smooth_picture(48, 56), check_contrast=False)
    ok(invoke("bench", "tasks", "--tasks", "inpaint-box,sr4", "--data", data, "--prior", tiny_priors["gray"],
              "--target", "sample", "--crop", "40", "--no-figure-std", "--out", tmp_path / "out", "--device", "cpu",
              "--quiet"))
    record = json.loads((tmp_path / "out" / "results.json").read_text())
    assert record["settings"]["target"] == "sample" and record["settings"]["crop"] == 40
    assert "--target sample" in record["command"] and "--crop 40" in record["command"]
    assert "--no-figure-std" in record["command"] and (tmp_path / "out" / "figure.png").is_file()
    image = read_image(str(data / "pic0.png"), channels=1)[:, 4:44, 8:48]
    denoiser = load_prior(tiny_priors["gray"], device="cpu")
    for task in ("inpaint-box", "sr4"):
        row = SAMPLE_ROWS[row_of(TASKS[task].build((1, 1, 64, 64), 0, torch.Generator()))].settings
        scored = next(r for r in record["rows"] if r["task"] == task and r["kind"] == "scoreinv")
        assert scored["method"] == f"scoreinv-{row.method}-sample" and scored["nfe"] == row.steps
        operator, y, truth = simulate(get_task(task), image, index=0, seed=0)
        draw = reconstruct(y, operator, prior=denoiser, target="sample", seed=0, device="cpu").mean
        assert scored["psnr"] == pytest.approx(float(psnr(draw[0], truth[0])), abs=1e-3)


def test_crop_larger_than_the_images_is_one_line(tiny_priors, tmp_path):
    data = pictures(tmp_path / "data", 1)
    one_line_error(invoke("bench", "tasks", "--tasks", "sr4", "--data", data, "--prior", tiny_priors["gray"],
                          "--crop", "64", "--out", tmp_path / "out", *FAST), "--crop 64")
    assert not (tmp_path / "out").exists()


def fake_deepinv() -> types.ModuleType:
    """A stand-in for DeepInverse with the documented call shapes of DPS, DiffPIR, Denoiser and LinearPhysics."""
    dinv = types.ModuleType("deepinv")
    dinv.__version__ = "0-test"

    class LinearPhysics(torch.nn.Module):
        def __init__(self, A=None, A_adjoint=None, img_size=None, noise_model=None, device="cpu", **kwargs):
            super().__init__()
            self.A, self.A_adjoint, self.noise_model = A, A_adjoint, noise_model

    class DPS:
        weights = []  # every weight it was built with

        def __init__(self, denoiser, num_steps=1000, device="cpu", rng=None, weight=1.0, **kwargs):
            self.denoiser, self.num_steps = denoiser, num_steps
            DPS.weights.append(weight)

        def __call__(self, y, physics, x_init=None, seed=None):
            x = physics.A_dagger(y)
            for _ in range(self.num_steps):
                x = self.denoiser(x, torch.tensor([0.1]))
            return x

    class DiffPIR:
        def __init__(self, model, data_fidelity, sigma=0.05, max_iter=100, device="cpu", **kwargs):
            self.model, self.max_iter = model, max_iter

        def __call__(self, y, physics, seed=None):
            x = physics.A_adjoint(y)
            for _ in range(self.max_iter):
                x = physics.prox_l2(self.model(x, 0.1), y, 1.0 / physics.noise_model.sigma ** 2)
            return x

    dinv.models = types.SimpleNamespace(Denoiser=torch.nn.Module)
    dinv.physics = types.SimpleNamespace(LinearPhysics=LinearPhysics,
                                         GaussianNoise=lambda sigma: types.SimpleNamespace(sigma=sigma))
    dinv.optim = types.SimpleNamespace(data_fidelity=types.SimpleNamespace(L2=lambda: None))
    dinv.sampling = types.SimpleNamespace(DPS=DPS, DiffPIR=DiffPIR)
    return dinv


def test_peers_run_through_the_deepinv_interface(tiny_priors, tmp_path, monkeypatch):
    dinv = fake_deepinv()
    monkeypatch.setitem(sys.modules, "deepinv", dinv)
    data = pictures(tmp_path / "data", 1)
    ok(invoke("bench", "tasks", "--tasks", "inpaint-random", "--data", data, "--prior", tiny_priors["gray"],
              "--peers", "--peer-steps", "3", "--out", tmp_path / "out", *FAST))
    record = json.loads((tmp_path / "out" / "results.json").read_text())
    peers = {r["method"]: r for r in record["rows"] if r["kind"] == "peer"}
    assert sorted(peers) == ["deepinv-diffpir", "deepinv-dps"] and all(r["nfe"] == 3 for r in peers.values())
    # the fake DeepInverse has no DDRM or HQS: those two peers are dropped, each with its one-line note
    assert record["deepinv"] == "0-test" and len(record["notes"]) == 2
    assert all(note.startswith(("deepinv-ddrm failed", "deepinv-dpir failed")) for note in record["notes"])
    dps_settings = record["method_settings"]["inpaint-random"]["deepinv-dps"]
    assert dps_settings["steps"] == 3
    # the tuned weight of the task's family reaches DeepInverse's DPS and is recorded
    assert dinv.sampling.DPS.weights == [DPS_WEIGHT["inpaint"]] == [dps_settings["knobs"]["weight"]]
    assert dps_settings["tuned_on"] == "bsd68 (inpaint-random)"


def test_a_failing_peer_is_dropped_with_a_note(tiny_priors, tmp_path, monkeypatch):
    dinv = fake_deepinv()

    class BrokenDPS:
        def __init__(self, denoiser, **kwargs):
            pass

        def __call__(self, *args, **kwargs):
            raise RuntimeError("incompatible deepinv\nsecond line")

    dinv.sampling.DPS = BrokenDPS
    monkeypatch.setitem(sys.modules, "deepinv", dinv)
    data = pictures(tmp_path / "data", 2)
    result = ok(invoke("bench", "tasks", "--tasks", "sr4", "--data", data, "--prior", tiny_priors["gray"], "--peers",
                       "--peer-steps", "2", "--out", tmp_path / "out", *FAST))
    record = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [r["method"] for r in record["rows"] if r["index"] == 1] == ["bicubic", default("sr4"), "deepinv-diffpir"]
    assert "deepinv-dps failed on sr4 (image 0) and was dropped: incompatible deepinv" in record["notes"]
    assert "note: deepinv-dps failed" in result.stderr


def test_a_diverged_sampler_gives_null_metrics_and_a_note(tiny_priors, tmp_path, monkeypatch):
    make_reconstruct_diverge(monkeypatch)
    data = pictures(tmp_path / "data", 1)
    ok(invoke("bench", "tasks", "--tasks", "inpaint-box", "--data", data, "--prior", tiny_priors["gray"],
              "--out", tmp_path / "out", *FAST))
    record = json.loads((tmp_path / "out" / "results.json").read_text())
    scored = next(r for r in record["rows"] if r["method"] == default("inpaint-box"))
    assert scored["psnr"] is None and scored["nfe"] == 4
    assert next(r for r in record["rows"] if r["method"] == "biharmonic")["psnr"] > 10
    assert any("diverged" in note for note in record["notes"])
    assert (tmp_path / "out" / "figure.png").is_file()


def test_shard_helpers():
    assert parse_shard("1/4") == (1, 4) and parse_shard(" 0/1 ") == (0, 1)
    assert shard_indices(10, (1, 4)) == [1, 5, 9] and shard_indices(2, (3, 4)) == []
    assert shard_from_env({"RANK": "2", "WORLD_SIZE": "3"}) == (2, 3)
    assert shard_from_env({"RANK": "0", "WORLD_SIZE": "1"}) is None and shard_from_env({}) is None
    with pytest.raises(InputError):
        shard_from_env({"RANK": "3", "WORLD_SIZE": "3"})


def test_dps_weight_sweep_prints_one_row_a_run(tiny_priors, monkeypatch, capsys):
    from scoreinv.bench import tune_dps
    from scoreinv.io.paths import shared_dir

    if shared_dir() is None or not (shared_dir() / "data" / tune_dps.TRAIN_IMAGE).exists():
        pytest.skip("needs ../shared/data/bsds500/train (the training image the sweep tunes on)")
    dinv = fake_deepinv()
    monkeypatch.setitem(sys.modules, "deepinv", dinv)
    tune_dps.main(["--tasks", "sr4,inpaint-random", "--weights", "10,20", "--size", "16", "--steps", "2",
                   "--prior", str(tiny_priors["gray"])])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["task"], r["weight"]) for r in rows] == [("sr4", 10), ("sr4", 20), ("inpaint-random", 10),
                                                        ("inpaint-random", 20)]
    assert all(r["nfe"] == 2 and r["steps"] == 2 and np.isfinite(r["psnr"]) for r in rows)
    assert dinv.sampling.DPS.weights == [10, 20, 10, 20]


def test_peers_run_with_the_real_deepinv(tiny_priors, tmp_path):
    dinv = pytest.importorskip("deepinv", reason="the peers need deepinv (pip install scoreinv[peers])")
    data = pictures(tmp_path / "data", 1)
    ok(invoke("bench", "tasks", "--tasks", "inpaint-random", "--data", data, "--prior", tiny_priors["gray"],
              "--peers", "--peer-steps", "3", "--out", tmp_path / "out", *FAST))
    record = json.loads((tmp_path / "out" / "results.json").read_text())
    peers = {r["method"]: r for r in record["rows"] if r["kind"] == "peer"}
    assert sorted(peers) == ["deepinv-ddrm", "deepinv-diffpir", "deepinv-dpir", "deepinv-dps"], record["notes"]
    assert record["deepinv"] == dinv.__version__ and record["notes"] == []
    assert all(1 <= r["nfe"] <= 3 and r["psnr"] is not None for r in peers.values())
