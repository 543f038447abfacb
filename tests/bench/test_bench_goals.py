"""``scoreinv bench goals``: the targets checked against bench records, on one real record of a tiny run and on
small synthetic records in the same format: met/missed both ways, peers compared only within their record,
sample-target rows for LPIPS, absolute targets only on full uncropped Set12, the docs section, one-line errors."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import skimage.io
from click.testing import CliRunner

from scoreinv.bench.goals import goal_rows, goals_markdown, margin, source_of, verdict
from scoreinv.bench.report import FORMAT
from scoreinv.cli import main

from cli_checks import ok, one_line_error
from conftest import smooth_picture

PAGE = "# Benchmarks\n\n## Against the targets\n\n<!-- begin goals -->\nby hand\n<!-- end goals -->\n\nafter\n"


def invoke(*args):
    """Run ``scoreinv ARGS`` in-process; click's Result."""
    return CliRunner().invoke(main, [str(a) for a in args])


def entry(task, method, kind, psnr, lpips, *, nfe=0, images=12, default=None) -> dict:
    """A summary row as :func:`scoreinv.bench.report.summarise` writes it."""
    return {"task": task, "method": method, "kind": kind, "default": kind == "scoreinv" if default is None else default,
            "images": images, "psnr": psnr, "ssim": 0.8, "lpips": lpips, "seconds": 1.0, "nfe": nfe, "peak_mb": 10.0}


def record(summary, *, data="set12", target="estimate", crop=None, limit=None, old=False) -> dict:
    """A results.json record (the keys of :func:`scoreinv.bench.report.make_record`) holding ``summary``; ``old``:
    settings from before --target and --crop."""
    settings = {"tasks": list(dict.fromkeys(e["task"] for e in summary)), "data": data, "limit": limit,
                "prior": None, "all_methods": False, "peers": any(e["kind"] == "peer" for e in summary), "seed": 0,
                "device": "cpu", "steps": None, "samples": 1, "peer_steps": None, "target": target, "crop": crop}
    if old:
        del settings["target"], settings["crop"]
    return {"format": FORMAT, "command": f"scoreinv bench tasks --data {data}", "date": "2026-01-01T00:00:00+00:00",
            "machine": {"device": "cpu"}, "settings": settings, "shards": [[0, 1]], "images": [],
            "memory_measure": "-", "deepinv": None, "method_settings": {}, "notes": [], "summary": summary,
            "rows": []}


def rows_of(*records) -> list:
    """goal_rows of records labelled r0, r1, …"""
    return goal_rows([source_of(r, label=f"r{i}") for i, r in enumerate(records)])


def cells(markdown: str, table: int, task: str) -> dict:
    """{column: cell} of the line of ``task`` in the ``table``-th Markdown table (0: PSNR, 1: LPIPS)."""
    blocks = [b for b in markdown.split("\n\n") if b.startswith("| data |")]
    head, _, *body = blocks[table].splitlines()
    names = [c.strip() for c in head.strip("|").split("|")]
    for line in body:
        values = [c.strip() for c in line.strip("|").split("|")]
        if values[1] == task:
            return dict(zip(names, values))
    raise AssertionError(f"no line for {task}")


def write(path: Path, rec: dict) -> Path:
    path.write_text(json.dumps(rec))
    return path


# A real record

@pytest.fixture(scope="module")
def real_run(tiny_priors, tmp_path_factory) -> Path:
    """results.json of ``scoreinv bench tasks`` on two small pictures with a tiny prior."""
    root = tmp_path_factory.mktemp("goals")
    (root / "data").mkdir()
    for i in range(2):
        skimage.io.imsave(str(root / "data" / f"pic{i}.png"), smooth_picture(32, 32, seed=i), check_contrast=False)
    ok(invoke("bench", "tasks", "--tasks", "inpaint-random,sr4", "--data", root / "data", "--prior",
              tiny_priors["gray"], "--out", root / "run", "--steps", "2", "--device", "cpu", "--quiet"))
    return root / "run" / "results.json"


