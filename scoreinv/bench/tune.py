"""Tuning on validation images only: a grid of ``reconstruct`` settings — or of a DeepInverse peer's knobs — for one
task, scored on the same simulated measurements with the same seeds, so that a settings row (ours or a peer's) is
chosen where no reported result is measured."""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from pathlib import Path

from scoreinv.bench.options import centre_crop
from scoreinv.errors import InputError

REPORTED_SETS = ("set12", "cbsd68", "ct-test")
KNOBS = {"steps": int, "sigma_start": float, "sigma_end": float, "eta": float, "prior_weight": float,
         "cg_effort": float, "method": str, "warm_start": str, "target": str}
OWN_LABEL = {None: "the row's own", "peer": "DeepInverse's defaults"}


@dataclass(frozen=True)
class Candidate:
    """One point of the grid: the settings it overrides (empty: the row's own, or a peer's DeepInverse defaults)
    and its mean scores over the images (NFE: a reconstruction's network evaluations)."""

    overrides: dict
    psnr: float | None
    ssim: float | None
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


def knob_types(peer: str | None = None) -> dict:
    """{knob: type} of a grid: ``reconstruct``'s settings (:data:`KNOBS`), or a peer's knobs plus ``steps``."""
    if peer is None:
        return KNOBS
    from scoreinv.bench.peers import check_knobs

    return {"steps": int, **{name: float for name in check_knobs(peer, None)}}


def parse_grid(specs: list[str], *, peer: str | None = None) -> list[dict]:
    """["sigma_start=0.05,0.1", "steps=20,40"] → every combination as a dict of overrides (the row's own first).

    Args:
        specs: NAME=V1,V2,… with NAME one of :func:`knob_types` (``reconstruct``'s, or the peer's).
        peer: a peer of :data:`scoreinv.bench.peers.PEERS`, or None for scoreinv's settings.
    """
    types = knob_types(peer)
    axes = []
    for spec in specs:
        name, _, values = spec.partition("=")
        name = name.strip().replace("-", "_")
        if name not in types or not values:
            raise InputError(f"--grid {spec!r}: use NAME=V1,V2 with NAME one of {', '.join(types)}")
        try:
            axes.append([(name, types[name](v.strip())) for v in values.split(",")])
        except ValueError:
            raise InputError(f"--grid {spec!r}: {name} takes {types[name].__name__} values") from None
    grid = [dict(combo) for combo in itertools.product(*axes)] if axes else []
    return [{}] + [overrides for overrides in grid if overrides]


def tune(task_name: str, grid: list[dict], *, data: str = "bsd68", limit: int = 4, seed: int = 0, device=None,
         prior: str | None = None, peer: str | None = None, peer_steps: int | None = None,
         crop: int | None = None) -> list[Candidate]:
    """Mean PSNR / SSIM / LPIPS of each grid point over the first ``limit`` images of ``data`` (validation only).

    Args:
        task_name: a task of :data:`scoreinv.problems.tasks.TASKS`.
        grid: overrides, one dict a point: of ``reconstruct``'s settings, or with ``peer`` of the peer's knobs and
            ``steps`` (``{}``: the row's own settings, or the peer's DeepInverse defaults at its usual NFE).
        data: bsd68 or a folder of validation images (CT slices for CT tasks); reported sets are refused.
        limit: images used (≥ 1).
        seed: measurement noise and sampler seed (plus the image's index), as in ``scoreinv bench tasks``.
        device: torch device (None: CUDA if available).
        prior: a prior's name or path (default: the task family's shipped prior).
        peer: a DeepInverse peer of :data:`scoreinv.bench.peers.PEERS` to tune instead of ``reconstruct``.
        peer_steps: the peer's iterations at every point without a ``steps`` override (None: its usual NFE).
        crop: centre-crop every image to crop × crop pixels first (None: whole images).
    """
    from scoreinv.bench.runner import Scorer
    from scoreinv.problems.tasks import simulate

    refuse_reported(data)
    task, images, denoiser, device = task_images_and_prior(task_name, data=data, limit=limit, device=device,
                                                           prior=prior, crop=crop)
    run = (_reconstruct_runner(denoiser, device) if peer is None else
           _peer_runner(peer, task, denoiser, device, steps=peer_steps))
    scorer = Scorer()
    problems = [simulate(task, image, index=i, seed=seed) for i, (_, image) in enumerate(images)]
    candidates = []
    for overrides in grid:
        scores, seconds, nfe = [], 0.0, 0
        for i, (operator, y, truth) in enumerate(problems):
            started = time.monotonic()
            x, nfe = run(y, operator, seed + i, overrides)
            seconds += time.monotonic() - started
            scores.append(scorer(x, truth))
        mean = {k: (sum(s[k] for s in scores) / len(scores) if all(s[k] is not None for s in scores) else None)
                for k in ("psnr", "ssim", "lpips")}
        candidates.append(Candidate(overrides=overrides, psnr=mean["psnr"], ssim=mean["ssim"], lpips=mean["lpips"],
                                    seconds=seconds / len(problems), nfe=nfe))
    return candidates


