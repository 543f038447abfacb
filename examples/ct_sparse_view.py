"""Sparse-view CT of a test slice (30 parallel-beam views over 180°): a score prior against filtered back-projection.

    python examples/ct_sparse_view.py                        # first ct-test slice at 256 x 256, 30 views
    python examples/ct_sparse_view.py --views 60 --steps 100 --out results
"""
from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from _shared import add_solver_options, report

import operators as ops
from scoreinv.io.datasets import load_images
from scoreinv.metrics.quality import psnr
from scoreinv import reconstruct


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slice", type=int, default=0, help="index of the ct-test slice")
    parser.add_argument("--size", type=int, default=256, help="image side in pixels (divides 256)")
    parser.add_argument("--views", type=int, default=30, help="projections evenly over 180 degrees")
    parser.add_argument("--noise", type=float, default=0.1, help="sigma_y in sinogram units (pixel lengths)")
    add_solver_options(parser, "ct_sparse_view.png", prior="ct")
    args = parser.parse_args(argv)

    # A slice in [0, 1] attenuation units ((HU + 1000) / 3000) at the working size, reduced to --size
    name, slice_ = load_images("ct-test", limit=args.slice + 1)[args.slice]
    factor = slice_.shape[-1] // args.size
    truth = F.avg_pool2d(slice_[None], factor) if factor > 1 else slice_[None]

    # The measurement: y = R x + n, the Radon transform at --views angles
    ct = ops.ParallelBeamCT.sparse_view(tuple(truth.shape[-2:]), args.views, noise=ops.GaussianNoise(args.noise))
    y = ct.measure(truth, generator=torch.Generator().manual_seed(args.seed))

    classical = ct.fbp(y).clamp(0, 1)
    result = reconstruct(y, ct, prior=args.prior, steps=args.steps, seed=args.seed, device=args.device)

    scores = {"FBP": float(psnr(classical[0], truth[0])), "score prior": float(psnr(result.mean[0].cpu(), truth[0]))}
    title = f"{name} {truth.shape[-2]}x{truth.shape[-1]}, {args.views} views, sigma_y {args.noise}"
    return report(title, scores, result, args.out / "ct_sparse_view.png",
                  [classical[0], result.mean[0].cpu(), truth[0]],
                  ["FBP", "score prior", "truth"])


if __name__ == "__main__":
    main()
