"""Whole reconstructions at growing sizes within a memory budget, and untiled where that fits: seconds, memory and
PSNR per size.

Each run is a fresh Python process (one torch thread unless ``--threads``) that builds a grey picture of the size
from the shared BSD68 validation images (:func:`bsd68_mosaic`: the 481 × 321 images side by side at their own
scale, none resampled), simulates the task's measurement of it (:func:`scoreinv.problems.tasks.simulate`) and
reconstructs it once with :func:`scoreinv.reconstruct` and ``memory_budget`` (tiled when the whole image does not
fit) or without a limit (untiled). "Growth" is the resident set size above its level before ``reconstruct``
(sampled every 5 ms, :class:`scoreinv.bench.memory.PeakMemory`), "model" what :func:`scoreinv.solve.memory.
budget_plan` expected of it, "peak RSS" the process's high-water mark (torch, the prior, the picture and the
measurement included). PSNR is against the clean picture; "vs untiled" is the PSNR of the tiled result against the
untiled one at the same size, and Δ the difference of their PSNRs.

Run it as ``python -m scoreinv.bench.tiling --sizes 512,1024,2048,4000x6000`` (``--help`` for the options).
"""
from __future__ import annotations

import json
import math
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from scoreinv.errors import InputError

BSD68_SIDE = (321, 481)  # H × W of a BSD68 image in landscape orientation


def bsd68_mosaic(height: int, width: int, *, folder=None) -> torch.Tensor:
    """A (1, H, W) grey picture in [0, 1] made of the BSD68 images side by side at their own scale (portrait ones
    turned to landscape, in file order, starting over after the last: the second pass mirrored left to right, the
    third upside down, the fourth both, so that repeats differ), cropped to ``height`` × ``width`` pixels.

    Args:
        height: H in pixels.
        width: W in pixels.
        folder: the folder of BSD68 PNGs (default: ../shared/data/bsd68).
    """
    from scoreinv.io.images import read_image
    from scoreinv.io.paths import require_shared

    files = sorted(Path(folder or require_shared("data/bsd68")).glob("*.png"))
    if not files:
        raise InputError(f"no BSD68 PNGs in {folder}")
    rows, cols = math.ceil(height / BSD68_SIDE[0]), math.ceil(width / BSD68_SIDE[1])
    picture = torch.empty(1, rows * BSD68_SIDE[0], cols * BSD68_SIDE[1])
    for index in range(rows * cols):
        image = read_image(files[index % len(files)], channels=1)
        image = image.transpose(-2, -1) if image.shape[-2] > image.shape[-1] else image
        passes = index // len(files)
        image = image.flip(-1) if passes & 1 else image
        image = image.flip(-2) if passes & 2 else image
        r, c = divmod(index, cols)
        picture[:, r * BSD68_SIDE[0]:(r + 1) * BSD68_SIDE[0], c * BSD68_SIDE[1]:(c + 1) * BSD68_SIDE[1]] = \
            image[:, :BSD68_SIDE[0], :BSD68_SIDE[1]]
    return picture[:, :height, :width].contiguous()


def run_reconstruction(request: dict) -> dict:
    """One measured reconstruction as ``request`` says (prior, task, height, width, steps, budget bytes or None,
    precision, threads, out); meant for a fresh process."""
    from scoreinv import reconstruct
    from scoreinv.bench.memory import PeakMemory
    from scoreinv.metrics.quality import psnr
    from scoreinv.priors.registry import load_prior
    from scoreinv.problems.tasks import get_task, simulate

    torch.set_num_threads(int(request.get("threads") or 1))
    picture = bsd68_mosaic(int(request["height"]), int(request["width"]), folder=request.get("folder"))
    operator, y, truth = simulate(get_task(request["task"]), picture, seed=int(request.get("seed", 0)))
    del picture
    prior = load_prior(request["prior"], device="cpu", precision=request.get("precision"))
    with torch.no_grad():
        prior(y.new_zeros(1, 1, 64, 64) + 0.5, 0.1)  # the one-off set-up of the network, outside the measure
    with PeakMemory("cpu") as memory:
        result = reconstruct(y, operator, prior=prior, steps=request.get("steps"), device="cpu",
                             memory_budget=request.get("budget"))
    if request.get("out"):
        torch.save(result.mean, request["out"])
    tiling = result.settings["tiling"]
    return {"seconds": result.seconds, "growth_mb": memory.megabytes, "before_mb": memory.start / 2 ** 20,
            "peak_mb": max_rss_bytes() / 2 ** 20, "psnr_db": float(psnr(result.mean, truth)), "nfe": result.nfe,
            "tiled": tiling["tiled"], "tile": tiling["tile"], "overlap": tiling["overlap"], "tiles": tiling["tiles"],
            "side": tiling.get("side"),
            "model_mb": tiling["estimated_bytes"] / 2 ** 20, "within_budget": tiling["within_budget"],
            "precision": prior.precision, "threads": torch.get_num_threads(), "method": result.settings["method"]}


