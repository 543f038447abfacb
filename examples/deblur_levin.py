"""Deblur a picture blurred by one of Levin et al.'s (2009) camera-shake kernels: a score prior against Wiener.

    python examples/deblur_levin.py                          # camera, 256 x 256, kernel 1, sigma_y = 0.01
    python examples/deblur_levin.py --kernel 5 --noise 0.02 --steps 100 --out results
"""
from __future__ import annotations

import argparse

import torch
from _shared import add_solver_options, report

import operators as ops
from scoreinv.baselines.deconvolution import wiener_baseline
from scoreinv.metrics.quality import psnr
from scoreinv.problems.pictures import read_picture, resize
from scoreinv import reconstruct


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--picture", default="camera", help="scikit-image picture (camera, astronaut, coins, ...)")
    parser.add_argument("--size", type=int, default=256, help="side in pixels the picture is resized to")
    parser.add_argument("--kernel", type=int, default=1, choices=range(1, 9), help="Levin kernel number")
    parser.add_argument("--noise", type=float, default=0.01, help="sigma_y in [0, 1] image units")
    add_solver_options(parser, "deblur_levin.png")
    args = parser.parse_args(argv)

    # The measurement: y = k * x + n, circular boundary (kernels from the shared data folder)
    truth = resize(read_picture(f"skimage:{args.picture}"), (args.size, args.size))[None]
    blur = ops.Blur(ops.levin_kernels()[args.kernel - 1], noise=ops.GaussianNoise(args.noise))
    y = blur.measure(truth, generator=torch.Generator().manual_seed(args.seed))

    classical = wiener_baseline(y, blur, sigma_y=args.noise)
    result = reconstruct(y, blur, steps=args.steps, prior=args.prior, seed=args.seed, device=args.device)

    scores = {"blurred": float(psnr(y[0].clamp(0, 1), truth[0])), "Wiener": float(psnr(classical[0], truth[0])),
              "score prior": float(psnr(result.mean[0].cpu(), truth[0]))}
    title = f"{args.picture} {args.size}x{args.size}, Levin kernel {args.kernel}, sigma_y {args.noise}"
    return report(title, scores, result, args.out / "deblur_levin.png",
                  [y[0].clamp(0, 1), classical[0], result.mean[0].cpu(), truth[0]],
                  ["blurred", "Wiener", "score prior", "truth"])


if __name__ == "__main__":
    main()
