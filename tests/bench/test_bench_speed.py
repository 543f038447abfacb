"""``scoreinv bench speed`` on tiny random priors and small sizes: the figures exist and are sane (no timing
thresholds: speed is reported by the benchmark, not tested)."""
from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from scoreinv.bench.flops import call_flops
from scoreinv.bench.speed import markdown_report, measure_speed, one_call_seconds, speed_problem
from scoreinv.cli.bench_speed import speed_command
from scoreinv.errors import InputError
from scoreinv.priors.registry import load_prior

POSITIVE = ("nfe", "seconds", "call_seconds", "network_seconds", "psnr_db", "steps", "call_gflop",
            "gflops_per_second")


def check_row(row: dict) -> None:
    for key in POSITIVE:
        assert math.isfinite(row[key]) and row[key] > 0, (key, row)
    assert math.isfinite(row["overhead_percent"]) and row["overhead_percent"] > -100
    assert row["network_seconds"] == pytest.approx(row["nfe"] * row["call_seconds"])
    assert row["overhead_percent"] == pytest.approx(100 * (row["seconds"] / row["network_seconds"] - 1))
    assert row["gflops_per_second"] == pytest.approx(row["call_gflop"] / row["call_seconds"])


@pytest.mark.slow
def test_measure_speed_every_family_with_tiny_priors(tiny_priors):
    lines = []
    report = measure_speed(str(tiny_priors["gray"]), ct_prior=str(tiny_priors["ct"]), size=32, memory_size=32,
                           repeats=2, device="cpu", log=lines.append)
    assert [row["family"] for row in report["rows"]] == ["inpaint", "deblur", "sr", "ct", "ct"]
    assert [row["task"] for row in report["rows"]] == ["inpaint-random", "deblur-gauss", "sr4", "ct-sparse",
                                                       "ct-limited"]
    for row in report["rows"]:
        check_row(row)
        assert row["size"] == "32x32" and row["channels"] == 1
    assert report["rows"][-1]["prior"] == "tiny-ct" and report["rows"][0]["prior"] == "tiny-gray"
    memory = report["memory"]
    assert memory["kind"] == "cpu-rss" and memory["size"] == "32x32" and memory["nfe"] > 0
    assert 0 < memory["before_mb"] <= memory["peak_mb"] and math.isfinite(memory["peak_mb"])
    assert report["notes"] == [] and len(lines) == 6
    table = markdown_report(report)
    assert table.count("\n| ") == 2 + 5 and "Peak memory, inpaint-random at 32x32" in table
    json.dumps(report)  # plain data


def test_measure_speed_skips_ct_without_its_prior(tiny_priors, tmp_path):
    report = measure_speed(str(tiny_priors["gray"]), ct_prior=str(tmp_path / "absent.pt"), size=32,
                           memory_size=None, repeats=1, device="cpu")
    assert [row["family"] for row in report["rows"]] == ["inpaint", "deblur", "sr"]
    assert report["memory"] is None
    assert len(report["notes"]) == 1 and report["notes"][0].startswith("ct skipped:")
    assert "Note: ct skipped" in markdown_report(report)


def test_one_call_and_problems(tiny_prior):
    denoiser = load_prior(str(tiny_prior), device="cpu")
    seconds = one_call_seconds(denoiser, (1, 1, 24, 24), repeats=3)
    assert math.isfinite(seconds) and seconds > 0
    for task, y_shape in [("inpaint-random", (1, 1, 24, 24)), ("sr4", (1, 1, 6, 6))]:
        operator, y, truth = speed_problem(task, 24)
        assert truth.shape == (1, 1, 24, 24) and tuple(y.shape) == y_shape
        assert 0 <= float(truth.min()) and float(truth.max()) <= 1


