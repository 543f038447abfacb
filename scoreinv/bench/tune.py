"""Tuning on validation images only: a grid of ``reconstruct`` settings for one task, scored on the same simulated
measurements, so that a settings row is chosen where no reported result is measured."""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from pathlib import Path

from scoreinv.errors import InputError

REPORTED_SETS = ("set12", "cbsd68", "ct-test")
KNOBS = {"steps": int, "sigma_start": float, "sigma_end": float, "eta": float, "prior_weight": float,
         "cg_effort": float, "method": str, "warm_start": str}


@dataclass(frozen=True)
class Candidate:
    """One point of the grid: the settings it overrides (empty: the row's own) and its mean scores."""

    overrides: dict
    psnr: float
    ssim: float
    lpips: float | None
    seconds: float
    nfe: int


def refuse_reported(data: str) -> None:
    """One-line InputError when ``data`` is a reported test set (by name, or a folder of one under ../shared)."""
    path = Path(data)
    name = path.name.lower()
    if data in REPORTED_SETS or name in ("set12", "cbsd68") or (name == "test" and path.parent.name == "ct"):
        raise InputError(f"--data {data}: a reported test set; tune on validation images (bsd68, or a folder of "
                         f"ct/train slices) only")


def parse_grid(specs: list[str]) -> list[dict]:
    """["sigma_start=0.05,0.1", "steps=20,40"] → every combination as a dict of overrides (the row's own first).

    Args:
        specs: NAME=V1,V2,… with NAME one of :data:`KNOBS`.
    """
    axes = []
    for spec in specs:
        name, _, values = spec.partition("=")
        name = name.strip().replace("-", "_")
        if name not in KNOBS or not values:
            raise InputError(f"--grid {spec!r}: use NAME=V1,V2 with NAME one of {', '.join(KNOBS)}")
        try:
            axes.append([(name, KNOBS[name](v.strip())) for v in values.split(",")])
        except ValueError:
            raise InputError(f"--grid {spec!r}: {name} takes {KNOBS[name].__name__} values") from None
    grid = [dict(combo) for combo in itertools.product(*axes)] if axes else []
    return [{}] + [overrides for overrides in grid if overrides]


def tune(task_name: str, grid: list[dict], *, data: str = "bsd68", limit: int = 4, seed: int = 0, device=None,
         prior: str | None = None) -> list[Candidate]:
    """Mean PSNR / SSIM / LPIPS of each grid point over the first ``limit`` images of ``data`` (validation only).

    Args:
        task_name: a task of :data:`scoreinv.problems.tasks.TASKS`.
        grid: overrides of ``reconstruct``'s settings, one dict a point (``{}`` is the row's own settings).
        data: bsd68 or a folder of validation images (CT slices for CT tasks); reported sets are refused.
        limit: images used (≥ 1).
        seed: measurement noise and sampler seed (plus the image's index), as in ``scoreinv bench tasks``.
        device: torch device (None: CUDA if available).
        prior: a prior's name or path (default: the task family's shipped prior).
    """
    from scoreinv import reconstruct
    from scoreinv.bench.runner import Scorer
    from scoreinv.problems.tasks import simulate

    refuse_reported(data)
    task, images, denoiser, device = task_images_and_prior(task_name, data=data, limit=limit, device=device,
                                                           prior=prior)
    scorer = Scorer()
    problems = [simulate(task, image, index=i, seed=seed) for i, (_, image) in enumerate(images)]
    candidates = []
    for overrides in grid:
        scores, seconds, nfe = [], 0.0, 0
        for i, (operator, y, truth) in enumerate(problems):
            started = time.monotonic()
            result = reconstruct(y, operator, prior=denoiser, seed=seed + i, device=device, **overrides)
            seconds += time.monotonic() - started
            nfe = result.nfe
            scores.append(scorer(result.mean.cpu(), truth))
        mean = {k: (sum(s[k] for s in scores) / len(scores) if all(s[k] is not None for s in scores) else None)
                for k in ("psnr", "ssim", "lpips")}
        candidates.append(Candidate(overrides=overrides, psnr=mean["psnr"], ssim=mean["ssim"], lpips=mean["lpips"],
                                    seconds=seconds / len(problems), nfe=nfe))
    return candidates


def task_images_and_prior(task_name: str, *, data: str, limit: int, device=None, prior: str | None = None):
    """(task, images, denoiser, device) for a bench run: the task, the first ``limit`` images of ``data`` (CT
    slices for CT tasks), its prior (default: the family's shipped one) on the resolved device.

    Args:
        task_name: a task of :data:`scoreinv.problems.tasks.TASKS`.
        data: a named set or a folder of images.
        limit: images used (≥ 1).
        device: torch device (None: CUDA if available).
        prior: a prior's name or path, or None.
    """
    from scoreinv.io.datasets import load_images
    from scoreinv.model.devices import resolve_device
    from scoreinv.priors.registry import default_prior, load_prior
    from scoreinv.problems.tasks import get_task

    task = get_task(task_name)
    device = resolve_device(device)
    images = load_images(data, kind="ct" if task.family == "ct" else None, limit=limit)
    if not images:
        raise InputError(f"--data {data}: no images")
    return task, images, load_prior(prior or default_prior(task.family, images[0][1].shape[0]), device=device), device


def markdown_table(candidates: list[Candidate]) -> str:
    """The grid as a Markdown table, best PSNR in bold."""
    best = max(c.psnr for c in candidates)
    lines = ["| settings | PSNR (dB) | SSIM | LPIPS | seconds an image | NFE |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for c in candidates:
        label = ", ".join(f"{k}={v}" for k, v in c.overrides.items()) or "the row's own"
        psnr = f"**{c.psnr:.2f}**" if c.psnr == best else f"{c.psnr:.2f}"
        lpips = "n/a" if c.lpips is None else f"{c.lpips:.4f}"
        lines.append(f"| {label} | {psnr} | {c.ssim:.4f} | {lpips} | {c.seconds:.2f} | {c.nfe} |")
    return "\n".join(lines) + "\n"
