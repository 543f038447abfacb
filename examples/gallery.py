"""The README's gallery: one row per kind of problem, solved with the shipped priors on scikit-image pictures.

Rows: inpainting (70 % of the pixels missing at random), box inpainting (a centred hole of a quarter of the
image), motion deblurring, ×4 super-resolution and sparse-view CT (the Shepp–Logan phantom, 30 views). Columns:
the measurement, the best classical baseline of the family (by PSNR against the truth), scoreinv's point estimate
(``target="estimate"``, the default), one posterior draw (``target="sample"``) and the standard deviation of 4
such draws. Needs no data beyond scikit-image's pictures and the priors that ship with scoreinv; a few minutes on
one CPU thread at the default 128².

    python examples/gallery.py                         # writes docs/gallery.png
    python examples/gallery.py --out gallery.png --threads 2 --size 256
"""
from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import skimage.data
import skimage.transform
import torch
import torch.nn.functional as F
from PIL import Image

import operators as ops
from scoreinv.baselines import BASELINES
from scoreinv import reconstruct

from scoreinv.io.figures import colour_map, side_by_side, sinogram_panel, std_map, upsample_nearest

SIZE = 128          # image side in pixels (every panel is SIZE × SIZE)
N_SAMPLES = 4       # posterior samples per reconstruction: their mean and their spread
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "docs" / "gallery.png"


def psnr(x: torch.Tensor, truth: torch.Tensor) -> float:
    """10 log10(1 / MSE) in dB, images in [0, 1]."""
    mse = float((x.float().clamp(0, 1) - truth.float()).pow(2).mean())
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


def picture(image: np.ndarray, size: int) -> torch.Tensor:
    """A grey scikit-image picture as a (1, 1, size, size) tensor in [0, 1] (anti-aliased resize)."""
    image = skimage.img_as_float(image)
    image = skimage.transform.resize(image, (size, size), anti_aliasing=True)
    return torch.from_numpy(image).float().clamp(0, 1)[None, None]


def problems(seed: int, size: int = SIZE) -> list:
    """(row label, family, operator, truth, measurement) of every gallery row, images ``size`` × ``size``."""
    generator = torch.Generator().manual_seed(seed)
    camera = picture(skimage.data.camera()[40:296, 128:384], size)   # a 256² crop: the photographer
    phantom = picture(skimage.data.shepp_logan_phantom(), size)
    rows = []

    mask = ops.Mask.random(camera.shape, missing=0.7, generator=generator)
    rows.append(("inpaint, 70 % missing", "inpaint", mask, camera))
    box = ops.Mask.box(camera.shape, area=0.25)
    rows.append(("inpaint, centred box", "inpaint", box, camera))
    blur = ops.Blur(ops.motion_kernel(11, 30.0), noise=ops.GaussianNoise(0.01))
    rows.append(("deblur, motion 11 px", "deblur", blur, camera))
    down = ops.Downsample(4, noise=ops.GaussianNoise(0.01))
    rows.append(("super-resolution x4", "sr", down, camera))
    ct = ops.ParallelBeamCT.sparse_view((size, size), 30, noise=ops.GaussianNoise(0.1))
    rows.append(("CT, 30 views", "ct", ct, phantom))
    return [(label, family, op, truth, op.measure(truth, generator=generator))
            for label, family, op, truth in rows]


def measurement_panel(family: str, y: torch.Tensor, size: int) -> torch.Tensor:
    """The measurement drawn at size × size: the image itself, a low-resolution one by pixel replication, or
    the sinogram (one band per view, its detectors resampled to ``size`` columns)."""
    if family == "ct":
        panel = sinogram_panel(y[0], size)
        return F.interpolate(panel[None], size=(size, size), mode="bilinear", align_corners=False)[0]
    if family == "sr":
        return upsample_nearest(y[0].clamp(0, 1), (size, size))
    return y[0].clamp(0, 1)