def test_a_real_record_and_the_docs_section(real_run, tmp_path):
    rec = json.loads(real_run.read_text())
    page = tmp_path / "benchmarks.md"
    page.write_text(PAGE)
    result = ok(invoke("bench", "goals", real_run, "--markdown", page, "--section", "goals"))
    for task in ("inpaint-random", "sr4"):
        ours = next(e for e in rec["summary"] if e["task"] == task and e["default"])
        base = max((e for e in rec["summary"] if e["task"] == task and e["kind"] == "baseline"),
                   key=lambda e: e["psnr"])
        row = cells(result.stdout, 0, task)
        assert row["images"] == "2" and row["data"] == str(Path(rec["settings"]["data"]))
        assert row["scoreinv (default)"].startswith(f"{ours['method']} {ours['psnr']:.2f} dB")
        assert row["best baseline"] == f"{base['method']} {base['psnr']:.2f} dB"
        assert row["≥ best baseline"] == verdict(ours["psnr"] - base["psnr"])
        assert row["absolute target"] == "–" and row["best peer"] == "–"  # a folder, not set12; no peers
    text = page.read_text()
    assert "by hand" not in text and text.startswith("# Benchmarks\n\n## Against the targets\n\n<!-- begin goals -->")
    assert f"Produced by: `scoreinv bench goals {real_run}`" in text and text.endswith("<!-- end goals -->\n\nafter\n")
    assert result.stdout.strip() in text and "commit " in text


# Synthetic records

def test_met_and_missed_both_ways():
    ahead = record([entry("sr4", "bicubic", "baseline", 24.5, 0.40), entry("sr4", "scoreinv-pnp", "scoreinv", 25.0,
                                                                            0.30, nfe=20)], data="bsd68")
    behind = record([entry("sr4", "bicubic", "baseline", 25.5, 0.25), entry("sr4", "scoreinv-pnp", "scoreinv", 25.0,
                                                                             0.30, nfe=20)], data="cbsd68")
    text = goals_markdown([source_of(ahead, label="a"), source_of(behind, label="b")])
    psnr_rows = [cells(text, 0, "sr4")]  # the first line of sr4: bsd68
    assert psnr_rows[0]["≥ best baseline"] == "met by +0.50 dB"
    assert "| cbsd68 | sr4 | 12 | scoreinv-pnp 25.00 dB, 20 NFE | bicubic 25.50 dB | missed by 0.50 dB |" in text
    assert cells(text, 1, "sr4")["below every baseline and peer"] == "met by +0.1000 (estimate vs bicubic)"
    assert "| cbsd68 | sr4 | 0.3000 (12) | bicubic 0.2500 |" in text and "missed by 0.0500 (estimate vs bicubic)" in text
    assert margin({"lpips": 0.3}, {"lpips": 0.3}, "lpips") == 0 and verdict(0.0, strict=True).startswith("missed")


def test_peers_are_compared_only_within_their_record():
    full = record([entry("deblur-gauss", "tv", "baseline", 25.0, 0.29),
                   entry("deblur-gauss", "scoreinv-pnp", "scoreinv", 30.0, 0.20, nfe=40)])
    peers = [entry("deblur-gauss", "tv", "baseline", 24.0, 0.26, images=2),
             entry("deblur-gauss", "deepinv-dps", "peer", 26.0, 0.31, nfe=1000, images=2),
             entry("deblur-gauss", "deepinv-diffpir", "peer", 24.5, 0.25, nfe=100, images=2)]
    cropped = record(peers + [entry("deblur-gauss", "scoreinv-pnp", "scoreinv", 25.0, 0.27, nfe=40, images=2)],
                     crop=128, limit=2)
    text = goals_markdown([source_of(full, label="bench/set12"), source_of(cropped, label="bench/peers")])
    row = cells(text, 0, "deblur-gauss")
    assert row["images"] == "12" and row["peers' record"] == "bench/peers (crop 128, 2 images)"
    assert row["best peer"] == "deepinv-dps 26.00 dB, 1000 NFE"
    assert row["scoreinv there"] == "25.00 dB, 1/25 of DPS's NFE"  # not the uncropped record's 30 dB
    assert row["≥ every peer at ≤ 1/10 of DPS's NFE"] == "missed by 1.00 dB"
    lpips = cells(text, 1, "deblur-gauss")
    assert lpips["scoreinv there"] == "0.2700" and lpips["lowest peer"] == "deepinv-diffpir 0.2500"
    assert lpips["below every baseline and peer"].startswith("missed by 0.0200 (peers' record vs deepinv-diffpir)")

    ahead = record(peers + [entry("deblur-gauss", "scoreinv-pnp", "scoreinv", 27.0, 0.20, nfe=40, images=2)], crop=128)
    row = cells(goals_markdown([source_of(full, label="f"), source_of(ahead, label="p")]), 0, "deblur-gauss")
    assert row["≥ every peer at ≤ 1/10 of DPS's NFE"] == "met by +1.00 dB at 1/25 of DPS's NFE"
    costly = record(peers + [entry("deblur-gauss", "scoreinv-pnp", "scoreinv", 27.0, 0.20, nfe=200, images=2)])
    row = cells(goals_markdown([source_of(costly, label="p")]), 0, "deblur-gauss")
    assert row["peers' record"] == "same record"
    assert row["≥ every peer at ≤ 1/10 of DPS's NFE"] == "missed: 1/5 of DPS's NFE (PSNR met by +1.00 dB)"


