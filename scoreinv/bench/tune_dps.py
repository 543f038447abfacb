"""The first sweep of the DPS peer's guidance weight (Chung et al. 2023), on one crop of a BSDS500 *training* image.

Superseded by ``scoreinv bench tune --peer dps`` (validation images, every metric, any peer), whose runs give the
table :data:`scoreinv.bench.peers.TUNED`; kept so that the earlier sweep in docs/benchmarks.md can be rerun. It prints
one JSON line a run:

    python -m scoreinv.bench.tune_dps --tasks inpaint-random,deblur-gauss,sr4 --weights 100,300,1000,3000
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from scoreinv.bench.peers import run_peer
from scoreinv.bench.options import centre_crop
from scoreinv.io.images import read_image
from scoreinv.io.paths import require_shared
from scoreinv.metrics.quality import psnr
from scoreinv.priors.registry import load_prior
from scoreinv.problems.tasks import get_task, simulate

TRAIN_IMAGE = "bsds500/train/100075.jpg"


def sweep(task_names: list, weights: list, *, size: int = 128, steps: int = 1000, prior: str = "natural-gray",
          seed: int = 0):
    """Yield {task, weight, steps, psnr, nfe, seconds} for each task and weight, DPS on one training crop.

    Args:
        task_names: benchmark task names (grey tasks).
        weights: DPS guidance weights λ to try (> 0).
        size: crop side in pixels.
        steps: DPS iterations.
        prior: shipped prior name or .pt path.
        seed: seeds the measurement noise and the sampler.
    """
    denoiser = load_prior(prior)
    image = centre_crop(read_image(require_shared(f"data/{TRAIN_IMAGE}"), channels=1), size)
    for name in task_names:
        task = get_task(name)
        operator, y, truth = simulate(task, image, index=0, seed=seed)
        for weight in weights:
            start = time.perf_counter()
            x, nfe = run_peer("dps", y, operator, denoiser, sigma_y=task.sigma_y, steps=steps,
                              knobs={"weight": weight}, seed=seed)
            yield {"task": name, "weight": weight, "steps": steps, "psnr": round(float(psnr(x, truth)), 2),
                   "nfe": nfe, "seconds": round(time.perf_counter() - start, 1)}


def parse_args(argv=None) -> argparse.Namespace:
    """The command line of ``python -m scoreinv.bench.tune_dps`` (tasks, weights, size, steps, prior, threads)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="inpaint-random,deblur-gauss,sr4", help="comma-separated task names")
    parser.add_argument("--weights", default="100,300,1000,3000", help="comma-separated DPS weights to try")
    parser.add_argument("--size", type=int, default=128, help="crop side in pixels")
    parser.add_argument("--steps", type=int, default=1000, help="DPS iterations")
    parser.add_argument("--prior", default="natural-gray", help="shipped prior name or .pt path")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    for row in sweep(args.tasks.split(","), [float(w) for w in args.weights.split(",")], size=args.size,
                     steps=args.steps, prior=args.prior):
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