def perceptual(x: torch.Tensor, truth: torch.Tensor) -> float:
    """LPIPS (AlexNet) of x against the truth, lower is closer."""
    from scoreinv.metrics.perceptual import lpips_distance

    return float(lpips_distance(x.clamp(0, 1), truth))


def best_baseline(family: str, y: torch.Tensor, op, truth: torch.Tensor) -> tuple:
    """(name, image, PSNR) of the family's classical baseline that scores best against the truth."""
    sigma_y = float(op.noise.sigma)
    scored = []
    for name, baseline in BASELINES[family]:
        x = baseline(y, op, sigma_y=sigma_y).clamp(0, 1)
        scored.append((name, x, psnr(x, truth)))
    return max(scored, key=lambda entry: entry[2])


def main(argv=None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="PNG to write [default: docs/gallery.png]")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads [default: 1]")
    parser.add_argument("--seed", type=int, default=0, help="seeds the masks, the noise and the sampler")
    parser.add_argument("--device", default="cpu", help="cpu or cuda [default: cpu]")
    parser.add_argument("--size", type=int, default=SIZE, help=f"image side in pixels [default: {SIZE}]")
    parser.add_argument("--samples", type=int, default=N_SAMPLES, help=f"posterior samples [default: {N_SAMPLES}]")
    parser.add_argument("--steps", type=int, default=None, help="network evaluations [default: each row's]")
    parser.add_argument("--prior", default=None, help="natural-image prior [default: the shipped grey one]")
    parser.add_argument("--ct-prior", default=None, help="CT prior [default: the shipped ct]")
    args = parser.parse_args(argv)
    if args.samples < 2:
        parser.error("--samples must be at least 2 (the std map is the spread of the samples)")
    torch.set_num_threads(args.threads)
    started = time.monotonic()

    strips, scores = [], []
    for label, family, op, truth, y in problems(args.seed, args.size):
        row_started = time.monotonic()
        name, classical, classical_psnr = best_baseline(family, y, op, truth)
        prior = args.ct_prior if family == "ct" else args.prior
        estimate = reconstruct(y, op, prior=prior, steps=args.steps, seed=args.seed, device=args.device)
        draws = reconstruct(y, op, prior=prior, n_samples=args.samples, target="sample", steps=args.steps,
                            seed=args.seed, device=args.device)
        mean, draw, std = estimate.mean[0].cpu(), draws.samples[0, 0].cpu(), draws.std[0].cpu()
        ours, drawn = psnr(mean, truth[0]), perceptual(draw[None], truth)
        spread, white = std_map(std)
        strips.append(side_by_side(
            [measurement_panel(family, y.cpu(), args.size), classical[0].cpu(), mean, draw, colour_map(spread[0])],
            labels=[label, f"{name} {classical_psnr:.2f} / {perceptual(classical, truth):.3f}",
                    f"estimate {ours:.2f} dB", f"a sample, LPIPS {drawn:.3f}", f"std (white = {white:.3f})"]))
        nfe = estimate.nfe + draws.nfe
        scores.append({"row": label, "baseline": name, "baseline_psnr": classical_psnr, "scoreinv_psnr": ours,
                       "sample_lpips": drawn, "nfe": nfe, "seconds": time.monotonic() - row_started})
        print(f"{label:24} {name:>10} {classical_psnr:6.2f} dB   scoreinv {ours:6.2f} dB   sample LPIPS {drawn:.3f}  "
              f"({nfe} network calls, {time.monotonic() - row_started:.1f} s)", flush=True)

    width = max(strip.shape[-1] for strip in strips)
    gap = torch.ones(3, 4, width)
    rows = [F.pad(strip, (0, width - strip.shape[-1]), value=1.0) for strip in strips]
    canvas = torch.cat([part for row in rows for part in (row, gap)][:-1], dim=1)
    pixels = (canvas.clamp(0, 1).permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(args.out, optimize=True)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB, {pixels.shape[1]}x{pixels.shape[0]}) "
          f"in {time.monotonic() - started:.0f} s on {args.threads} thread(s)")
    return scores


if __name__ == "__main__":
    main()
