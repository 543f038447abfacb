"""Tiled against untiled denoising: seconds, memory and PSNR of one call, and a network's bytes per pixel.

Each configuration runs in a fresh Python process (one torch thread unless ``--threads``): it loads the prior, adds
Gaussian noise of σ = 25/255 to the camera picture (skimage.data.camera, 512 × 512, resized for other
sizes) and denoises it with one call D(y, σ), plain or through :class:`scoreinv.model.tiling.TiledDenoiser`.
"Call" memory is the growth of the resident set size during the first call above its level before it (sampled
every 5 ms, :class:`scoreinv.bench.memory.PeakMemory`); seconds are the median of ``--repeats`` further calls (the
first pays the one-off set-up of its shapes); "peak RSS" is the process's high-water mark (``ru_maxrss``, torch and
the prior included). PSNR is against the clean picture, and "vs untiled" is the PSNR of the tiled output against
the untiled one. ``--budget-mb`` adds a row whose tile :func:`scoreinv.model.tiling.tile_for_memory` chooses for
that budget; ``--bytes`` instead fits the activation bytes per pixel of one untiled call from its memory growth at
two sizes (the default of ``tile_for_memory``); ``--sizes`` instead runs whole reconstructions at those sizes within
``--budget-mb`` (:mod:`scoreinv.bench.tiling_sizes`).

Run it as ``python -m scoreinv.bench.tiling`` (``--help`` for the options).
"""
from __future__ import annotations

import argparse
import json
import math
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from scoreinv.bench.tiling_sizes import markdown_sizes, max_rss_bytes, measure_sizes, run_reconstruction
from scoreinv.errors import InputError

NOISE = 25 / 255


