"""The quality benchmark of ``scoreinv bench tasks``: every method on the same simulated measurements.

For each image of the shard and each task, :func:`scoreinv.tasks.simulate` draws the operator and the noise from
seed + image index, so every method (classical baselines, scoreinv's samplers, DeepInverse peers) and every shard
sees the same measurement. Per image and method we record PSNR, SSIM, LPIPS (null when LPIPS cannot run), wall
seconds, NFE (network evaluations, all samples) and peak memory (see :class:`PeakMemory`).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from ..datasets import TEST_SETS, load_images
from ..imageio import InputError, list_images
from ..progress import Progress
from ..tasks import TASKS, Task, get_task, simulate
from .report import sort_rows

CT_TASKS = tuple(name for name, task in TASKS.items() if task.family == "ct")
GREY_TASKS = tuple(name for name, task in TASKS.items() if task.family != "ct")
FIGURE_INDEX = 0  # the image (index in the whole data set) shown in the comparison figure
FIGURE_STD_SAMPLES = 2  # samples of the extra run that gives the figure's std map when --samples is 1
MEMORY_POLL_SECONDS = 0.005


@dataclass(frozen=True)
class BenchOptions:
    """What ``scoreinv bench tasks`` runs.

    Attributes:
        tasks: task names of :data:`scoreinv.tasks.TASKS`.
        data: "set12", "bsd68", "cbsd68", "ct-test" or a folder of images.
        limit: only the first N images of the data set (before sharding).
        prior: a prior's name or NAME.pt path for every task (None: the default prior of each task's image type).
        all_methods: run every guidance method of ``scoreinv.reconstruct.METHODS``, not only the task's default.
        peers: also run DeepInverse's DPS and DiffPIR with the same prior.
        shard: (i, n): this process takes images i, i + n, i + 2n, … (0-based).
        seed: simulation uses seed + image index, scoreinv's samplers seed + image index too.
        device: "auto", "cpu", "cuda" or "cuda:N".
        steps: scoreinv's network evaluations per sample (None: each task's default).
        samples: scoreinv's posterior samples per image (their mean is scored).
        peer_steps: the peers' iterations (None: their usual NFE, DPS 1000 and DiffPIR 100).
        progress: draw a progress bar on stderr.
    """

    tasks: tuple
    data: str
    limit: int | None = None
    prior: str | None = None
    all_methods: bool = False
    peers: bool = False
    shard: tuple = (0, 1)
    seed: int = 0
    device: str = "auto"
    steps: int | None = None
    samples: int = 1
    peer_steps: int | None = None
    progress: bool = True

    def settings(self) -> dict:
        """The options as JSON-ready settings (the shard is kept apart: it differs between the parts of a run)."""
        return {"tasks": list(self.tasks), "data": self.data, "limit": self.limit, "prior": self.prior,
                "all_methods": self.all_methods, "peers": self.peers, "seed": self.seed, "device": self.device,
                "steps": self.steps, "samples": self.samples, "peer_steps": self.peer_steps}


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


# Parsing the options

def parse_tasks(text: str | None, data: str) -> tuple:
    """Task names from "inpaint-random,sr4" (one-line error for unknown ones); default by the data's kind.

    Args:
        text: comma-separated task names, or None for all grey tasks (CT tasks for ct-test).
        data: the --data value.
    """
    if not text:
        return CT_TASKS if data == "ct-test" else GREY_TASKS
    names = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not names:
        raise InputError(f"--tasks names no task; choose from {', '.join(TASKS)}")
    for name in names:
        get_task(name)
    return names


def parse_shard(text: str) -> tuple:
    """"1/4" → (1, 4): this process takes images 1, 5, 9, … (0-based i, 0 ≤ i < n).

    Args:
        text: the --shard value i/n.
    """
    part, slash, total = (text or "").strip().partition("/")
    try:
        i, n = int(part), int(total)
    except ValueError:
        i, n = -1, 0
    if not slash or n < 1 or not 0 <= i < n:
        raise InputError(f"--shard takes i/n with 0 <= i < n (e.g. 0/4), got {text!r}")
    return i, n


def shard_from_env(environ=None) -> tuple | None:
    """(RANK, WORLD_SIZE) when run under torchrun (both set, WORLD_SIZE > 1), else None.

    Args:
        environ: the environment (default os.environ).
    """
    environ = os.environ if environ is None else environ
    if "RANK" not in environ or "WORLD_SIZE" not in environ:
        return None
    shard = parse_shard(f"{environ['RANK']}/{environ['WORLD_SIZE']}")
    return shard if shard[1] > 1 else None


def check_data(data: str) -> None:
    """One-line error unless ``data`` names a test set or an existing folder of images."""
    if data in TEST_SETS:
        return
    if not Path(data).is_dir():
        raise InputError(f"--data {data}: not a test set ({', '.join(TEST_SETS)}) nor a folder")
    list_images(data)


def data_kind(data: str, tasks: tuple) -> str:
    """"ct" for ct-test, or for a folder when every task is a CT task; else "natural"."""
    if data in TEST_SETS:
        return TEST_SETS[data].kind
    return "ct" if all(get_task(name).family == "ct" for name in tasks) else "natural"


def load_data(data: str, *, kind: str, channels: int | None = None, limit: int | None = None) -> list:
    """(name, (C, H, W) in [0, 1]) of a test set or a folder; a folder of CT images is read at its own size.

    Args:
        data: test set name or folder.
        kind: "natural" or "ct" (see :func:`data_kind`).
        channels: 1 or 3 to convert natural images to (None: the set's own or each file's).
        limit: the first N images.
    """
    if data in TEST_SETS or kind != "ct":
        return load_images(data, channels=channels, limit=limit)
    from ..solve_inputs import read_ct_picture

    files = list_images(data)[:limit] if limit else list_images(data)
    return [(path.stem, read_ct_picture(str(path), size=None)) for path in files]


def shard_indices(count: int, shard: tuple) -> list:
    """Indices i, i + n, i + 2n, … below ``count`` for shard (i, n)."""
    return list(range(shard[0], count, shard[1]))


# Measuring

class PeakMemory:
    """Peak memory of a block in MB: on CUDA, the bytes torch allocated above the level at the start
    (``torch.cuda.max_memory_allocated``); on the CPU, the process's resident set size above its level at the start
    (free heap pages returned first), sampled every 5 ms by a helper thread (``ru_maxrss`` growth without /proc).

    Args:
        device: the torch device the block computes on.
    """

    def __init__(self, device):
        self.device = torch.device(device)
        self.megabytes = None

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.start = torch.cuda.memory_allocated(self.device)
            return self
        _return_free_memory()
        self.start = self.peak = _resident_bytes()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.megabytes = (torch.cuda.max_memory_allocated(self.device) - self.start) / 2 ** 20
            return False
        self.stop.set()
        self.thread.join()
        self.peak = max(self.peak, _resident_bytes())
        self.megabytes = max(0, self.peak - self.start) / 2 ** 20
        return False

    def _poll(self):
        while not self.stop.wait(MEMORY_POLL_SECONDS):
            self.peak = max(self.peak, _resident_bytes())


def _return_free_memory() -> None:
    """Hand the C heap's free pages back to the system (glibc ``malloc_trim``), so that the RSS growth of the next
    block is its own working set rather than what an earlier block left for reuse; no-op elsewhere."""
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError, TypeError):
        pass


def _resident_bytes() -> int:
    """The process's resident set size now (/proc/self/statm), or its high-water mark (ru_maxrss) without /proc."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def memory_measure(device) -> str:
    """One line saying what the peak-memory column measures on ``device``."""
    if torch.device(device).type == "cuda":
        return "CUDA memory allocated by torch above the level at the method's start (max_memory_allocated), MB"
    return ("CPU resident set size above its level at the method's start (after returning the C heap's free pages "
            "with malloc_trim), sampled every 5 ms from /proc/self/statm, MB")