def measure_sizes(prior: str = "natural-gray", *, sizes=((512, 512),), budgets_mb=(4096,), task: str = "inpaint-random",
                  steps: int | None = 4, untiled_max_pixels: int = 2048 ** 2, precision: str | None = None,
                  threads: int = 1, folder=None, child=None) -> list[dict]:
    """One row per run, each a fresh process: per size, untiled (if it has at most ``untiled_max_pixels``), then
    tiled within its budget (skipped where the budget does not tile: it would repeat the untiled run).

    Args:
        prior: a shipped prior's name or a NAME.pt path.
        sizes: (H, W) pairs in pixels.
        budgets_mb: memory budget of each size's tiled run, MB (one value: all sizes).
        task: a task of :data:`scoreinv.problems.tasks.TASKS` (not CT: the pictures are photographs).
        steps: network evaluations of each reconstruction (None: the task's default).
        untiled_max_pixels: the largest H·W also run untiled, pixels.
        precision: "fp32", "bf16" or "fp16" network arithmetic (None: the CPU default of load_prior).
        threads: torch CPU threads of each measuring process.
        folder: the BSD68 folder (default: ../shared/data/bsd68).
        child: runs a request and returns its row (default: a fresh process; tests pass
            :func:`run_reconstruction`).
    """
    from scoreinv.metrics.quality import psnr
    from scoreinv.solve.memory import budget_plan

    budgets_mb = list(budgets_mb) * len(sizes) if len(budgets_mb) == 1 else list(budgets_mb)
    if len(budgets_mb) != len(sizes):
        raise InputError(f"--budget-mb takes one budget or one a size ({len(sizes)}), got {len(budgets_mb)}")
    child = child or _child
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for (height, width), budget_mb in zip(sizes, budgets_mb):
            budget = budget_mb * 2 ** 20
            runs = [None] if height * width <= untiled_max_pixels else []
            runs += [budget] if budget_plan((1, 1, height, width), budget)["tiled"] else []
            outputs = {}
            for run in runs:
                out = Path(tmp) / f"{height}x{width}-{run}.pt"
                row = child({"prior": prior, "task": task, "height": height, "width": width, "steps": steps,
                             "budget": run, "precision": precision, "threads": threads, "out": str(out),
                             "folder": None if folder is None else str(folder)})
                outputs[run] = torch.load(out)
                out.unlink()
                row.update(height=height, width=width, budget_mb=None if run is None else budget_mb, task=task)
                if run is not None and None in outputs:
                    untiled = next(r for r in rows if r["height"] == height and r["width"] == width)
                    row["vs_untiled_db"] = float(psnr(outputs[run], outputs[None]))
                    row["delta_db"] = row["psnr_db"] - untiled["psnr_db"]
                rows.append(row)
    return rows


def markdown_sizes(rows: list[dict], prior: str) -> str:
    """The rows of :func:`measure_sizes` as a Markdown table with a line saying what was measured."""
    first = rows[0]
    threads = "one thread" if first["threads"] == 1 else f"{first['threads']} threads"
    lines = [f"Prior `{prior}` ({first['precision']}, {threads}), `{first['task']}` by `{first['method']}` in "
             f"{first['nfe']} network calls on BSD68 mosaics, each row a fresh process; growth = RSS growth during "
             f"`reconstruct`, model = what `budget_plan` expected of it, peak = the process's peak RSS.", "",
             "| picture (MP) | run | tiles (side / overlap px) | seconds | s / MP | growth (MB) | model (MB) "
             "| peak RSS (MB) | PSNR (dB) | Δ PSNR (dB) | vs untiled (dB) |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in rows:
        megapixels = row["height"] * row["width"] / 1e6
        run = "untiled" if row["budget_mb"] is None else f"budget {row['budget_mb']:g} MB"
        run += "" if row.get("within_budget", True) else " (over)"
        tiles = f"{row['tiles']} ({row['side'] or row['tile']}² / {row['overlap']})" if row["tiled"] else "1"
        delta = f"{row['delta_db']:+.3f}" if "delta_db" in row else "–"
        versus = f"{row['vs_untiled_db']:.2f}" if "vs_untiled_db" in row else "–"
        lines.append(f"| {row['height']} × {row['width']} ({megapixels:.2f}) | {run} | {tiles} | {row['seconds']:.1f} "
                     f"| {row['seconds'] / megapixels:.1f} | {row['growth_mb']:.0f} | {row['model_mb']:.0f} "
                     f"| {row['peak_mb']:.0f} | {row['psnr_db']:.2f} | {delta} | {versus} |")
    return "\n".join(lines) + "\n"


def max_rss_bytes() -> int:
    """The process's peak resident set size so far (``ru_maxrss``), bytes."""
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value if sys.platform == "darwin" else value * 1024


def _child(request: dict) -> dict:
    command = [sys.executable, "-m", "scoreinv.bench.tiling", "--child-reconstruct", json.dumps(request)]
    child = subprocess.run(command, capture_output=True, text=True)
    if child.returncode != 0:
        last = (child.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"the measurement process failed: {last}")
    return json.loads(child.stdout.strip().splitlines()[-1])
