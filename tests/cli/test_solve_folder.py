"""``scoreinv solve`` on several images: a folder or several files, one output set each named after the input's stem
and equal to the single-image run with the same seed, a summary CSV (rewritten as images complete), failures
recorded and the batch continued, the output folder made or refused, shards (--shard and RANK / WORLD_SIZE, also
as two real processes) that split the images and join to the whole."""
from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cli_checks import ok
from conftest import smooth_picture
from hostile_scene import refused, snapshot
from scoreinv.cli.solve_many import COLUMNS, torchrun_device

REPO = Path(__file__).resolve().parents[2]
STEMS = ("a", "b", "c")
FAST = ["--steps", "2", "--quiet"]


def digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def rows(path: Path) -> list:
    with open(path, newline="") as file:
        reader = csv.DictReader(file)
        assert tuple(reader.fieldnames) == COLUMNS
        return list(reader)


@pytest.fixture
def folder(tmp_path) -> Path:
    """in/a.png, in/b.png, in/c.png: three different 24x24 grey pictures; returns in/ (the tests run in tmp_path)."""
    (tmp_path / "in").mkdir()
    for seed, stem in enumerate(STEMS):
        Image.fromarray(smooth_picture(24, 24, seed=seed)).save(tmp_path / "in" / f"{stem}.png")
    return Path("in")


@pytest.fixture
def solve(cli, tiny_priors):
    """solve(*inputs_and_options, env=None): ``scoreinv solve --task inpaint --simulate`` with the tiny grey prior."""
    return lambda *args, env=None: cli("solve", "--task", "inpaint", "--simulate", "--prior", tiny_priors["gray"],
                                       *FAST, *args, env=env)


def test_a_folder_gives_the_single_image_results_and_a_summary(solve, folder, tmp_path):
    before = {name: digest(tmp_path / folder / name) for name in os.listdir(tmp_path / folder)}
    result = ok(solve(folder, "-o", "out", "--seed", "5"))
    assert "3 images in" in result.output and "3 restored, 0 failed" in result.output
    table = rows(tmp_path / "out" / "summary.csv")
    assert [Path(row["input"]).name for row in table] == ["a.png", "b.png", "c.png"]
    for stem, row in zip(STEMS, table):
        ok(solve(folder / f"{stem}.png", "-o", f"single_{stem}.png", "--seed", "5"))
        assert digest(tmp_path / "out" / f"{stem}_restored.png") == digest(tmp_path / f"single_{stem}.png")
        record = json.loads((tmp_path / "out" / f"{stem}_restored.json").read_text())
        single = json.loads((tmp_path / f"single_{stem}.json").read_text())
        assert record["metrics"] == single["metrics"] and record["settings"] == single["settings"]
        assert row["status"] == "ok" and row["message"] == "" and row["bits"] == "8"
        assert Path(row["output"]) == Path("out") / f"{stem}_restored.png" and Path(row["json"]).is_file()
        assert float(row["psnr"]) == record["metrics"]["psnr"] and int(row["nfe"]) == record["nfe"]
        assert float(row["sigma_y"]) == record["measurement"]["sigma_y"]
    digests = {digest(tmp_path / "out" / f"{stem}_restored.png") for stem in STEMS}
    assert len(digests) == 3                                               # three pictures, three results
    assert {name: digest(tmp_path / folder / name) for name in os.listdir(tmp_path / folder)} == before


def test_several_files_and_folders_mix_and_name_patterns(solve, folder, tmp_path):
    Image.fromarray(smooth_picture(24, 24, seed=9)).save(tmp_path / "d.png")
    ok(solve("d.png", folder, "-o", "res/{stem}-x.tif", "--std-map", "res/{stem}-std.png", "--samples", "2",
             "--json", "{stem}.json", "--summary", "all.csv"))
    names = sorted(os.listdir(tmp_path / "res"))
    assert names == sorted([f"{s}-x.tif" for s in ("d", *STEMS)] + [f"{s}-std.png" for s in ("d", *STEMS)])
    assert all((tmp_path / f"{s}.json").is_file() for s in ("d", *STEMS))
    assert [Path(row["input"]).stem for row in rows(tmp_path / "all.csv")] == ["d", *STEMS]  # command-line order
    assert Image.open(tmp_path / "res" / "a-x.tif").size == (24, 24)


