"""Choose the DPS peer's guidance weight per task on a *training* image, never a test image.

DeepInverse's DPS (Chung et al. 2023) puts its weight λ on ‖A D(x) − y‖ with no noise variance, so λ has to absorb
the scale of the residual and no default fits every task; run with our prior at its default λ = 1 it barely follows
the data. This sweeps λ on one centred crop of a BSDS500 training image and prints one JSON line a run; the weights
that won are the table :data:`scoreinv.bench.peers.DPS_WEIGHT`.

    python -m scoreinv.bench.tune_dps --tasks inpaint-random,deblur-gauss,sr4 --weights 100,300,1000,3000
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from scoreinv.bench.peers import run_peer
from scoreinv.io.images import read_image
from scoreinv.io.paths import require_shared
from scoreinv.metrics.quality import psnr
from scoreinv.priors.registry import load_prior
from scoreinv.problems.tasks import get_task, simulate

TRAIN_IMAGE = "bsds500/train/100075.jpg"


def centre_crop(image: torch.Tensor, size: int) -> torch.Tensor:
    """The centred size × size crop of a (C, H, W) image."""
    h, w = image.shape[-2:]
    top, left = (h - size) // 2, (w - size) // 2
    return image[..., top:top + size, left:left + size]


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
            x, nfe = run_peer("dps", y, operator, denoiser, sigma_y=task.sigma_y, steps=steps, weight=weight,
                              seed=seed)
            yield {"task": name, "weight": weight, "steps": steps, "psnr": round(float(psnr(x, truth)), 2),
                   "nfe": nfe, "seconds": round(time.perf_counter() - start, 1)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="inpaint-random,deblur-gauss,sr4", help="comma-separated task names")
    parser.add_argument("--weights", default="100,300,1000,3000", help="comma-separated DPS weights to try")
    parser.add_argument("--size", type=int, default=128, help="crop side in pixels")
    parser.add_argument("--steps", type=int, default=1000, help="DPS iterations")
    parser.add_argument("--prior", default="natural-gray", help="shipped prior name or .pt path")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    for row in sweep(args.tasks.split(","), [float(w) for w in args.weights.split(",")], size=args.size,
                     steps=args.steps, prior=args.prior):
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
