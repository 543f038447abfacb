"""Speed benchmark of the operators: ``python -m operators.benchmark`` prints a table of timings.

Times are medians over ``--repeats`` runs after one warm-up, float32 on the CPU, for a 256×256 image
(batch 1, ``--channels`` channels; CT uses one channel), one column per torch thread count (``--threads``).
Goals: CT forward/adjoint ≤ 50 ms with 180 views once the geometry is built (its build time is reported);
Blur and Downsample forward/adjoint ≤ 5 ms. "ok" is judged on the best column.

``python -m operators.benchmark deepinv`` times our circular Blur against ``deepinv.physics.BlurFFT`` side by
side (3×128², the same Gaussian kernel; needs the optional deepinv), and ``python -m operators.benchmark fbp``
runs the CT projector study of ``operators.ct_study`` (needs scikit-image).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Callable, Dict, List, Tuple

import torch

from .blur import Blur
from .ct import ParallelBeamCT
from .ct_matrix import clear_cache
from .downsample import Downsample
from .kernels import gaussian_kernel

CT_GOAL_MS = 50.0
FAST_GOAL_MS = 5.0


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of fn() in milliseconds, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def run(*, size: int = 256, views: int = 180, channels: int = 1, repeats: int = 20,
        threads: int = 0) -> List[Tuple[str, str, float, float]]:
    """Measure every operator; returns rows (operator, what, milliseconds, goal in ms).

    Args:
        size: image side in pixels.
        views: CT projection count (evenly over 180°).
        channels: channels of the Blur/Downsample input (batch 1).
        repeats: timed runs per figure (median reported).
        threads: torch CPU threads (0 = leave torch's default).
    """
    if threads > 0:
        torch.set_num_threads(threads)
    rows: List[Tuple[str, str, float, float]] = []
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        # CT: build, forward, adjoint
        clear_cache()
        ct = ParallelBeamCT.sparse_view((size, size), views)
        start = time.perf_counter()
        ct.prepare(dtype=torch.float32)
        build = 1e3 * (time.perf_counter() - start)
        x1 = torch.rand(1, 1, size, size, generator=g)
        y1 = ct.A(x1)
        label = f"CT {views} views (nnz {ct.nnz / 1e6:.1f} M)"
        rows.append((label, "build", build, float("nan")))
        rows.append((label, "forward", median_ms(lambda: ct.A(x1), repeats), CT_GOAL_MS))
        rows.append((label, "adjoint", median_ms(lambda: ct.A_adjoint(y1), repeats), CT_GOAL_MS))
        clear_cache()

        # Blur and Downsample
        x = torch.rand(1, channels, size, size, generator=g)
        ops = [("Blur Gaussian 25×25 circular", Blur.gaussian(4.0, size=25)),
               ("Downsample ×4 box", Downsample(4)),
               ("Downsample ×4 bicubic", Downsample(4, filter="bicubic"))]
        for name, op in ops:
            y = op.A(x)
            rows.append((name, "forward", median_ms(lambda: op.A(x), repeats), FAST_GOAL_MS))
            rows.append((name, "adjoint", median_ms(lambda: op.A_adjoint(y), repeats), FAST_GOAL_MS))
    return rows


def blur_vs_deepinv(*, size: int = 128, channels: int = 3, sigma: float = 2.0, repeats: int = 300,
                    threads: int = 1) -> Dict[str, float]:
    """Median milliseconds of our circular ``Blur`` and of ``deepinv.physics.BlurFFT`` (A and Aᵀ, float32 CPU,
    batch 1), timed in alternation so that both see the same machine load; imports deepinv here (optional).

    Args:
        size: image side in pixels.
        channels: image channels.
        sigma: Gaussian kernel σ in pixels (size 2·⌈3σ⌉ + 1).
        repeats: timed runs per figure.
        threads: torch CPU threads (0 = leave torch's default).
    """
    try:
        from deepinv.physics import BlurFFT
    except ImportError as err:
        raise SystemExit(f"this comparison needs deepinv (pip install deepinv): {err}")
    if threads > 0:
        torch.set_num_threads(threads)
    kernel = gaussian_kernel(sigma).float()
    ours = Blur(kernel)
    theirs = BlurFFT(img_size=(channels, size, size), filter=kernel[None, None])
    x = torch.rand(1, channels, size, size, generator=torch.Generator().manual_seed(0))
    out: Dict[str, float] = {}
    with torch.no_grad():
        y = ours.A(x)
        out["max_rel_diff"] = max(float((ours.A(x) - theirs.A(x)).norm() / theirs.A(x).norm()),
                                  float((ours.A_adjoint(y) - theirs.A_adjoint(y)).norm() / theirs.A_adjoint(y).norm()))
        for what, mine, other in (("A", lambda: ours.A(x), lambda: theirs.A(x)),
                                  ("A_adjoint", lambda: ours.A_adjoint(y), lambda: theirs.A_adjoint(y))):
            times: Dict[str, List[float]] = {"ours": [], "deepinv": []}
            mine(), other()
            for _ in range(repeats):
                for name, fn in (("ours", mine), ("deepinv", other)):
                    start = time.perf_counter()
                    fn()
                    times[name].append(time.perf_counter() - start)
            out[f"ours_{what}_ms"] = 1e3 * statistics.median(times["ours"])
            out[f"deepinv_{what}_ms"] = 1e3 * statistics.median(times["deepinv"])
            out[f"ratio_{what}"] = out[f"ours_{what}_ms"] / out[f"deepinv_{what}_ms"]
    return out


def _main_deepinv(argv) -> None:
    parser = argparse.ArgumentParser(prog="python -m operators.benchmark deepinv",
                                     description="our circular Blur against deepinv.physics.BlurFFT")
    parser.add_argument("--size", type=int, default=128, help="image side in pixels (default 128)")
    parser.add_argument("--channels", type=int, default=3, help="channels (default 3)")
    parser.add_argument("--sigma", type=float, default=2.0, help="Gaussian kernel σ in pixels (default 2)")
    parser.add_argument("--repeats", type=int, default=300, help="timed runs per figure (default 300)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args(argv)
    r = blur_vs_deepinv(size=args.size, channels=args.channels, sigma=args.sigma, repeats=args.repeats,
                        threads=args.threads)
    import deepinv
    print(f"Blur (circular, rfft2) vs deepinv {deepinv.__version__} BlurFFT: 1×{args.channels}×{args.size}² float32 "
          f"CPU, {args.threads} thread(s), Gaussian σ={args.sigma:g}, torch {torch.__version__}, median of "
          f"{args.repeats} alternated runs; outputs agree to {r['max_rel_diff']:.1e}")
    print(f"{'':<10}{'ours ms':>10}{'BlurFFT ms':>12}{'ratio':>8}")
    for what in ("A", "A_adjoint"):
        print(f"{what:<10}{r[f'ours_{what}_ms']:10.3f}{r[f'deepinv_{what}_ms']:12.3f}{r[f'ratio_{what}']:8.2f}")


def main(argv=None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "deepinv":
        return _main_deepinv(argv[1:])
    if argv and argv[0] == "fbp":
        from .ct_study import main as study
        return study(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     epilog="subcommands: deepinv (Blur vs deepinv BlurFFT), fbp (CT projector study)")
    parser.add_argument("--size", type=int, default=256, help="image side in pixels (default 256)")
    parser.add_argument("--views", type=int, default=180, help="CT views over 180° (default 180)")
    parser.add_argument("--channels", type=int, default=1, help="channels for Blur/Downsample (default 1)")
    parser.add_argument("--repeats", type=int, default=20, help="timed runs per figure (default 20)")
    parser.add_argument("--threads", default="1,2",
                        help="comma-separated torch thread counts, one column each (default 1,2)")
    args = parser.parse_args(argv)
    try:
        thread_counts = [int(t) for t in args.threads.split(",")]
    except ValueError:
        parser.error(f"--threads must be comma-separated integers, got {args.threads!r}")
    before = torch.get_num_threads()
    columns = []
    for n in thread_counts:
        columns.append(run(size=args.size, views=args.views, channels=args.channels, repeats=args.repeats,
                           threads=n))
    torch.set_num_threads(before)
    print(f"operators benchmark: {args.size}×{args.size} float32 CPU, batch 1 × {args.channels} channel(s) "
          f"(CT: 1), torch {torch.__version__}, median of {args.repeats} runs")
    heads = "".join(f"{f'ms@{n}thr':>11}" for n in thread_counts)
    print(f"{'operator':<32} {'what':<8}{heads} {'goal ms':>8}  ok")
    for i, (name, what, _, goal) in enumerate(columns[0]):
        values = [col[i][2] for col in columns]
        cells = "".join(f"{v:11.2f}" for v in values)
        ok = "" if goal != goal else ("yes" if min(values) <= goal else "NO")
        goal_s = "" if goal != goal else f"{goal:.0f}"
        print(f"{name:<32} {what:<8}{cells} {goal_s:>8}  {ok}")


if __name__ == "__main__":
    main()
