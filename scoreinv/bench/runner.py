"""The quality benchmark of ``scoreinv bench tasks``: every method on the same simulated measurements.

For each image of the shard and each task, :func:`scoreinv.problems.tasks.simulate` draws the operator and the noise from
seed + image index, so every method (classical baselines, scoreinv's samplers, DeepInverse peers) and every shard
sees the same measurement. Per image and method we record PSNR, SSIM, LPIPS (null when LPIPS cannot run), wall
seconds, NFE (network evaluations, all samples) and peak memory (see :class:`PeakMemory`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import torch

from scoreinv.bench.memory import PeakMemory
from scoreinv.bench.options import BenchOptions, centre_crop, check_data, data_kind, load_data, shard_indices
from scoreinv.bench.report import sort_rows
from scoreinv.errors import InputError
from scoreinv.io.progress import Progress
from scoreinv.problems.tasks import Task, get_task, simulate

FIGURE_INDEX = 0  # the image (index in the whole data set) shown in the comparison figure
FIGURE_STD_SAMPLES = 2  # samples of the extra run that gives the figure's std map when --samples is 1


@dataclass
class Outcome:
    """One method's reconstruction: x (1, C, H, W) on the CPU, NFE, std (or None) and the sampler's settings."""

    x: torch.Tensor
    nfe: int = 0
    std: torch.Tensor | None = None
    settings: dict | None = None


@dataclass
class Method:
    """A column of the benchmark: name, kind ("baseline", "scoreinv", "peer"), run(y, operator, index) → Outcome,
    whether it is scoreinv's default for the task, (default only) the run that gives the figure's std map, and why
    it was dropped (a peer that failed)."""

    name: str
    kind: str
    run: Callable
    default: bool = False
    figure_run: Callable | None = None
    failed: str | None = None


@dataclass
class BenchRun:
    """What :func:`run_benchmark` returns: per-image rows, the images, notes, figure panels and sampler settings."""

    rows: list
    images: list
    notes: list = field(default_factory=list)
    figure_parts: dict = field(default_factory=dict)
    method_settings: dict = field(default_factory=dict)


class Scorer:
    """PSNR, SSIM and LPIPS of a reconstruction against the truth; LPIPS is null (with one note) when unavailable."""

    def __init__(self):
        self.lpips_problem = None

    def __call__(self, x: torch.Tensor, truth: torch.Tensor) -> dict:
        """{"psnr", "ssim", "lpips"} of (1, C, H, W) tensors in [0, 1] (None for non-finite or unavailable values)."""
        from scoreinv.metrics.perceptual import lpips_distance
        from scoreinv.metrics.quality import psnr, ssim

        values = {"psnr": float(psnr(x[0], truth[0])), "ssim": float(ssim(x[0], truth[0])), "lpips": None}
        if self.lpips_problem is None:
            try:
                values["lpips"] = float(lpips_distance(x[0], truth[0]))
            except Exception as error:  # noqa: BLE001 - missing weights or package: null, never a crash
                reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
                self.lpips_problem = f"LPIPS not computed ({reason}); recorded as null"
        return {k: (round(v, 4) if v is not None and abs(v) != float("inf") and v == v else None)
                for k, v in values.items()}


def methods_for(task: Task, options: BenchOptions, denoiser, *, device, peer_denoiser=None) -> list:
    """The benchmark's methods for one task: its classical baselines, scoreinv's default (or every guidance method
    with ``all_methods``), and the peers with ``peers`` (when DeepInverse imports).

    Args:
        task: the task.
        options: the benchmark options.
        denoiser: the prior of scoreinv's methods on this task.
        device: the resolved torch device.
        peer_denoiser: the prior that drives the peers (None: ``denoiser``).
    """
    from scoreinv.baselines import baselines_for
    from scoreinv.sampling.methods import METHODS
    from scoreinv.solve.rows import row_of
    from scoreinv.solve.settings import TARGETS

    methods = [Method(name, "baseline", _baseline_runner(fn, task.sigma_y)) for name, fn in baselines_for(task.family)]
    row = row_of(task.build((1, 1, 64, 64), 0, torch.Generator().manual_seed(0)))
    default = TARGETS[options.target][row].settings.method
    suffix = "" if options.target == "estimate" else f"-{options.target}"
    for name in (METHODS if options.all_methods else [default]):
        extra = None
        if name == default and options.samples < 2 and options.figure_std:
            extra = _scoreinv_runner(None, denoiser, options, device, samples=FIGURE_STD_SAMPLES)
        chosen = None if name == default else name  # the default runs its operator's own row, as reconstruct does
        methods.append(Method(f"scoreinv-{name}{suffix}", "scoreinv", _scoreinv_runner(chosen, denoiser, options, device),
                              default=name == default, figure_run=extra))
    if options.peers:
        from scoreinv.bench.peers import peers_for, skip_note

        if skip_note() is None:
            methods += [Method(f"deepinv-{name}", "peer", _peer_runner(name, peer_denoiser or denoiser, task, options,
                                                                              device))
                        for name in peers_for(task)[0]]
    return methods


def _baseline_runner(fn, sigma_y: float):
    def run(y, operator, index):
        return Outcome(fn(y.cpu(), operator.to("cpu"), sigma_y=sigma_y).cpu())
    return run


def _scoreinv_runner(method: str, denoiser, options: BenchOptions, device, *, samples: int | None = None):
    from scoreinv.solve.reconstruct import reconstruct

    def run(y, operator, index):
        result = reconstruct(y, operator, prior=denoiser, method=method, steps=options.steps,
                             n_samples=samples or options.samples, target=options.target, seed=options.seed + index,
                             device=device)
        std = result.std.cpu() if result.std is not None else None
        return Outcome(result.mean.cpu(), result.nfe, std, result.settings)
    return run


def _peer_runner(name: str, denoiser, task: Task, options: BenchOptions, device):
    """A peer with its tuned row for the task (:data:`scoreinv.bench.peers.TUNED`; none: DeepInverse's defaults),
    at ``--peer-steps`` or the steps it was tuned at."""
    from scoreinv.bench.peers import USUAL_NFE, peer_settings, run_peer, tuned_row

    row, tuned_task = tuned_row(name, task)
    knobs = dict(row.knobs) if row else {}
    steps = options.peer_steps or (row.steps if row else USUAL_NFE[name])
    settings = peer_settings(name, steps=steps, knobs=knobs, command=row.command if row else None,
                             tuned_on=f"{row.tuned_on} ({tuned_task})" if row else None)

    def run(y, operator, index):
        x, nfe = run_peer(name, y, operator, denoiser, sigma_y=task.sigma_y, steps=steps, knobs=knobs,
                          seed=options.seed + index, device=device)
        return Outcome(x, nfe, settings=settings)
    return run


def measure(method: Method, y, operator, index: int, *, device) -> tuple:
    """(Outcome, wall seconds, peak MB) of one method on one measurement."""
    with PeakMemory(device) as memory:
        started = time.perf_counter()
        outcome = method.run(y, operator, index)
        if torch.device(device).type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - started
    return outcome, seconds, memory.megabytes


def task_default_prior(task, image, *, target: str = "estimate") -> str:
    """The shipped prior ``reconstruct`` runs on ``task`` for images like ``image`` (C, H, W) and ``target`` when none
    is named: that of the row the task's operator gets (:func:`scoreinv.solve.row_priors.default_prior_of`)."""
    from scoreinv.solve.row_priors import default_prior_of

    operator, _, _ = simulate(task, image, index=0, seed=0)
    return default_prior_of(operator, target=target, channels=image.shape[0])


class Priors:
    """The priors of the run, loaded once each: ``--prior`` for every task, else each task's default prior."""

    def __init__(self, name: str | None, device):
        self.name, self.device, self.loaded = name, device, {}

    def for_task(self, task: Task, image, *, target: str = "estimate"):
        """The prior of scoreinv's methods on ``task`` for images like ``image`` (C, H, W; None: grey): ``--prior``,
        else the one ``reconstruct`` runs by default on the task's row and ``target``."""
        if self.name or image is None:
            return self.for_peers(task, image)
        return self.get(task_default_prior(task, image, target=target))

    def for_peers(self, task: Task, image):
        """The prior that drives the peers: ``--prior``, else the image type's default prior (the largest shipped
        network of its kind, whichever a row of scoreinv runs)."""
        from scoreinv.priors.registry import default_prior

        channels = 1 if image is None or task.family == "ct" else image.shape[0]
        return self.get(self.name or default_prior(task.family, channels))

    def get(self, name: str):
        """The prior ``name``, loaded on first use."""
        from scoreinv.priors.registry import load_prior

        if name not in self.loaded:
            self.loaded[name] = load_prior(name, device=self.device)
        return self.loaded[name]


def run_benchmark(options: BenchOptions) -> BenchRun:
    """Run every method of every task on the shard's images; rows ordered by task, image index, method.

    Args:
        options: what to run (see :class:`BenchOptions`).
    """
    from scoreinv.model.devices import resolve_device

    device = resolve_device(options.device)
    check_data(options.data)
    tasks = [get_task(name) for name in options.tasks]
    priors = Priors(options.prior, device)
    channels = priors.get(options.prior).channels if options.prior else None
    kind = data_kind(options.data, options.tasks)
    images = [(name, centre_crop(image, options.crop))
              for name, image in load_data(options.data, kind=kind, channels=channels, limit=options.limit)]
    chosen = [(i, *images[i]) for i in shard_indices(len(images), options.shard)]
    _check_channels(tasks, chosen)
    run = BenchRun(rows=[], images=[{"index": i, "name": name} for i, name, _ in chosen])
    image = chosen[0][2] if chosen else None
    plan = {task.name: methods_for(task, options, priors.for_task(task, image, target=options.target), device=device,
                                   peer_denoiser=priors.for_peers(task, image))
            for task in tasks}
    bar = Progress(len(chosen) * sum(len(m) for m in plan.values()), desc="bench", enabled=options.progress)
    scorer = Scorer()
    for entry in chosen:
        for task in tasks:
            _run_task(task, plan[task.name], entry, options=options, run=run, scorer=scorer, bar=bar, device=device)
    bar.close()
    if not chosen:
        run.notes.append(f"shard {options.shard[0]}/{options.shard[1]} holds no images ({len(images)} in the data)")
    run.notes += _notes(options, scorer)
    run.rows = sort_rows(run.rows, list(options.tasks))
    return run


def _check_channels(tasks: list, chosen: list) -> None:
    """One-line error for colour images with a CT task."""
    if any(task.family == "ct" for task in tasks) and any(image.shape[0] != 1 for _, _, image in chosen):
        raise InputError("CT tasks need grey images; the data holds colour images")


def _run_task(task: Task, methods: list, entry: tuple, *, options: BenchOptions, run: BenchRun, scorer: Scorer,
              bar: Progress, device) -> None:
    """Simulate one task on one image (index, name, image), run and score every method, and keep the figure's
    panels when it is the figure's image."""
    index, name, image = entry
    operator, y, truth = simulate(task, image, index=index, seed=options.seed)
    outcomes = {}
    for method in methods:
        if method.failed:
            continue
        try:
            outcome, seconds, megabytes = measure(method, y, operator, index, device=device)
        except Exception as error:  # noqa: BLE001 - an optional peer that fails is a note, not a lost benchmark
            if method.kind != "peer":
                raise
            method.failed = (str(error).strip().splitlines() or [type(error).__name__])[0]
            run.notes.append(f"{method.name} failed on {task.name} (image {index}) and was dropped: {method.failed}")
            continue
        metrics = _score(outcome, truth, scorer, run, label=f"{method.name} on {task.name}, image {index}")
        run.rows.append({"image": name, "index": index, "task": task.name, "method": method.name,
                         "kind": method.kind, "default": method.default, **metrics, "seconds": round(seconds, 4),
                         "nfe": outcome.nfe, "peak_mb": round(megabytes, 1) if megabytes is not None else None})
        if outcome.settings is not None:
            run.method_settings.setdefault(task.name, {}).setdefault(method.name, outcome.settings)
        outcomes[method.name] = (method, outcome, metrics)
        bar.update(1, task=task.name, method=method.name, psnr=metrics["psnr"] or float("nan"))
    if index == FIGURE_INDEX:
        run.figure_parts[task.name] = _figure_parts(task, operator, y, truth, outcomes, index)


def _score(outcome: Outcome, truth, scorer: Scorer, run: BenchRun, *, label: str) -> dict:
    """The outcome's metrics; all null (with a note) when it holds NaN or infinite values."""
    if bool(torch.isfinite(outcome.x).all()):
        return scorer(outcome.x, truth)
    run.notes.append(f"{label} returned NaN or infinite values (diverged); its metrics are null")
    outcome.x = torch.nan_to_num(outcome.x, nan=0.0, posinf=1.0, neginf=0.0).clamp(0, 1)
    return {"psnr": None, "ssim": None, "lpips": None}


def _figure_parts(task: Task, operator, y, truth, outcomes: dict, index: int) -> dict:
    """The panels of a task's figure row: truth, measurement, best baseline, scoreinv's default, its std."""
    baselines = [(o.x[0], m.name, s["psnr"] or 0.0) for m, o, s in outcomes.values() if m.kind == "baseline"]
    best = max(baselines, key=lambda item: item[2])[:2] if baselines else None
    method, outcome, _ = next(v for v in outcomes.values() if v[0].default)
    std = outcome.std
    if std is None and method.figure_run is not None:  # one sample measured: an extra run for the figure only
        std = method.figure_run(y, operator, index).std
    return {"task": task.name, "family": task.family, "truth": truth[0], "y": y[0].cpu(), "baseline": best,
            "scoreinv": (outcome.x[0], method.name), "std": std[0] if std is not None else None}


def _notes(options: BenchOptions, scorer: Scorer) -> list:
    """Notes for the report: peers skipped, LPIPS unavailable."""
    notes = []
    if options.peers:
        from scoreinv.bench.peers import peers_for, skip_note

        notes += [note for note in [skip_note()] if note]
        if skip_note() is None:
            notes += [note for name in options.tasks for note in peers_for(get_task(name))[1]]
    if scorer.lpips_problem:
        notes.append(scorer.lpips_problem)
    return notes
