"""Inpaint a scikit-image picture with 70 % of its pixels missing: a score prior against biharmonic inpainting.

    python examples/inpaint_skimage.py                       # camera, 256 x 256, default settings
    python examples/inpaint_skimage.py --picture astronaut --prior natural-color --steps 100 --out results
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

import operators as ops
from scoreinv import reconstruct
from scoreinv.baselines.inpainting import biharmonic
from scoreinv.figures import side_by_side
from scoreinv.imageio import write_image
from scoreinv.metrics import psnr
from scoreinv.solve_inputs import read_picture, resize


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--picture", default="camera", help="scikit-image picture (camera, astronaut, coins, ...)")
    parser.add_argument("--size", type=int, default=256, help="side in pixels the picture is resized to")
    parser.add_argument("--missing", type=float, default=0.7, help="fraction of pixels missing at random")
    parser.add_argument("--prior", default=None, help="prior name or NAME.pt [default: natural-gray/-color]")
    parser.add_argument("--steps", type=int, default=None,
                        help="network evaluations [default: the task's row of scoreinv.defaults]")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="cpu or cuda [default: cuda when available]")
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for inpaint_skimage.png")
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
    print(f"{args.picture} {args.size}x{args.size}, {args.missing:.0%} missing:  "
          + ",  ".join(f"{name} {value:.2f} dB" for name, value in scores.items())
          + f"  ({result.nfe} network evaluations, {result.seconds:.1f} s)")
    figure = args.out / "inpaint_skimage.png"
    write_image(figure, side_by_side([y[0], classical[0], result.mean[0].cpu(), truth[0]],
                                     labels=["measured", "biharmonic", "score prior", "truth"]))
    print(f"wrote {figure}")
    return scores


if __name__ == "__main__":
    main()
