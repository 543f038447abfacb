"""Tuning on validation images only: a grid of ``reconstruct`` settings — or of a DeepInverse peer's knobs — for one
task, scored on the same simulated measurements with the same seeds, so that a settings row (ours or a peer's) is
chosen where no reported result is measured."""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from pathlib import Path

from scoreinv.bench.options import centre_crop
from scoreinv.bench.runner import task_default_prior
from scoreinv.errors import InputError

REPORTED_SETS = ("set12", "cbsd68", "ct-test")
KNOBS = {"steps": int, "sigma_start": float, "sigma_end": float, "eta": float, "prior_weight": float,
         "cg_effort": float, "method": str, "warm_start": str, "target": str, "prior": str}
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
    from scoreinv.model.devices import resolve_device

    task, images = task_images(task_name, data=data, limit=limit, crop=crop)
    device = resolve_device(device)
    if peer is None:
        run = _reconstruct_runner(_priors_by_point(grid, task, images[0][1], prior=prior, device=device), device)
    else:
        run = _peer_runner(peer, task, _peer_prior(task, images[0][1], prior=prior, device=device), device,
                           steps=peer_steps)
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


def point_key(overrides: dict) -> tuple:
    """(target, prior override or None) of a grid point: what decides the prior it runs on."""
    return overrides.get("target", "estimate"), overrides.get("prior")


def _priors_by_point(grid: list[dict], task, image, *, prior: str | None, device) -> dict:
    """{:func:`point_key`: loaded prior} for the grid's points: a point's ``prior=``, else ``prior``, else the
    default of the point's target (each distinct prior loaded once)."""
    from scoreinv.priors.registry import load_prior

    names = {point_key(o): o.get("prior") or prior or task_default_prior(task, image, target=point_key(o)[0])
             for o in grid}
    loaded = {name: load_prior(name, device=device) for name in set(names.values())}
    return {key: loaded[name] for key, name in names.items()}


def _peer_prior(task, image, *, prior: str | None, device):
    """The prior that drives a peer: ``prior``, else the image type's default (as ``scoreinv bench tasks --peers``)."""
    from scoreinv.priors.registry import default_prior, load_prior

    channels = 1 if task.family == "ct" else image.shape[0]
    return load_prior(prior or default_prior(task.family, channels), device=device)


def _reconstruct_runner(priors: dict, device):
    """run(y, operator, seed, overrides) → (x on the CPU, NFE) by ``reconstruct`` with the overrides, on
    ``priors[point_key(overrides)]``."""
    from scoreinv import reconstruct

    def run(y, operator, seed, overrides):
        settings = {k: v for k, v in overrides.items() if k != "prior"}
        result = reconstruct(y, operator, prior=priors[point_key(overrides)], seed=seed, device=device, **settings)
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
                          crop: int | None = None, target: str = "estimate"):
    """(task, images, denoiser, device) for a bench run: the task, the first ``limit`` images of ``data`` (CT
    slices for CT tasks), its prior (default: the family's shipped one) on the resolved device.

    Args:
        task_name: a task of :data:`scoreinv.problems.tasks.TASKS`.
        data: a named set or a folder of images.
        limit: images used (≥ 1).
        device: torch device (None: CUDA if available).
        prior: a prior's name or path, or None.
        crop: centre-crop each image to crop × crop pixels (None: whole images).
        target: the target whose default prior is loaded when ``prior`` is None.
    """
    from scoreinv.model.devices import resolve_device
    from scoreinv.priors.registry import load_prior

    task, images = task_images(task_name, data=data, limit=limit, crop=crop)
    device = resolve_device(device)
    return task, images, load_prior(prior or task_default_prior(task, images[0][1], target=target),
                                    device=device), device


def task_images(task_name: str, *, data: str, limit: int, crop: int | None = None):
    """(task, [(name, image (C, H, W))]): the task and the first ``limit`` images of ``data`` (CT slices for CT
    tasks), centre-cropped to ``crop`` × ``crop`` pixels when given. Arguments as :func:`task_images_and_prior`."""
    from scoreinv.io.datasets import load_images
    from scoreinv.problems.tasks import get_task

    task = get_task(task_name)
    images = load_images(data, kind="ct" if task.family == "ct" else None, limit=limit)
    if not images:
        raise InputError(f"--data {data}: no images")
    if crop is not None:
        images = [(name, centre_crop(image, crop)) for name, image in images]
    return task, images


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