def default_configs(size: int) -> list[tuple[int, int]]:
    """(tile, overlap) pairs in pixels for a ``size``² picture: 2 × 2, 3 × 3 and 5 × 5 tiles (at 512²: 288 / 64,
    256 / 32 and 128 / 32)."""
    def grid(value: float) -> int:
        return max(8, int(value) // 8 * 8)

    return [(grid(size * 9 / 16), grid(size / 8)), (grid(size / 2), grid(size / 16)), (grid(size / 4), grid(size / 16))]


def noisy_camera(size: int = 512, *, sigma: float = NOISE, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(clean, noisy) camera pictures (1, 1, size, size) in [0, 1]; the noise is N(0, σ²), σ in [0, 1] units.

    Args:
        size: side in pixels.
        sigma: noise standard deviation ([0, 1] units).
        seed: seeds the noise draw.
    """
    import skimage.data

    from scoreinv.problems.pictures import resize

    clean = resize(torch.from_numpy(skimage.data.camera()).float().div(255)[None], (size, size))
    noise = torch.randn(clean.shape, generator=torch.Generator().manual_seed(seed))
    return clean[None], clean[None] + sigma * noise[None]


def run_one(request: dict) -> dict:
    """One measured configuration as ``request`` says (prior, size, tile, overlap, repeats, precision, threads,
    out); meant for a fresh process."""
    from scoreinv.bench.memory import PeakMemory
    from scoreinv.metrics.quality import psnr
    from scoreinv.model.tiling import TiledDenoiser
    from scoreinv.priors.registry import load_prior

    torch.set_num_threads(int(request.get("threads") or 1))
    prior = load_prior(request["prior"], device="cpu", precision=request.get("precision"))
    tile = request.get("tile")
    denoiser = TiledDenoiser(prior, tile=tile, overlap=request.get("overlap")) if tile else prior
    clean, noisy = noisy_camera(int(request["size"]))
    times = []
    with torch.no_grad():
        prior(noisy[..., :64, :64], NOISE)
        with PeakMemory("cpu") as memory:  # the first call: memory, and the one-off set-up of its shapes
            denoiser(noisy, NOISE)
        for _ in range(int(request.get("repeats", 1))):
            started = time.perf_counter()
            out = denoiser(noisy, NOISE)
            times.append(time.perf_counter() - started)
    if request.get("out"):
        torch.save(out, request["out"])
    return {"seconds": statistics.median(times), "call_mb": memory.megabytes, "before_mb": memory.start / 2 ** 20,
            "peak_mb": max_rss_bytes() / 2 ** 20, "psnr_db": float(psnr(out.clamp(0, 1), clean)),
            "precision": prior.precision, "threads": torch.get_num_threads(),
            "overlap": getattr(denoiser, "overlap", 0)}


def measure_tiling(prior: str = "natural-gray", *, size: int = 512, configs=None, repeats: int = 3,
                   precision: str | None = None, threads: int = 1, budget_mb: float | None = None) -> list[dict]:
    """One row per configuration, each measured in a fresh process: untiled first, then each (tile, overlap).

    Args:
        prior: a shipped prior's name or a NAME.pt path.
        size: side of the camera picture in pixels.
        configs: (tile, overlap) pairs in pixels (overlap None: TiledDenoiser's default); None:
            :func:`default_configs`.
        repeats: timed calls per configuration (their median is reported).
        precision: "fp32", "bf16" or "fp16" network arithmetic (None: the CPU default of load_prior).
        threads: torch CPU threads of each measuring process.
        budget_mb: also a row with the tile :func:`~scoreinv.model.tiling.tile_for_memory` picks for this budget of
            one call's memory, MB (None: no such row).
    """
    from scoreinv.metrics.quality import psnr
    from scoreinv.model.tiling import tile_for_memory, tile_spans

    configs = list(default_configs(size) if configs is None else configs)
    if budget_mb is not None:
        configs.append((tile_for_memory(budget_mb * 2 ** 20, maximum=size), None))
    rows, reference = [], None
    with tempfile.TemporaryDirectory() as folder:
        for index, (tile, overlap) in enumerate([(None, 0), *configs]):
            out = Path(folder) / f"{index}.pt"
            row = _child({"prior": prior, "size": size, "tile": tile, "overlap": overlap, "out": str(out),
                          "repeats": repeats, "precision": precision, "threads": threads})
            output = torch.load(out)
            reference = output if reference is None else reference
            spans = tile_spans(size, tile=tile or size, overlap=row["overlap"])
            rows.append({**row, "tile": tile, "tiles": len(spans) ** 2, "side": spans[0][1] - spans[0][0], "size": size,
                         "budget_mb": budget_mb if budget_mb is not None and index == len(configs) else None,
                         "vs_untiled_db": float(psnr(output, reference)) if tile else float("inf")})
    return rows


def measure_bytes_per_pixel(prior: str = "natural-gray", *, sizes=(256, 512), precision: str | None = None,
                            threads: int = 1) -> dict:
    """Activation bytes per pixel of one untiled call: the slope of its memory growth between two sizes.

    Args:
        prior: a shipped prior's name or a NAME.pt path.
        sizes: two picture sides in pixels.
        precision: "fp32", "bf16" or "fp16" network arithmetic (None: the CPU default of load_prior).
        threads: torch CPU threads of each measuring process.
    """
    small, large = sizes
    rows = [_child({"prior": prior, "size": size, "tile": None, "precision": precision, "threads": threads})
            for size in sizes]
    growth = [row["call_mb"] * 2 ** 20 for row in rows]
    slope = (growth[1] - growth[0]) / (large ** 2 - small ** 2)
    return {"sizes": list(sizes), "call_mb": [row["call_mb"] for row in rows], "bytes_per_pixel": slope,
            "base_mb": (growth[0] - slope * small ** 2) / 2 ** 20, "precision": rows[0]["precision"]}


def markdown_table(rows: list[dict], prior: str) -> str:
    """The rows of :func:`measure_tiling` as a Markdown table with a line saying what was measured."""
    first = rows[0]
    threads = "one thread" if first["threads"] == 1 else f"{first['threads']} threads"
    lines = [f"Prior `{prior}` ({first['precision']}, {threads}), one call D(y, σ = 25/255) on the {first['size']}² "
             f"camera picture, each row a fresh process; call = RSS growth during the first call, peak = the "
             f"process's peak RSS; seconds = median of the further calls.", "",
             "| tile / overlap (px) | tiles (side) | seconds | call (MB) | peak RSS (MB) | PSNR (dB) "
             "| vs untiled (dB) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in rows:
        config = f"{row['tile']} / {row['overlap']}" if row["tile"] else "untiled"
        if row.get("budget_mb") is not None:
            config += f" (tile_for_memory, {row['budget_mb']:g} MB)"
        versus = f"{row['vs_untiled_db']:.2f}" if row["tile"] else "–"
        lines.append(f"| {config} | {row['tiles']} ({row['side']}²) | {row['seconds']:.2f} | {row['call_mb']:.0f} | "
                     f"{row['peak_mb']:.0f} | {row['psnr_db']:.2f} | {versus} |")
    return "\n".join(lines) + "\n"


def _child(request: dict) -> dict:
    command = [sys.executable, "-m", "scoreinv.bench.tiling", "--child", json.dumps(request)]
    child = subprocess.run(command, capture_output=True, text=True)
    if child.returncode != 0:
        last = (child.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"the measurement process failed: {last}")
    return json.loads(child.stdout.strip().splitlines()[-1])


def _configs(text: str) -> list[tuple[int, int | None]]:
    pairs = []
    for item in text.split(","):
        tile, _, overlap = item.strip().partition("/")
        pairs.append((int(tile), int(overlap) if overlap else None))
    return pairs


def _numbers(text: str) -> list[float]:
    try:
        values = [float(item) for item in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"numbers, comma-separated, expected: {text!r}") from None
    if not all(math.isfinite(v) and v > 0 for v in values):
        raise argparse.ArgumentTypeError(f"positive finite numbers expected: {text!r}")
    return values


def _sizes(text: str) -> list[tuple[int, int]]:
    from scoreinv.problems.pictures import parse_size

    try:
        return [parse_size(item) for item in text.split(",")]
    except InputError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m scoreinv.bench.tiling", description=__doc__.split("\n")[0])
    parser.add_argument("--prior", default="natural-gray", help="shipped prior name or NAME.pt path")
    parser.add_argument("--size", type=int, default=512, help="picture side in pixels")
    parser.add_argument("--tiles", type=_configs, help="TILE/OVERLAP pairs in pixels, comma-separated, e.g. "
                        "288/64,256/32 (default: 2 x 2, 3 x 3 and 5 x 5 tiles)")
    parser.add_argument("--budget-mb", type=_numbers, help="also the tile tile_for_memory picks for this budget, MB; "
                        "with --sizes the reconstructions' budget, one or one a size, comma-separated [4096]")
    parser.add_argument("--precision", choices=("fp32", "bf16", "fp16"), help="network arithmetic (default: "
                        "load_prior's CPU default)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per configuration (median)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads of each measuring process")
    parser.add_argument("--bytes", action="store_true", help="fit the activation bytes per pixel instead")
    parser.add_argument("--markdown", help="also write the table into this page's section --section")
    parser.add_argument("--section", help="the page's section (between its markers) [tiling; with --sizes: "
                        "tiling-sizes]")
    parser.add_argument("--sizes", type=_sizes, help="whole reconstructions at these sizes instead, H or HxW pixels, "
                        "comma-separated, e.g. 512,1024,2048,4000x6000")
    parser.add_argument("--task", default="inpaint-random", help="with --sizes: the task reconstructed")
    parser.add_argument("--steps", type=int, default=4, help="with --sizes: network calls a reconstruction")
    parser.add_argument("--untiled-max-mp", type=float, default=4.2, help="with --sizes: also untiled up to this "
                        "many megapixels")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-reconstruct", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.section = args.section or ("tiling-sizes" if args.sizes else "tiling")
    if args.child or args.child_reconstruct:
        run = run_one if args.child else run_reconstruction
        print(json.dumps(run(json.loads(args.child or args.child_reconstruct))))
    elif args.bytes:
        print(json.dumps(measure_bytes_per_pixel(args.prior, sizes=(args.size // 2, args.size),
                                                 precision=args.precision, threads=args.threads)))
    else:
        if args.markdown:
            from scoreinv.bench.docs_section import check_section

            check_section(args.markdown, args.section)  # before the run, not after it
        if args.sizes:
            rows = measure_sizes(args.prior, sizes=args.sizes, budgets_mb=args.budget_mb or [4096], task=args.task,
                                 steps=args.steps, untiled_max_pixels=int(args.untiled_max_mp * 1e6),
                                 precision=args.precision, threads=args.threads)
            table = markdown_sizes(rows, args.prior)
        else:
            if args.budget_mb is not None and len(args.budget_mb) != 1:
                raise InputError("--budget-mb takes one budget without --sizes")
            rows = measure_tiling(args.prior, size=args.size, configs=args.tiles, repeats=args.repeats,
                                  precision=args.precision, threads=args.threads,
                                  budget_mb=None if args.budget_mb is None else args.budget_mb[0])
            table = markdown_table(rows, args.prior)
        print(table, end="")
        if args.markdown:
            from scoreinv.bench.docs_section import write_section

            write_section(args.markdown, args.section, table=table,
                          command=shlex.join(["python", "-m", "scoreinv.bench.tiling", *(argv or sys.argv[1:])]))


if __name__ == "__main__":
    main()