def test_sample_rows_count_for_lpips_against_their_own_record():
    estimate = record([entry("deblur-gauss", "tv", "baseline", 25.0, 0.28),
                       entry("deblur-gauss", "scoreinv-pnp", "scoreinv", 26.0, 0.30, nfe=40)])
    assert cells(goals_markdown([source_of(estimate, label="e")]), 1, "deblur-gauss")[
        "below every baseline and peer"] == "missed by 0.0200 (estimate vs tv)"
    sample = record([entry("deblur-gauss", "tv", "baseline", 25.2, 0.27, images=4),
                     entry("deblur-gauss", "scoreinv-pnp-sample", "scoreinv", 24.0, 0.25, nfe=100, images=4)],
                    target="sample", limit=4)
    text = goals_markdown([source_of(estimate, label="e"), source_of(sample, label="bench/sample")])
    row = cells(text, 1, "deblur-gauss")
    assert row["scoreinv estimate (images)"] == "0.3000 (12)" and row["lowest baseline"] == "tv 0.2800"
    assert row["scoreinv sample (record)"] == "scoreinv-pnp-sample 0.2500 [bench/sample (sample, 4 images)]"
    assert row["lowest baseline there"] == "tv 0.2700"
    assert row["below every baseline and peer"] == "met by +0.0200 (sample vs tv)"
    assert cells(text, 0, "deblur-gauss")["scoreinv (default)"].startswith("scoreinv-pnp 26.00 dB")  # PSNR: estimate
    sample["summary"][0]["lpips"] = 0.24  # lower than the sample, though above the estimate record's 0.28
    row = cells(goals_markdown([source_of(estimate, label="e"), source_of(sample, label="s")]), 1, "deblur-gauss")
    assert row["below every baseline and peer"] == "missed by 0.0100 (sample vs tv)"


def test_a_sample_record_with_peers_counts_for_lpips_against_its_own_peers():
    peers = [entry("sr4", "bicubic", "baseline", 24.0, 0.48, images=2),
             entry("sr4", "deepinv-diffpir", "peer", 24.2, 0.23, nfe=100, images=2)]
    estimate = record(peers + [entry("sr4", "scoreinv-pnp", "scoreinv", 24.3, 0.31, nfe=10, images=2)], crop=128)
    sample = record(peers + [entry("sr4", "scoreinv-gibbs-sample", "scoreinv", 23.5, 0.20, nfe=100, images=2)],
                    crop=128, target="sample")
    alone = cells(goals_markdown([source_of(estimate, label="p")]), 1, "sr4")
    assert alone["below every baseline and peer"].startswith("missed by 0.0800 (peers' record vs deepinv-diffpir)")
    assert alone["scoreinv sample beside the peers (record)"] == "–"
    text = goals_markdown([source_of(estimate, label="p"), source_of(sample, label="ps")])
    row = cells(text, 1, "sr4")
    assert row["scoreinv sample beside the peers (record)"] == "0.2000 vs deepinv-diffpir 0.2300 [ps (sample, crop 128, 2 images)]"
    assert "met by +0.0300 (peers' sample record vs deepinv-diffpir)" in row["below every baseline and peer"]
    assert "peers' record vs" not in row["below every baseline and peer"]  # the better peers' side counts
    assert cells(text, 0, "sr4")["scoreinv there"].startswith("24.30 dB")  # PSNR against peers: the estimate's
    sample["summary"][1]["lpips"] = 0.19  # a peer under the draw: missed on that side
    row = cells(goals_markdown([source_of(estimate, label="p"), source_of(sample, label="ps")]), 1, "sr4")
    assert "missed by 0.0100 (peers' sample record vs deepinv-diffpir)" in row["below every baseline and peer"]


