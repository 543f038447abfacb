"""The blind noise estimate against the truth: simulated measurements of validation images (BSD68, CT training
slices, a Shepp–Logan phantom) at known σ_y, estimated by :func:`scoreinv.problems.noise_level.estimate_noise`,
printed as a Markdown table (``python -m scoreinv.bench.noise_level``)."""
from __future__ import annotations

import argparse
import math
import statistics
import time

import torch

from scoreinv.errors import InputError
from scoreinv.problems.noise_level import estimate_noise
from scoreinv.problems.tasks import TASKS, crop_to

IMAGE_TASKS = ("inpaint-random", "inpaint-box", "deblur-gauss", "deblur-motion", "sr4")
CT_TASKS = ("ct-sparse", "ct-limited")
IMAGE_SIGMAS = (0.0, 0.005, 0.01, 0.02, 0.05)
CT_SIGMAS = (0.0, 0.02, 0.05, 0.1, 0.2)  # sinogram units; the CT tasks' own is 0.1
PHANTOM_SIZE = 256


def measurements(task: str, images: list, *, seed: int = 0):
    """(operator, clean measurement A x, unit noise draw) per image of ``images`` ((C, H, W) in [0, 1]): the
    operator as the task builds it for that image, the noise drawn once per image and scaled per level."""
    spec = TASKS[task]
    rows = []
    for index, image in enumerate(images):
        truth = crop_to(image, spec.divisor)[None].float()
        generator = torch.Generator().manual_seed(seed + index)
        operator = spec.build(tuple(truth.shape), index, generator)
        clean = operator.A(truth)
        rows.append((operator, clean, torch.randn(clean.shape, generator=generator)))
    return rows


def rows_for(task: str, label: str, data: list, sigmas) -> list[dict]:
    """One table row per σ_y: the estimates (and the global MAD) over the images of ``data``."""
    rows = []
    for sigma in sigmas:
        estimates = [estimate_noise(clean + sigma * noise, operator) for operator, clean, noise in data]
        rows.append({"task": task, "images": label, "n": len(data), "sigma": sigma,
                     "estimates": [e.sigma for e in estimates], "mad": [e.mad for e in estimates],
                     "method": estimates[0].method})
    return rows


def table(rows: list[dict]) -> str:
    """The Markdown table: per task and σ_y, the median estimate with its range over the images, the median
    ratio to the truth, and the global MAD of the same high-pass values."""
    lines = ["| task | images | σ_y | estimate: median (min–max) | median estimate / σ_y | global MAD: median |",
             "| --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        e = row["estimates"]
        ratio = f"{statistics.median(v / row['sigma'] for v in e):.3f}" if row["sigma"] > 0 else "—"
        lines.append(f"| {row['task']} | {row['images']} ({row['n']}) | {row['sigma']:g} | "
                     f"{statistics.median(e):.4f} ({min(e):.4f}–{max(e):.4f}) | {ratio} | "
                     f"{statistics.median(row['mad']):.4f} |")
    methods = sorted({f"{row['task']}: {row['method']}" for row in rows})
    return "\n".join(lines) + "\n\nHigh-pass per task: " + "; ".join(methods) + "."


def phantom() -> torch.Tensor:
    """The Shepp–Logan phantom at PHANTOM_SIZE², (1, H, W) in [0, 1] (anti-aliased resize)."""
    from skimage.data import shepp_logan_phantom
    from skimage.transform import resize

    picture = resize(shepp_logan_phantom(), (PHANTOM_SIZE, PHANTOM_SIZE), anti_aliasing=True)
    return torch.from_numpy(picture).float().clamp(0, 1)[None]


def run(*, images: int, ct_images: int, sigmas, ct_sigmas, seed: int = 0) -> list[dict]:
    from scoreinv.io.datasets import load_images

    rows = []
    natural = [image for _, image in load_images("bsd68", limit=images)]
    for task in IMAGE_TASKS:
        rows += rows_for(task, "BSD68", measurements(task, natural, seed=seed), sigmas)
    slices = [image for _, image in load_images("ct-train", limit=ct_images)]
    for task in CT_TASKS:
        rows += rows_for(task, "CT train", measurements(task, slices, seed=seed), ct_sigmas)
    rows += rows_for("ct-sparse", "Shepp–Logan", measurements("ct-sparse", [phantom()] * 4, seed=seed), ct_sigmas)
    return rows


def _levels(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"numbers, comma-separated, expected: {text!r}") from None
    if not all(math.isfinite(v) and 0 <= v <= 1 for v in values):
        raise argparse.ArgumentTypeError(f"noise levels in [0, 1] expected: {text!r}")
    return values


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m scoreinv.bench.noise_level", description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=16, help="BSD68 images (the first N by name) [16]")
    parser.add_argument("--ct-images", type=int, default=12, help="CT training slices (the first N) [12]")
    parser.add_argument("--sigmas", type=_levels, default=IMAGE_SIGMAS, help="image noise levels, [0, 1] units")
    parser.add_argument("--ct-sigmas", type=_levels, default=CT_SIGMAS, help="CT noise levels, sinogram units")
    parser.add_argument("--seed", type=int, default=0, help="seeds the masks and the noise draws [0]")
    parser.add_argument("--markdown", help="also write the table into this page's section --section")
    parser.add_argument("--section", default="noise-level", help="the page's section [noise-level]")
    args = parser.parse_args(argv)
    if args.images < 1 or args.ct_images < 1:
        parser.error("--images and --ct-images must be at least 1")
    torch.set_num_threads(1)
    try:
        if args.markdown:
            from scoreinv.bench.docs_section import check_section

            check_section(args.markdown, args.section)
        started = time.monotonic()
        text = table(run(images=args.images, ct_images=args.ct_images, sigmas=args.sigmas,
                         ct_sigmas=args.ct_sigmas, seed=args.seed))
        from scoreinv.bench.docs_section import publish

        publish(text, started=started, prog=parser.prog, argv=argv, markdown=args.markdown, section=args.section)
    except InputError as error:
        parser.exit(1, f"error: {error}\n")


if __name__ == "__main__":
    main()