def test_speed_command_prints_a_table_and_json(tiny_priors, tmp_path):
    out = tmp_path / "speed.json"
    result = CliRunner().invoke(speed_command, ["--prior", str(tiny_priors["gray"]), "--ct-prior", "no-such-prior",
                                                "--size", "32", "--memory-size", "0", "--repeats", "1",
                                                "--device", "cpu", "--json", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "| task | size | prior | method | NFE |" in result.stdout and "| sr4 | 32x32 |" in result.stdout
    assert "Note: ct skipped: no prior named 'no-such-prior'" in result.stdout
    report = json.loads(out.read_text())
    assert len(report["rows"]) == 3 and report["memory"] is None
    # the GFLOP/s column: the work of one call of the prior at the benchmark size over the one-call time
    work = call_flops(load_prior(str(tiny_priors["gray"]), device="cpu"), (1, 1, 32, 32)) / 1e9
    for row in report["rows"]:
        check_row(row)
        assert row["call_gflop"] == pytest.approx(work)
        assert (f"| {row['call_seconds']:.4f} | {row['call_gflop']:.1f} | {row['gflops_per_second']:.0f} |"
                in result.stdout)
    assert "| one call (s) | GFLOP a call | GFLOP/s |" in result.stdout and f"tiny-gray at 32x32: {work:.3g} GFLOP" in result.stdout
    assert report["reference"]["dtype"] in ("float32", "bfloat16") and report["reference"]["gflops_per_second"] > 0


def test_compare_times_a_second_prior_on_each_natural_task(tiny_priors):
    gray = str(tiny_priors["gray"])
    report = measure_speed(gray, compare=gray, ct_prior=None, size=32, memory_size=None, repeats=1, device="cpu")
    assert [row["task"] for row in report["rows"]] == ["inpaint-random", "inpaint-random", "deblur-gauss",
                                                       "deblur-gauss", "sr4", "sr4"]
    for first, second in zip(report["rows"][::2], report["rows"][1::2]):
        check_row(second)
        assert "vs_seconds" not in first
        assert second["vs_seconds"] == pytest.approx(second["seconds"] / first["seconds"])
        assert second["vs_psnr_db"] == 0.0  # the same prior and seeds: the same reconstruction
    table = markdown_report(report)
    assert "each task timed with both in turn" in table and "| time vs first | Δ PSNR (dB) |" in table
    assert table.count("| +0.00 |") == 3 and table.count("| – | – |") == 3


def test_speed_bad_input(tiny_prior):
    with pytest.raises(InputError, match="at least 32"):
        measure_speed(str(tiny_prior), size=16, device="cpu")
    with pytest.raises(InputError, match="at least 32"):
        measure_speed(str(tiny_prior), memory_size=8, device="cpu")
    result = CliRunner().invoke(speed_command, ["--prior", "no-such-prior", "--device", "cpu", "--quiet"])
    assert result.exit_code == 1 and result.stderr.strip().startswith("Error: no prior named 'no-such-prior'")


def test_compare_default_times_each_rows_own_prior(tmp_path, monkeypatch):
    """``--compare default`` times, after one named prior, the prior ``reconstruct`` would run on each task."""
    from conftest import write_tiny_prior
    from scoreinv.bench.speed import task_prior

    folder = tmp_path / "shipped"
    folder.mkdir()
    for seed, name in enumerate(["natural-gray", "natural-gray-fast"]):
        write_tiny_prior(folder / f"{name}.pt", seed=seed)
    monkeypatch.setenv("SCOREINV_PRETRAINED", str(folder))
    report = measure_speed("natural-gray", compare="default", ct_prior=None, size=32, memory_size=None, repeats=1,
                           device="cpu")
    firsts, seconds = report["rows"][::2], report["rows"][1::2]
    assert {row["prior"] for row in firsts} == {"natural-gray"}
    assert [row["prior"] for row in seconds] == [task_prior("default", row["task"], 32) for row in seconds]
    assert "natural-gray-fast" in {row["prior"] for row in seconds}  # at least one row runs the faster prior
    assert "and each task's default (each task timed with both in turn)" in markdown_report(report)