@pytest.mark.parametrize("data,crop,limit,psnr,nfe,expected", [
    ("set12", None, None, 31.0, 24, "≥ 30.5 dB at ≤ 100 NFE: met by +0.50 dB"),
    ("set12", None, None, 30.0, 24, "≥ 30.5 dB at ≤ 100 NFE: missed by 0.50 dB"),
    ("set12", None, None, 31.0, 200, "≥ 30.5 dB at ≤ 100 NFE: missed (200 NFE)"),
    ("set12", 64, None, 31.0, 24, "≥ 30.5 dB at ≤ 100 NFE: n/a (crop 64)"),
    ("set12", None, 5, 31.0, 24, "≥ 30.5 dB at ≤ 100 NFE: n/a (first 5 images)"),
    ("bsd68", None, None, 31.0, 24, "–"),
])
def test_absolute_targets_only_on_full_uncropped_set12(data, crop, limit, psnr, nfe, expected):
    rec = record([entry("inpaint-random", "biharmonic", "baseline", 28.0, 0.17),
                  entry("inpaint-random", "scoreinv-pnp", "scoreinv", psnr, 0.08, nfe=nfe)],
                 data=data, crop=crop, limit=limit)
    assert cells(goals_markdown([source_of(rec, label="r")]), 0, "inpaint-random")["absolute target"] == expected


def test_records_without_target_or_crop_are_estimates_and_the_fullest_record_leads():
    old = record([entry("sr4", "bicubic", "baseline", 24.0, 0.5),
                  entry("sr4", "scoreinv-pnp", "scoreinv", 26.6, 0.3, nfe=20)], old=True)
    small = record([entry("sr4", "bicubic", "baseline", 25.0, 0.5, images=2),
                    entry("sr4", "scoreinv-pnp", "scoreinv", 27.0, 0.3, nfe=20, images=2)], limit=2)
    (row,) = rows_of(small, old)
    assert row["primary"].label == "r1" and row["primary"].target == "estimate" and row["primary"].crop is None
    assert row["scoreinv"]["psnr"] == 26.6 and row["sample"] is None and row["peers"] is None


def test_one_line_errors(tmp_path):
    good = write(tmp_path / "good.json", record([entry("sr4", "scoreinv-pnp", "scoreinv", 25.0, 0.3, nfe=20)]))
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json")
    empty = write(tmp_path / "empty.json", {**record([]), "summary": []})
    no_summary = {key: value for key, value in record([]).items() if key != "summary"}
    write(tmp_path / "none.json", no_summary)
    one_line_error(invoke("bench", "goals", good, tmp_path / "missing.json"), "missing.json", "no such file")
    one_line_error(invoke("bench", "goals", bad), "bad.json", "not valid JSON")
    one_line_error(invoke("bench", "goals", tmp_path / "none.json"), "none.json", "no summary")
    one_line_error(invoke("bench", "goals", empty), "empty.json", "no summary")
    one_line_error(invoke("bench", "goals", write(tmp_path / "list.json", [1])), "not a 'scoreinv bench tasks'")
    one_line_error(invoke("bench", "goals", tmp_path), "no results.json")
    page = tmp_path / "page.md"
    page.write_text(PAGE)
    one_line_error(invoke("bench", "goals", good, "--markdown", page), "go together")
    one_line_error(invoke("bench", "goals", good, "--markdown", page, "--section", "nope"), "exactly once")
    assert page.read_text() == PAGE