class Scorer:
    """PSNR, SSIM and LPIPS of a reconstruction against the truth; LPIPS is null (with one note) when unavailable."""

    def __init__(self):
        self.lpips_problem = None

    def __call__(self, x: torch.Tensor, truth: torch.Tensor) -> dict:
        """{"psnr", "ssim", "lpips"} of (1, C, H, W) tensors in [0, 1] (None for non-finite or unavailable values)."""
        from ..metrics import lpips_distance, psnr, ssim

        values = {"psnr": float(psnr(x[0], truth[0])), "ssim": float(ssim(x[0], truth[0])), "lpips": None}
        if self.lpips_problem is None:
            try:
                values["lpips"] = float(lpips_distance(x[0], truth[0]))
            except Exception as error:  # noqa: BLE001 - missing weights or package: null, never a crash
                reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
                self.lpips_problem = f"LPIPS not computed ({reason}); recorded as null"
        return {k: (round(v, 4) if v is not None and abs(v) != float("inf") and v == v else None)
                for k, v in values.items()}


# The methods

def methods_for(task: Task, options: BenchOptions, denoiser, *, device) -> list:
    """The benchmark's methods for one task: its classical baselines, scoreinv's default (or every guidance method
    with ``all_methods``), and the peers with ``peers`` (when DeepInverse imports).

    Args:
        task: the task.
        options: the benchmark options.
        denoiser: the prior for this task.
        device: the resolved torch device.
    """
    from ..baselines import baselines_for
    from ..defaults import default_settings
    from ..reconstruct import METHODS

    methods = [Method(name, "baseline", _baseline_runner(fn, task.sigma_y)) for name, fn in baselines_for(task.family)]
    default = default_settings(task.build((1, 1, 64, 64), 0, torch.Generator().manual_seed(0))).method
    for name in (METHODS if options.all_methods else [default]):
        extra = None
        if name == default and options.samples < 2:
            extra = _scoreinv_runner(name, denoiser, options, device, samples=FIGURE_STD_SAMPLES)
        methods.append(Method(f"scoreinv-{name}", "scoreinv", _scoreinv_runner(name, denoiser, options, device),
                              default=name == default, figure_run=extra))
    if options.peers:
        from .peers import USUAL_NFE, skip_note

        if skip_note() is None:
            methods += [Method(f"deepinv-{name}", "peer", _peer_runner(name, denoiser, task, options, device))
                        for name in USUAL_NFE]
    return methods


