"""``scoreinv bench coverage``: how often the reported intervals hold the truth, over the pixels y leaves unknown."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch

from scoreinv.errors import InputError

Z50, Z90 = 0.6744897501960817, 1.6448536269514722  # standard normal quantiles at 0.75 and 0.95
STD_FLOOR = 1 / 1024  # [0, 1] units: std below a quarter grey level counts as this in RMS z
RANK_PIXELS = 200_000  # pixels drawn (evenly spaced) for the rank correlation


@dataclass(frozen=True)
class Coverage:
    """Calibration of one task: coverage of the central 50 % and 90 % intervals from the samples' quantiles and
    from mean ± z · std (``.std`` of reconstruct, a predictive std), RMS of (x − mean) / max(std, 1/1024), Spearman's rank
    correlation of std with |error|, PSNR of the mean (dB), over the unknown pixels of every image."""

    task: str
    images: int
    samples: int
    target: str
    pixels: int
    quantile50: float
    quantile90: float
    std50: float
    std90: float
    rms_z: float
    rank_correlation: float
    psnr: float
    nfe: int
    seconds: float


def unknown_pixels(operator, shape) -> torch.Tensor:
    """(B, C, H, W) bool: the pixels y does not observe (the missing ones of a mask), every pixel otherwise."""
    mask = getattr(operator, "mask", None)
    if getattr(operator, "family", None) == "inpaint" and isinstance(mask, torch.Tensor):
        return (mask < 0.5).expand(shape).cpu()
    return torch.ones(shape, dtype=torch.bool)


def spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman's rank correlation of two 1-D tensors (ties ranked by position)."""
    ranks = [torch.empty_like(v, dtype=torch.float64).scatter_(0, v.argsort(), torch.arange(len(v), dtype=torch.float64))
             for v in (a, b)]
    ra, rb = (r - r.mean() for r in ranks)
    return float((ra * rb).sum() / (ra.norm() * rb.norm()).clamp_min(1e-300))


def measure_coverage(task_name: str, *, data: str = "bsd68", limit: int = 4, n_samples: int = 8,
                     target: str = "sample", seed: int = 0, device=None, prior: str | None = None) -> Coverage:
    """Run ``n_samples`` posterior samples per image of ``data`` and score the intervals over the unknown pixels.

    Args:
        task_name: a task of :data:`scoreinv.problems.tasks.TASKS`.
        data: a named set (set12, bsd68, cbsd68, ct-test, ct-train) or a folder of images.
        limit: images used (≥ 1).
        n_samples: samples per image (≥ 2).
        target: "estimate" or "sample" (see :func:`scoreinv.reconstruct`).
        seed: measurement noise and sampler seed (plus the image's index), as in ``scoreinv bench tasks``.
        device: torch device (None: CUDA if available).
        prior: a prior's name or path (default: the task family's shipped prior).
    """
    from scoreinv import reconstruct
    from scoreinv.bench.tune import task_images_and_prior
    from scoreinv.metrics.quality import psnr
    from scoreinv.problems.tasks import simulate

    if n_samples < 2:
        raise InputError(f"coverage needs at least 2 samples an image, got {n_samples}")
    task, images, denoiser, device = task_images_and_prior(task_name, data=data, limit=limit, device=device,
                                                           prior=prior)
    hits = {"quantile50": 0, "quantile90": 0, "std50": 0, "std90": 0}
    squares, pixels, psnrs, stds, errors, nfe, started = 0.0, 0, [], [], [], 0, time.monotonic()
    for i, (_, image) in enumerate(images):
        operator, y, truth = simulate(task, image, index=i, seed=seed)
        result = reconstruct(y, operator, prior=denoiser, n_samples=n_samples, target=target, seed=seed + i,
                             device=device)
        samples, mean, std = result.samples.cpu(), result.mean.cpu(), result.std.cpu()
        keep = unknown_pixels(operator, truth.shape)
        x = truth[keep]
        q = torch.quantile(samples.flatten(1).double(), torch.tensor([0.05, 0.25, 0.75, 0.95], dtype=torch.float64),
                           dim=0).reshape(4, *truth.shape)[:, keep].float()
        error = x - mean[keep]
        s = std[keep]
        hits["quantile50"] += int(((q[1] <= x) & (x <= q[2])).sum())
        hits["quantile90"] += int(((q[0] <= x) & (x <= q[3])).sum())
        hits["std50"] += int((error.abs() <= Z50 * s).sum())
        hits["std90"] += int((error.abs() <= Z90 * s).sum())
        squares += float((error / s.clamp_min(STD_FLOOR)).double().pow(2).sum())
        pixels += x.numel()
        psnrs.append(float(psnr(mean, truth)))
        stride = max(1, x.numel() * len(images) // RANK_PIXELS)
        stds.append(s[::stride])
        errors.append(error.abs()[::stride])
        nfe += result.nfe
    return Coverage(task=task_name, images=len(images), samples=n_samples, target=target, pixels=pixels,
                    **{k: v / pixels for k, v in hits.items()}, rms_z=math.sqrt(squares / pixels),
                    rank_correlation=spearman(torch.cat(stds), torch.cat(errors)), psnr=sum(psnrs) / len(psnrs),
                    nfe=nfe // len(images), seconds=(time.monotonic() - started) / len(images))


def markdown_table(rows: list[Coverage]) -> str:
    """Coverage per task as a Markdown table (nominal: 50 % and 90 %; RMS z: 1)."""
    lines = ["| task | target | images × samples | q-interval 50 % | q-interval 90 % | ± 0.674 std | ± 1.645 std | "
             "RMS z | rank corr. | PSNR of mean | NFE an image | seconds an image |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(f"| {r.task} | {r.target} | {r.images} × {r.samples} | {100 * r.quantile50:.1f} % | "
                     f"{100 * r.quantile90:.1f} % | {100 * r.std50:.1f} % | {100 * r.std90:.1f} % | {r.rms_z:.2f} | "
                     f"{r.rank_correlation:.2f} | {r.psnr:.2f} | {r.nfe} | {r.seconds:.1f} |")
    return "\n".join(lines) + "\n"
