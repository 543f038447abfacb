"""``scoreinv bench coverage``: how often the reported intervals hold the truth, over the pixels y leaves unknown."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch

from scoreinv.bench.options import centre_crop
from scoreinv.errors import InputError

Z50, Z90 = 0.6744897501960817, 1.6448536269514722  # standard normal quantiles at 0.75 and 0.95
STD_FLOOR = 1 / 1024  # [0, 1] units: std below a quarter grey level counts as this in RMS z
RANK_PIXELS = 200_000  # pixels drawn (evenly spaced) for the rank correlation


@dataclass(frozen=True)
class Coverage:
    """Calibration of one task: coverage of the central 50 % and 90 % intervals from the samples' quantiles, from
    ``Reconstruction.interval`` and from mean ± z · std (``.std`` of reconstruct, a predictive std), RMS of
    (x − mean) / max(std, 1/1024), Spearman's rank correlation of std with |error|, PSNR of the mean (dB), over the
    unknown pixels of every image; ``interval50_images`` and ``interval90_images`` are the lowest and highest
    coverage of one image (conformal coverage holds on average over images, not image by image)."""

    task: str
    images: int
    samples: int
    target: str
    pixels: int
    quantile50: float
    quantile90: float
    interval50: float
    interval90: float
    std50: float
    std90: float
    rms_z: float
    rank_correlation: float
    psnr: float
    nfe: int
    seconds: float
    calibrated_on: str = "none"
    interval50_images: tuple = (math.nan, math.nan)
    interval90_images: tuple = (math.nan, math.nan)


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


def sampled_images(task_name: str, *, data: str, limit: int, n_samples: int, target: str, seed: int, device=None,
                   prior: str | None = None, crop: int | None = None):
    """For each image of ``data``: (reconstruction, truth (1, C, H, W), unknown pixels (1, C, H, W) bool), with
    ``n_samples`` samples drawn by :func:`scoreinv.reconstruct` under the task's measurement draw.

    Args:
        task_name: a task of :data:`scoreinv.problems.tasks.TASKS`.
        data: a named set (set12, bsd68, cbsd68, ct-test, ct-train) or a folder of images.
        limit: images used (≥ 1).
        n_samples: samples per image (≥ 2).
        target: "estimate" or "sample" (see :func:`scoreinv.reconstruct`).
        seed: measurement noise and sampler seed (plus the image's index), as in ``scoreinv bench tasks``.
        device: torch device (None: CUDA if available).
        prior: a prior's name or path (default: the task family's shipped prior).
        crop: centre crops of this side in pixels (None: whole images).
    """
    from scoreinv import reconstruct
    from scoreinv.bench.tune import task_images_and_prior
    from scoreinv.problems.tasks import simulate

    if n_samples < 2:
        raise InputError(f"coverage needs at least 2 samples an image, got {n_samples}")
    if crop is not None and crop < 16:
        raise InputError(f"--crop must be at least 16 pixels, got {crop}")
    task, images, denoiser, device = task_images_and_prior(task_name, data=data, limit=limit, device=device,
                                                           prior=prior, target=target)
    for i, (_, image) in enumerate(images):
        operator, y, truth = simulate(task, centre_crop(image, crop), index=i, seed=seed)
        result = reconstruct(y, operator, prior=denoiser, n_samples=n_samples, target=target, seed=seed + i,
                             device=device)
        yield result, truth, unknown_pixels(operator, truth.shape)


def measure_coverage(task_name: str, *, data: str = "bsd68", limit: int = 4, n_samples: int = 8,
                     target: str = "sample", seed: int = 0, device=None, prior: str | None = None,
                     crop: int | None = None) -> Coverage:
    """Run ``n_samples`` posterior samples per image of ``data`` and score the intervals over the unknown pixels:
    the samples' quantiles, :meth:`Reconstruction.interval` (calibrated where the prior's card says so) and
    mean ± z · ``.std``. Arguments as :func:`sampled_images`."""
    from scoreinv.metrics.quality import psnr

    hits = {"quantile50": 0, "quantile90": 0, "interval50": 0, "interval90": 0, "std50": 0, "std90": 0}
    squares, pixels, psnrs, stds, errors, nfe, count, started = 0.0, 0, [], [], [], 0, 0, time.monotonic()
    calibrations, per_image = set(), {"interval50": [], "interval90": []}
    runs = list(sampled_images(task_name, data=data, limit=limit, n_samples=n_samples, target=target, seed=seed,
                               device=device, prior=prior, crop=crop))
    for result, truth, keep in runs:
        samples, mean, std = result.samples.cpu(), result.mean.cpu(), result.std.cpu()
        x = truth[keep]
        q = torch.quantile(samples.flatten(1).double(), torch.tensor([0.05, 0.25, 0.75, 0.95], dtype=torch.float64),
                           dim=0).reshape(4, *truth.shape)[:, keep].float()
        error = x - mean[keep]
        s = std[keep]
        hits["quantile50"] += int(((q[1] <= x) & (x <= q[2])).sum())
        hits["quantile90"] += int(((q[0] <= x) & (x <= q[3])).sum())
        for level, key in ((0.5, "interval50"), (0.9, "interval90")):
            low, high = (bound.cpu()[keep] for bound in result.interval(level))
            inside = int(((low <= x) & (x <= high)).sum())
            hits[key] += inside
            per_image[key].append(inside / x.numel())
        hits["std50"] += int((error.abs() <= Z50 * s).sum())
        hits["std90"] += int((error.abs() <= Z90 * s).sum())
        squares += float((error / s.clamp_min(STD_FLOOR)).double().pow(2).sum())
        pixels += x.numel()
        psnrs.append(float(psnr(mean, truth)))
        stride = max(1, x.numel() * len(runs) // RANK_PIXELS)
        stds.append(s[::stride])
        errors.append(error.abs()[::stride])
        nfe += result.nfe
        count += 1
        calibrations.add(result.settings.get("calibration", {}).get("fitted_on") or "none")
    return Coverage(task=task_name, images=count, samples=n_samples, target=target, pixels=pixels,
                    **{k: v / pixels for k, v in hits.items()}, rms_z=math.sqrt(squares / pixels),
                    rank_correlation=spearman(torch.cat(stds), torch.cat(errors)), psnr=sum(psnrs) / len(psnrs),
                    nfe=nfe // count, seconds=(time.monotonic() - started) / count,
                    calibrated_on="; ".join(sorted(calibrations)),
                    **{f"{key}_images": (min(values), max(values)) for key, values in per_image.items()})


def fit_calibration(task_name: str, *, data: str = "bsd68", limit: int = 4, n_samples: int = 8,
                    target: str = "sample", seed: int = 0, device=None, prior: str | None = None,
                    crop: int | None = None):
    """(row, :class:`~scoreinv.solve.calibration.Calibration`, prior name) of a task from validation images: the conformal
    quantiles of |x − mean| / u over their unknown pixels, u the uncalibrated predictive std. Refuses the
    reported test sets. Arguments as :func:`sampled_images`."""
    from scoreinv.bench.tune import refuse_reported
    from scoreinv.solve.calibration import LEVELS, Calibration, conformal_quantiles, fitted_settings
    from scoreinv.solve.uncertainty import predictive_std

    refuse_reported(data)
    scores, settings, row, count, name = [], None, None, 0, None
    for result, truth, keep in sampled_images(task_name, data=data, limit=limit, n_samples=n_samples, target=target,
                                              seed=seed, device=device, prior=prior, crop=crop):
        samples = result.samples.cpu()
        u = predictive_std(samples)[keep].clamp_min(STD_FLOOR)
        scores.append(((truth[keep] - samples.mean(0)[keep]).abs() / u))
        if settings not in (None, fitted_settings(result.settings)):
            raise InputError(f"{task_name}: images of {data} resolve to different settings; calibrate them apart")
        settings, row, count = fitted_settings(result.settings), result.settings["defaults_row"], count + 1
        name = result.settings["prior"]
    scores = torch.cat(scores)
    where = f"{data}{f' centre crops {crop}' if crop else ''}: {count} images x {n_samples} samples, " \
            f"{scores.numel()} unknown pixels, task {task_name}"
    return row, Calibration(levels=LEVELS, quantiles=conformal_quantiles(scores, LEVELS), settings=settings,
                            fitted_on=where, samples=n_samples), name


def markdown_table(rows: list[Coverage]) -> str:
    """Coverage per task as a Markdown table (nominal: 50 % and 90 %; RMS z: 1), with the range of one image's
    coverage."""
    lines = ["| task | target | images × samples | q-interval 50 % | q-interval 90 % | interval 50 % | interval 90 % | "
             "one image: 50 % | one image: 90 % | ± 1.645 std | RMS z | rank corr. | PSNR of mean | NFE an image | "
             "seconds an image | calibrated on |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
             "| --- |"]

    def span(bounds: tuple) -> str:
        return f"{100 * bounds[0]:.0f}–{100 * bounds[1]:.0f} %"

    for r in rows:
        lines.append(f"| {r.task} | {r.target} | {r.images} × {r.samples} | {100 * r.quantile50:.1f} % | "
                     f"{100 * r.quantile90:.1f} % | {100 * r.interval50:.1f} % | {100 * r.interval90:.1f} % | "
                     f"{span(r.interval50_images)} | {span(r.interval90_images)} | "
                     f"{100 * r.std90:.1f} % | {r.rms_z:.2f} | {r.rank_correlation:.2f} | {r.psnr:.2f} | {r.nfe} | "
                     f"{r.seconds:.1f} | {r.calibrated_on} |")
    return "\n".join(lines) + "\n"


def calibration_table(fits: list) -> str:
    """The fitted conformal quantiles q̂ (in units of the uncalibrated predictive std) as a Markdown table; a
    Gaussian posterior sampled exactly gives z: 0.674, 1.282, 1.645, 1.960."""
    from scoreinv.solve.calibration import LEVELS

    lines = ["| task | row | " + " | ".join(f"q̂ {100 * level:g} %" for level in LEVELS) + " | std scale | fitted on |",
             "| --- | --- | " + " | ".join("---:" for _ in LEVELS) + " | ---: | --- |"]
    for task, row, calibration, _ in fits:
        values = " | ".join(f"{q:.3f}" for q in calibration.quantiles)
        lines.append(f"| {task} | {row} | {values} | {calibration.std_scale():.3f} | {calibration.fitted_on} |")
    return "\n".join(lines) + "\n"
