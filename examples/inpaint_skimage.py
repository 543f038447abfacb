"""Inpaint a scikit-image picture with 70 % of its pixels missing: a score prior against biharmonic inpainting.

    python examples/inpaint_skimage.py                       # camera, 256 x 256, default settings
    python examples/inpaint_skimage.py --picture astronaut --prior natural-color --steps 100 --out results
"""
from __future__ import annotations

import argparse

import torch
from _shared import add_solver_options, report

import operators as ops
from scoreinv.baselines.inpainting import biharmonic
from scoreinv.metrics.quality import psnr
from scoreinv.problems.pictures import read_picture, resize
from scoreinv import reconstruct


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--picture", default="camera", help="scikit-image picture (camera, astronaut, coins, ...)")
    parser.add_argument("--size", type=int, default=256, help="side in pixels the picture is resized to")
    parser.add_argument("--missing", type=float, default=0.7, help="fraction of pixels missing at random")
    add_solver_options(parser, "inpaint_skimage.png")
    args = parser.parse_args(argv)

    # The measurement: y = m ⊙ x, 1 = known pixel
    truth = resize(read_picture(f"skimage:{args.picture}"), (args.size, args.size))[None]
    mask = ops.Mask.random(truth.shape, missing=args.missing, generator=torch.Generator().manual_seed(args.seed))
    y = mask.A(truth)

    # The classical answer and the score prior's
    classical = biharmonic(y, mask.mask)
    result = reconstruct(y, mask, prior=args.prior, steps=args.steps, seed=args.seed, device=args.device)

    scores = {"biharmonic": float(psnr(classical[0], truth[0])),
              "score prior": float(psnr(result.mean[0].cpu(), truth[0]))}
    title = f"{args.picture} {args.size}x{args.size}, {args.missing:.0%} missing"
    return report(title, scores, result, args.out / "inpaint_skimage.png",
                  [y[0], classical[0], result.mean[0].cpu(), truth[0]],
                  ["measured", "biharmonic", "score prior", "truth"])


if __name__ == "__main__":
    main()
