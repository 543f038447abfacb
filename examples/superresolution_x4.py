"""Super-resolve a picture x4 (4 x 4 block averages plus noise): a score prior against bicubic interpolation.

    python examples/superresolution_x4.py                    # astronaut (colour), 256 x 256 from 64 x 64
    python examples/superresolution_x4.py --picture camera --steps 100 --out results
"""
from __future__ import annotations

import argparse

import torch
from _shared import add_solver_options, report

import operators as ops
from scoreinv.baselines.upsampling import bicubic
from scoreinv.io.figures import upsample_nearest
from scoreinv.metrics.quality import psnr
from scoreinv.problems.pictures import read_picture, resize
from scoreinv import reconstruct


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--picture", default="astronaut", help="scikit-image picture (astronaut, camera, ...)")
    parser.add_argument("--size", type=int, default=256, help="high-resolution side in pixels (a multiple of 4)")
    parser.add_argument("--noise", type=float, default=0.01, help="sigma_y in [0, 1] image units")
    add_solver_options(parser, "superresolution_x4.png")
    args = parser.parse_args(argv)
    if args.size % 4:
        parser.error("--size must be a multiple of 4")

    # The measurement: y = 4 x 4 block averages of x, plus noise
    truth = resize(read_picture(f"skimage:{args.picture}"), (args.size, args.size))[None]
    downsample = ops.Downsample(4, filter="box", noise=ops.GaussianNoise(args.noise))
    y = downsample.measure(truth, generator=torch.Generator().manual_seed(args.seed))

    classical = bicubic(y.clamp(0, 1), 4)
    result = reconstruct(y, downsample, prior=args.prior, steps=args.steps, seed=args.seed, device=args.device)

    scores = {"bicubic": float(psnr(classical[0], truth[0])),
              "score prior": float(psnr(result.mean[0].cpu(), truth[0]))}
    low = upsample_nearest(y[0].clamp(0, 1), tuple(truth.shape[-2:]))
    title = f"{args.picture} x4 to {args.size}x{args.size}, sigma_y {args.noise}"
    return report(title, scores, result, args.out / "superresolution_x4.png",
                  [low, classical[0], result.mean[0].cpu(), truth[0]],
                  ["low resolution", "bicubic", "score prior", "truth"])


if __name__ == "__main__":
    main()