def _reconstruct_runner(denoiser, device):
    """run(y, operator, seed, overrides) → (x on the CPU, NFE) by ``reconstruct`` with the overrides."""
    from scoreinv import reconstruct

    def run(y, operator, seed, overrides):
        result = reconstruct(y, operator, prior=denoiser, seed=seed, device=device, **overrides)
        return result.mean.cpu(), result.nfe
    return run


def _peer_runner(peer: str, task, denoiser, device, *, steps: int | None = None):
    """run(y, operator, seed, overrides) → (x, NFE) by :func:`scoreinv.bench.peers.run_peer`; ``steps`` in the
    overrides is the peer's iterations (default ``steps``, None: its usual NFE), the rest its knobs."""
    from scoreinv.bench.peers import check_knobs, run_peer

    check_knobs(peer, None)

    def run(y, operator, seed, overrides):
        knobs = {k: v for k, v in overrides.items() if k != "steps"}
        return run_peer(peer, y, operator, denoiser, sigma_y=task.sigma_y, steps=overrides.get("steps", steps),
                        knobs=knobs, seed=seed, device=device)
    return run


def task_images_and_prior(task_name: str, *, data: str, limit: int, device=None, prior: str | None = None,
                          crop: int | None = None):
    """(task, images, denoiser, device) for a bench run: the task, the first ``limit`` images of ``data`` (CT
    slices for CT tasks), its prior (default: the family's shipped one) on the resolved device.

    Args:
        task_name: a task of :data:`scoreinv.problems.tasks.TASKS`.
        data: a named set or a folder of images.
        limit: images used (≥ 1).
        device: torch device (None: CUDA if available).
        prior: a prior's name or path, or None.
        crop: centre-crop each image to crop × crop pixels (None: whole images).
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
    if crop is not None:
        images = [(name, centre_crop(image, crop)) for name, image in images]
    return task, images, load_prior(prior or default_prior(task.family, images[0][1].shape[0]), device=device), device


def best(candidates: list[Candidate]) -> Candidate:
    """The candidate of highest mean PSNR (the first of equals; a point with no PSNR, e.g. diverged, never)."""
    return max(candidates, key=lambda c: float("-inf") if c.psnr is None else c.psnr)


def label(candidate: Candidate, *, own: str = OWN_LABEL[None]) -> str:
    """"name=value, …" of a candidate's overrides, ``own`` for the empty point."""
    return ", ".join(f"{k}={v}" for k, v in candidate.overrides.items()) or own


def markdown_table(candidates: list[Candidate], *, own: str = OWN_LABEL[None]) -> str:
    """The grid as a Markdown table, best PSNR in bold; ``own`` labels the empty point."""
    top = best(candidates).psnr
    lines = ["| settings | PSNR (dB) | SSIM | LPIPS | seconds an image | NFE |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for c in candidates:
        psnr = "n/a" if c.psnr is None else f"**{c.psnr:.2f}**" if c.psnr == top else f"{c.psnr:.2f}"
        ssim, lpips = ("n/a" if v is None else f"{v:.4f}" for v in (c.ssim, c.lpips))
        lines.append(f"| {label(c, own=own)} | {psnr} | {ssim} | {lpips} | {c.seconds:.2f} | {c.nfe} |")
    return "\n".join(lines) + "\n"