def test_the_output_folder_is_made_only_under_an_existing_parent(solve, folder, tmp_path):
    ok(solve(folder, "-o", "new"))
    assert (tmp_path / "new" / "summary.csv").is_file()
    before = snapshot(tmp_path)
    refused(solve(folder, "-o", "no/such/out"), "parent folder no/such does not exist")
    refused(solve(folder, "-o", "in/a.png"), "is a file; with several inputs -o names an output folder")
    refused(solve(folder, "-o", "out.png"), "with several inputs -o names an output folder or a file name holding")
    refused(solve(folder, "-o", "{stem}/x.png"), "put {stem} in the file name")
    refused(solve(folder, "--std-map", "std.png", "--samples", "2"), "--std-map std.png: with several inputs")
    refused(solve(folder, "-o", "fresh", "--figure", "elsewhere/{stem}.png"), "elsewhere does not exist")
    refused(solve(folder, "-o", "fresh", "--summary", "s.txt"), "name a .csv file")
    refused(solve(folder, "-o", "fresh", "--shard", "2/2"), "--shard takes i/n")
    assert snapshot(tmp_path) == before                    # nothing written, no folder made, no temporary


def test_two_inputs_of_one_stem_or_an_input_as_output_are_refused_before_any_work(solve, folder, tmp_path):
    (tmp_path / "other").mkdir()
    Image.fromarray(smooth_picture(24, 24, seed=7)).save(tmp_path / "other" / "a.tif")
    Image.fromarray(smooth_picture(24, 24, seed=8)).save(tmp_path / "in" / "b_restored.png")
    before = snapshot(tmp_path)
    refused(solve(folder, "other/a.tif", "-o", "out"), "have the same stem 'a'")
    refused(solve(folder / "a.png", folder / "a.png", "-o", "out"), "have the same stem 'a'")
    refused(solve(folder, "-o", "in"), "is the input file; refusing to overwrite it")
    refused(solve(folder, "missing.png", "-o", "out"), "missing.png: no such file or folder")
    (tmp_path / "empty").mkdir()
    refused(solve("empty", "-o", "out"), "empty: is a folder holding no image")
    assert snapshot(tmp_path) == {**before, "empty": ("folder",)}


def test_a_failed_image_is_recorded_and_the_others_are_kept(solve, folder, tmp_path):
    (tmp_path / folder / "broken.png").write_text("not an image")
    result = solve(folder, "-o", "out", "--figure", "out/{stem}_fig.png")
    error = refused(result, "1 of 4 images failed (first in/broken.png: in/broken.png: not a readable image")
    assert "see out/summary.csv" in error
    assert "warning: nothing written for in/broken.png" in result.stderr
    table = {Path(row["input"]).stem: row for row in rows(tmp_path / "out" / "summary.csv")}
    assert table["broken"]["status"] == "error" and "not a readable image" in table["broken"]["message"]
    assert table["broken"]["output"] == "" and table["broken"]["psnr"] == ""
    assert all(table[stem]["status"] == "ok" for stem in STEMS)
    written = sorted(os.listdir(tmp_path / "out"))
    assert not [name for name in written if name.startswith(("broken", "."))]  # no partial set, no temporary
    assert len(written) == 3 * len(STEMS) + 1


def test_ctrl_c_stops_the_batch_and_the_csv_holds_the_images_done(solve, folder, tmp_path, monkeypatch):
    import scoreinv.solve.reconstruct as module

    real, calls = module.reconstruct, []

    def interrupted_at_the_second(*args, **kwargs):
        calls.append(rows(tmp_path / "out" / "summary.csv"))  # the CSV on disk as each image starts
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "reconstruct", interrupted_at_the_second)
    result = solve(folder, "-o", "out")
    assert result.exit_code == 130 and "Traceback" not in result.output
    assert [len(table) for table in calls] == [0, 1]
    assert [(Path(r["input"]).stem, r["status"]) for r in rows(tmp_path / "out" / "summary.csv")] == [("a", "ok")]
    assert sorted(os.listdir(tmp_path / "out")) == ["a_restored.json", "a_restored.png", "summary.csv"]