def _baseline_runner(fn, sigma_y: float):
    def run(y, operator, index):
        return Outcome(fn(y.cpu(), operator.to("cpu"), sigma_y=sigma_y).cpu())
    return run


def _scoreinv_runner(method: str, denoiser, options: BenchOptions, device, *, samples: int | None = None):
    from ..reconstruct import reconstruct

    def run(y, operator, index):
        result = reconstruct(y, operator, prior=denoiser, method=method, steps=options.steps,
                             n_samples=samples or options.samples, seed=options.seed + index, device=device)
        std = result.std.cpu() if result.std is not None else None
        return Outcome(result.mean.cpu(), result.nfe, std, result.settings)
    return run


def _peer_runner(name: str, denoiser, task: Task, options: BenchOptions, device):
    from .peers import DPS_WEIGHT, peer_settings, run_peer

    weight = DPS_WEIGHT.get(task.family) if name == "dps" else None

    def run(y, operator, index):
        x, nfe = run_peer(name, y, operator, denoiser, sigma_y=task.sigma_y, steps=options.peer_steps, weight=weight,
                          seed=options.seed + index, device=device)
        return Outcome(x, nfe, settings=peer_settings(name, steps=options.peer_steps, weight=weight))
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


# The loop

class Priors:
    """The priors of the run, loaded once each: ``--prior`` for every task, else each task's default prior."""

    def __init__(self, name: str | None, device):
        self.name, self.device, self.loaded = name, device, {}

    def for_task(self, task: Task, channels: int):
        """The prior for ``task`` on ``channels``-channel images."""
        from ..priors import DEFAULTS

        name = self.name or DEFAULTS.get(("ct", 1) if task.family == "ct" else ("natural", channels))
        if name is None:
            raise InputError(f"no default prior for {channels}-channel images; pass --prior")
        return self.get(name)

    def get(self, name: str):
        """The prior ``name``, loaded on first use."""
        from ..priors import load_prior

        if name not in self.loaded:
            self.loaded[name] = load_prior(name, device=self.device)
        return self.loaded[name]


def run_benchmark(options: BenchOptions) -> BenchRun:
    """Run every method of every task on the shard's images; rows ordered by task, image index, method.

    Args:
        options: what to run (see :class:`BenchOptions`).
    """
    from ..devices import resolve_device

    device = resolve_device(options.device)
    check_data(options.data)
    tasks = [get_task(name) for name in options.tasks]
    priors = Priors(options.prior, device)
    channels = priors.get(options.prior).channels if options.prior else None
    kind = data_kind(options.data, options.tasks)
    images = load_data(options.data, kind=kind, channels=channels, limit=options.limit)
    chosen = [(i, *images[i]) for i in shard_indices(len(images), options.shard)]
    _check_channels(tasks, chosen)
    run = BenchRun(rows=[], images=[{"index": i, "name": name} for i, name, _ in chosen])
    plan = {task.name: methods_for(task, options, priors.for_task(task, _channels(chosen)), device=device)
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


def _channels(chosen: list) -> int:
    return chosen[0][2].shape[0] if chosen else 1


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
        from .peers import skip_note

        notes += [note for note in [skip_note()] if note]
    if scorer.lpips_problem:
        notes.append(scorer.lpips_problem)
    return notes
