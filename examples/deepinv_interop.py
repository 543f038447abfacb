"""DeepInverse and scoreinv together: a DeepInverse physics solved by ``reconstruct``, our operator as a DeepInverse
physics, our prior inside DeepInverse's DPIR, and ``reconstruct`` as a DeepInverse reconstructor.

    python examples/deepinv_interop.py                   # camera at 64 x 64, Gaussian blur sigma 1.5 px, sigma_y 0.01
    python examples/deepinv_interop.py --size 128 --out results

Needs DeepInverse (pip install 'scoreinv[deepinv]').
"""
from __future__ import annotations

import argparse
import sys

import torch
from _shared import add_solver_options, report

import operators as ops
from scoreinv import reconstruct
from scoreinv.metrics.quality import psnr
from scoreinv.model.devices import resolve_device
from scoreinv.priors.registry import load_prior
from scoreinv.problems.pictures import read_picture, resize

try:
    import deepinv
except ImportError:
    sys.exit("this example needs DeepInverse: pip install 'scoreinv[deepinv]'")

from scoreinv.interop.deepinv import as_deepinv_denoiser, as_physics  # noqa: E402
from scoreinv.interop.deepinv_solver import solver  # noqa: E402


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--picture", default="camera", help="scikit-image picture (grey)")
    parser.add_argument("--size", type=int, default=64, help="side in pixels the picture is resized to")
    parser.add_argument("--blur", type=float, default=1.5, help="Gaussian blur sigma in pixels")
    parser.add_argument("--noise", type=float, default=0.01, help="sigma_y in [0, 1] image units")
    add_solver_options(parser, "deepinv_interop.png", prior="natural-gray")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    truth = resize(read_picture(f"skimage:{args.picture}"), (args.size, args.size))[None].to(device)

    # 1. A DeepInverse physics, measured by DeepInverse, solved by reconstruct (family "deblur" from BlurFFT)
    kernel = deepinv.physics.functional.gaussian_blur(sigma=(args.blur, args.blur), device=str(device))
    physics = deepinv.physics.BlurFFT(img_size=tuple(truth.shape[1:]), filter=kernel, device=device,
                                      noise_model=deepinv.physics.GaussianNoise(
                                          args.noise, rng=torch.Generator(device).manual_seed(args.seed)))
    y = physics(truth)
    prior = load_prior(args.prior, device=device)
    result = reconstruct(y, physics, prior=prior, steps=args.steps, seed=args.seed, device=device)
    print(f"reconstruct(y, BlurFFT): row {result.settings['defaults_row']}, sigma_y {result.settings['sigma_y']:g}")

    # 2. Our operator as a DeepInverse physics: the same measurement, and DeepInverse's adjointness test passes
    ours = as_physics(ops.Blur(kernel[0, 0].double(), noise=ops.GaussianNoise(args.noise)).to(device))
    gap = float((ours.A(truth) - physics.A(truth)).abs().max())
    print(f"as_physics(Blur): |A x - BlurFFT x| <= {gap:.1e}, adjointness error "
          f"{float(ours.adjointness_test(truth)):.1e}")

    # 3. Our prior as the denoiser of DeepInverse's DPIR (Zhang et al. 2021), and reconstruct as its reconstructor
    with torch.no_grad():
        dpir = deepinv.optim.DPIR(sigma=args.noise, denoiser=as_deepinv_denoiser(prior), device=device)(y, physics)
    ours_solver = solver(prior=prior, steps=args.steps, seed=args.seed, device=device)
    same = torch.equal(ours_solver(y, physics), result.mean)
    print(f"solver(...)(y, physics) equals reconstruct(...).mean: {same}")

    scores = {"measurement": float(psnr(y[0].clamp(0, 1).cpu(), truth[0].cpu())),
              "DeepInverse DPIR, our prior": float(psnr(dpir[0].clamp(0, 1).cpu(), truth[0].cpu())),
              "score prior": float(psnr(result.mean[0].cpu(), truth[0].cpu()))}
    title = f"{args.picture} {args.size}x{args.size}, DeepInverse BlurFFT sigma {args.blur} px, sigma_y {args.noise}"
    return report(title, scores, result, args.out / "deepinv_interop.png",
                  [y[0].clamp(0, 1).cpu(), dpir[0].clamp(0, 1).cpu(), result.mean[0].cpu(), truth[0].cpu()],
                  ["measurement", "DPIR (our prior)", "score prior", "truth"])


if __name__ == "__main__":
    main()