def test_shards_split_the_images_and_join_to_the_whole(solve, folder, tmp_path):
    ok(solve(folder, "-o", "whole", "--seed", "3"))
    ok(solve(folder, "-o", "parts", "--seed", "3", "--shard", "0/2"))
    result = ok(solve(folder, "-o", "parts", "--seed", "3", env={"RANK": "1", "WORLD_SIZE": "2"}))
    assert "1 image in" in result.output
    first, second = rows(tmp_path / "parts" / "summary.shard-0-of-2.csv"), \
        rows(tmp_path / "parts" / "summary.shard-1-of-2.csv")
    assert [Path(r["input"]).stem for r in first] == ["a", "c"] and [Path(r["input"]).stem for r in second] == ["b"]
    assert not (tmp_path / "parts" / "summary.csv").exists()
    for stem in STEMS:
        assert digest(tmp_path / "parts" / f"{stem}_restored.png") == digest(tmp_path / "whole" / f"{stem}_restored.png")
    ok(solve(folder, "-o", "many", "--shard", "3/4"))           # more shards than images: a header-only CSV
    assert rows(tmp_path / "many" / "summary.shard-3-of-4.csv") == []


def test_shards_of_one_image(solve, folder, tmp_path):
    refused(solve(folder / "a.png", "--shard", "0/2"), "--shard splits the images of a folder or of several INPUTs")
    refused(solve(folder / "a.png", "--summary", "s.csv"), "--summary applies to several INPUTs")
    result = ok(solve(folder / "a.png", env={"RANK": "1", "WORLD_SIZE": "2"}))
    assert "leaves it to process 0" in result.stderr and not (tmp_path / "a_restored.png").exists()
    ok(solve(folder / "a.png", env={"RANK": "0", "WORLD_SIZE": "2"}))
    assert (tmp_path / "a_restored.png").is_file()


@pytest.mark.slow
def test_two_processes_with_rank_and_world_size_share_one_folder(folder, tmp_path, tiny_priors):
    """What torchrun starts: two processes, RANK 0 and 1 of WORLD_SIZE 2, writing into one output folder at once."""
    known = np.full((24, 24), 255, np.uint8)
    known[5:12, 6:15] = 0
    Image.fromarray(known).save(tmp_path / "mask.png")
    command = [sys.executable, "-m", "scoreinv", "solve", "--task", "inpaint", "in", "--mask", "mask.png", "-o",
               "out", "--prior", str(tiny_priors["gray"]), *FAST]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2"}
    processes = [subprocess.Popen(command, cwd=tmp_path, env={**env, "RANK": str(rank), "LOCAL_RANK": str(rank)},
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for rank in (0, 1)]
    outcomes = [process.communicate(timeout=300) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outcomes
    done = [Path(r["input"]).stem for rank in (0, 1)
            for r in rows(tmp_path / "out" / f"summary.shard-{rank}-of-2.csv")]
    assert sorted(done) == list(STEMS)
    assert sorted(p.name for p in (tmp_path / "out").glob("*_restored.png")) == [f"{s}_restored.png" for s in STEMS]


def test_one_input_fills_stem_patterns_too(solve, folder, tmp_path):
    (tmp_path / "res").mkdir()
    ok(solve(folder / "b.png", "-o", "res/{stem}.tif", "--std-map", "res/{stem}_std.png", "--samples", "2"))
    assert sorted(os.listdir(tmp_path / "res")) == ["b.json", "b.tif", "b_std.png"]


def test_torchrun_device_gives_each_process_its_gpu():
    assert torchrun_device("cpu", {"LOCAL_RANK": "1"}) == "cpu"
    assert torchrun_device("auto", {}) == "auto"
    import torch

    expected = "cuda:1" if torch.cuda.is_available() and torch.cuda.device_count() > 1 else None
    if expected:
        assert torchrun_device("auto", {"LOCAL_RANK": "1"}) == expected
    else:
        assert torchrun_device("auto", {"LOCAL_RANK": "1"}) in ("auto", "cuda:0")
