"""Speed of the default reconstructions: seconds, NFE, one network call and its GFLOP/s, sampler overhead and peak
memory.

For each timed task (the default task of each ``scoreinv solve`` family: inpaint-random, deblur-gauss, sr4,
ct-sparse, and ct-limited, whose data steps cost more than its network calls) a simulated measurement of a square
grey picture is reconstructed once with :func:`scoreinv.reconstruct` and its default settings. The sampler
overhead is ``seconds / (NFE × one call) − 1``, where one call is the median time of a bare ``D(x, σ)`` at the
same size measured in the same run; its GFLOP/s are the FLOPs of one call (convolutions and matrix products,
counted by ``torch.utils.flop_counter.FlopCounterMode``) over that time, beside the rate of a 1024 × 1024 matrix
product in the network's element type on the same threads as the machine's reference. Peak memory is that of one default
reconstruction at a larger size: on CPU the peak resident set size of a fresh Python process (which includes
torch itself; the figure before reconstructing is reported beside it), on CUDA ``torch.cuda.max_memory_allocated``.
Run it as ``scoreinv bench speed``.
"""
from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time

import torch

from scoreinv.bench.flops import call_flops, matmul_gflops, precision_dtype
from scoreinv.errors import InputError
from scoreinv.problems.measured import DEFAULT_TASK, FAMILIES
from scoreinv.problems.pictures import read_ct_picture, read_picture, resize

TIMED_TASKS = ("inpaint-random", "deblur-gauss", "sr4", "ct-sparse", "ct-limited")
PICTURES = {"natural": "skimage:camera", "ct": "skimage:shepp_logan_phantom"}
MIN_SIZE = 32  # the default deblur kernel is 25 x 25 and sr divides by 4
CALL_SIGMA = 0.1  # σ of the bare network calls (the cost does not depend on it)
DEFAULT = "default"  # the prior argument that times each task with the prior reconstruct picks for it
DEFAULT_LABEL = "each task's default"  # how the report names DEFAULT


def speed_problem(task: str, size: int, *, channels: int = 1, seed: int = 0):
    """(operator, y, truth) of a benchmark task on a ``size`` × ``size`` test picture.

    Args:
        task: a task of :data:`scoreinv.problems.tasks.TASKS`, e.g. "inpaint-random" or "ct-limited".
        size: image side in pixels.
        channels: 1 (grey) or 3 (colour); CT is always grey.
        seed: seeds the random mask and the noise draw.
    """
    from scoreinv.problems.tasks import get_task, simulate

    spec = get_task(task)
    if spec.family == "ct":
        image = read_ct_picture(PICTURES["ct"], size=(size, size))
    else:
        image = resize(read_picture(PICTURES["natural"], channels=channels), (size, size))
    return simulate(spec, image, seed=seed)


def one_call_seconds(denoiser, shape: tuple, *, repeats: int = 5, device=None) -> float:
    """Median wall-clock seconds of one bare denoiser call ``D(x, σ)`` on a random (B, C, H, W) input.

    Args:
        denoiser: the prior (a :class:`scoreinv.model.denoiser.Denoiser`).
        shape: input shape (B, C, H, W).
        repeats: timed calls after two warm-up calls.
        device: where to run (default: the denoiser's device).
    """
    return statistics.median(_call_times(denoiser, shape, repeats=repeats, warmup=2, device=device))


def _call_times(denoiser, shape: tuple, *, repeats: int, warmup: int, device=None) -> list[float]:
    """Seconds of ``repeats`` bare calls ``D(x, σ)`` after ``warmup`` untimed ones (which pay one-off set-up)."""
    device = torch.device(device) if device is not None else next(denoiser.parameters()).device
    x = torch.rand(shape, generator=torch.Generator().manual_seed(0)).to(device)
    times = []
    with torch.no_grad():
        for i in range(warmup + repeats):
            _synchronize(device)
            started = time.perf_counter()
            denoiser(x, CALL_SIGMA)
            _synchronize(device)
            if i >= warmup:
                times.append(time.perf_counter() - started)
    return times


def measure_task(denoiser, task: str, *, size: int, repeats: int = 5, device=None, progress: bool = False) -> dict:
    """One default reconstruction of ``task`` at ``size``² with its timing figures.

    Args:
        denoiser: the prior, already on ``device``.
        task: a task of :data:`scoreinv.problems.tasks.TASKS`.
        size: image side in pixels.
        repeats: timed bare network calls before and again after the reconstruction (their median is "one call").
        device: "cpu", "cuda", or None (CUDA if available).
        progress: draw the sampler's progress bar on stderr.
    """
    from scoreinv.metrics.quality import psnr
    from scoreinv.solve.reconstruct import reconstruct

    operator, y, truth = speed_problem(task, size, channels=denoiser.channels or 1)
    shape = tuple(truth.shape)
    # one call: the median of bare calls just before and just after the reconstruction (same load on the machine)
    times = _call_times(denoiser, shape, repeats=repeats, warmup=2, device=device)
    result = reconstruct(y, operator, prior=denoiser, device=device, progress=progress)
    times += _call_times(denoiser, shape, repeats=repeats, warmup=0, device=device)
    call = statistics.median(times)
    network = result.nfe * call
    flops = call_flops(denoiser, shape, device=device)
    settings = result.settings
    return {"family": settings["task_family"], "task": task, "size": f"{truth.shape[-2]}x{truth.shape[-1]}",
            "channels": int(truth.shape[1]), "prior": settings["prior"], "method": settings["method"],
            "steps": settings["steps"], "nfe": result.nfe, "seconds": result.seconds, "call_seconds": call,
            "call_gflop": flops / 1e9, "gflops_per_second": flops / call / 1e9,
            "network_seconds": network, "overhead_percent": 100 * (result.seconds / network - 1),
            "psnr_db": float(psnr(result.mean.cpu(), truth))}


def peak_memory(prior: str, *, family: str = "inpaint", size: int = 512, device=None, threads: int = 0) -> dict:
    """Peak memory of one default reconstruction of ``family`` at ``size``²: on CPU the peak RSS of a fresh process,
    on CUDA the peak of ``torch.cuda.max_memory_allocated``.

    Args:
        prior: a shipped prior's name or a NAME.pt path.
        family: "inpaint", "deblur", "sr" or "ct".
        size: image side in pixels.
        device: "cpu", "cuda", or None (CUDA if available).
        threads: torch CPU threads of the measuring process (0: torch's default).
    """
    from scoreinv.model.devices import resolve_device

    device = resolve_device(device)
    request = {"prior": prior, "family": family, "size": size, "device": str(device), "threads": threads}
    if device.type == "cuda":
        return _measure_memory(request)
    child = subprocess.run([sys.executable, "-m", __name__, json.dumps(request)], capture_output=True, text=True)
    if child.returncode != 0:
        last = (child.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"the memory measurement process failed: {last}")
    return json.loads(child.stdout.strip().splitlines()[-1])


def task_prior(prior: str, task: str, size: int) -> str:
    """The natural prior timed on ``task``: ``prior``, or with ``prior="default"`` the one ``reconstruct`` runs on
    the task's row when none is named (:func:`scoreinv.solve.row_priors.default_prior_of`)."""
    from scoreinv.solve.row_priors import default_prior_of

    if prior != DEFAULT:
        return prior
    operator, _, truth = speed_problem(task, size)
    return default_prior_of(operator, target="estimate", channels=truth.shape[1])


def measure_speed(prior: str = DEFAULT, *, compare: str | None = None, ct_prior: str | None = "ct",
                  size: int = 256, memory_size: int | None = 512, memory_family: str = "inpaint", repeats: int = 5,
                  device=None, threads: int = 0, progress: bool = False, log=None) -> dict:
    """Time the default reconstruction of every task of :data:`TIMED_TASKS` and measure peak memory; returns the
    report.

    Args:
        prior: the natural prior (a shipped name or a NAME.pt path) for inpaint, deblur and sr, or "default":
            each task's default (:func:`task_prior`).
        compare: a second natural prior (a name, a path or "default") timed on the same tasks right after
            ``prior`` on each (old and new side by side in one run; its rows carry the ratio of its seconds to
            ``prior``'s), or None.
        ct_prior: the CT prior for the CT tasks (skipped with a note when it cannot be loaded; None skips them).
        size: image side of the timed reconstructions, pixels.
        memory_size: image side of the peak-memory reconstruction (None: no memory figure).
        memory_family: task family of the peak-memory reconstruction (its ``scoreinv solve`` default task).
        repeats: timed bare network calls before and after each reconstruction (their median is "one call").
        device: "cpu", "cuda", or None (CUDA if available).
        threads: torch CPU threads (0: leave torch's setting).
        progress: draw the samplers' progress bars on stderr.
        log: called with a line of text before each measurement (e.g. ``click.echo``), or None.
    """
    from scoreinv.model.devices import resolve_device
    from scoreinv.priors.registry import load_prior
    from scoreinv.problems.tasks import get_task

    if size < MIN_SIZE or (memory_size is not None and memory_size < MIN_SIZE):
        raise InputError(f"sizes must be at least {MIN_SIZE} pixels (the deblur kernel is 25x25), got {size} and "
                         f"{memory_size}")
    if repeats < 1:
        raise InputError(f"repeats must be at least 1, got {repeats}")
    if memory_family not in FAMILIES:
        raise InputError(f"unknown task family {memory_family!r}; choose one of {', '.join(FAMILIES)}")
    log = log or (lambda line: None)
    device = resolve_device(device)
    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        notes, loaded = [], {}

        def natural_for(task: str, chosen: str = prior):
            name = task_prior(chosen, task, size)
            if name not in loaded:
                loaded[name] = load_prior(name, device=device)
            return loaded[name]

        natural = natural_for(TIMED_TASKS[0])
        ct = None
        if ct_prior is None:
            notes.append("ct skipped: no CT prior given")
        else:
            try:
                ct = load_prior(ct_prior, device=device)
            except InputError as error:
                notes.append(f"ct skipped: {error}")
        rows = []
        for task in TIMED_TASKS:
            is_natural = get_task(task).family != "ct"
            denoiser = natural_for(task) if is_natural else ct
            if denoiser is None:
                continue
            log(f"timing {task} at {size}x{size} …")
            rows.append(measure_task(denoiser, task, size=size, repeats=repeats, device=device, progress=progress))
            if compare and is_natural:
                other = natural_for(task, compare)
                log(f"timing {task} at {size}x{size} with {other.name} …")
                row = measure_task(other, task, size=size, repeats=repeats, device=device, progress=progress)
                rows.append({**row, "vs_seconds": row["seconds"] / rows[-1]["seconds"],
                             "vs_psnr_db": row["psnr_db"] - rows[-1]["psnr_db"]})
        reference = {"dtype": str(precision_dtype(natural.precision)).removeprefix("torch."),
                     "gflops_per_second": matmul_gflops(dtype=precision_dtype(natural.precision), device=device)}
        memory = None
        if memory_size is not None:
            memory_prior = ct_prior if memory_family == "ct" else task_prior(prior, DEFAULT_TASK[memory_family], size)
            if memory_prior is None:
                raise InputError("the ct peak-memory measurement needs a CT prior")
            log(f"peak memory of {memory_family} at {memory_size}x{memory_size} …")
            memory = peak_memory(memory_prior, family=memory_family, size=memory_size, device=device,
                                 threads=threads or torch.get_num_threads())
    finally:
        torch.set_num_threads(previous_threads)
    return {"prior": DEFAULT_LABEL if prior == DEFAULT else natural.name,
            "prior_sha256": None if prior == DEFAULT else natural.card.get("sha256"),
            "compare": None if not compare else DEFAULT_LABEL if compare == DEFAULT else compare,
            "device": str(device),
            "threads": threads or previous_threads, "torch": torch.__version__, "size": size, "repeats": repeats,
            "rows": rows, "reference": reference, "memory": memory, "notes": notes}


def markdown_report(report: dict) -> str:
    """The report of :func:`measure_speed` as a Markdown table with the memory figure and notes below it."""
    compare = report.get("compare")
    def named(prior: str) -> str:
        return prior if prior == DEFAULT_LABEL else f"`{prior}`"

    priors = named(report["prior"]) + (f" and {named(compare)} (each task timed with both in turn)" if compare else "")
    lines = [f"Prior {priors} on {report['device']} (torch {report['torch']}, threads: "
             f"{report['threads']}); default settings, one sample; one call = median of {2 * report['repeats']} "
             f"bare D(x, σ) calls around each reconstruction.", "",
             "| task | size | prior | method | NFE | total (s) | one call (s) | GFLOP a call | GFLOP/s | NFE × call (s) "
             "| overhead | PSNR (dB) |" + (" time vs first | Δ PSNR (dB) |" if compare else ""),
             "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
             + (" ---: | ---: |" if compare else "")]
    for row in report["rows"]:
        versus = ""
        if compare:
            versus = (f" {row['vs_seconds']:.2f} × | {row['vs_psnr_db']:+.2f} |" if "vs_seconds" in row
                      else " – | – |")
        lines.append(f"| {row['task']} | {row['size']} | {row['prior']} | {row['method']} | {row['nfe']} | "
                     f"{row['seconds']:.2f} | {row['call_seconds']:.4f} | {row['call_gflop']:.1f} | "
                     f"{row['gflops_per_second']:.0f} | {row['network_seconds']:.2f} | "
                     f"{row['overhead_percent']:+.1f} % | {row['psnr_db']:.2f} |" + versus)
    lines += ["", flops_sentence(report)] if report["rows"] else []
    memory = report.get("memory")
    if memory:
        lines.append("")
        if memory["kind"] == "cuda":
            lines.append(f"Peak memory, {memory['task']} at {memory['size']}: {memory['peak_mb']:.0f} MB "
                         f"(torch.cuda.max_memory_allocated).")
        else:
            lines.append(f"Peak memory, {memory['task']} at {memory['size']}: {memory['peak_mb']:.0f} MB peak RSS "
                         f"of a fresh process, of which {memory['before_mb']:.0f} MB before reconstructing (Python, "
                         f"torch, the prior and the measurement).")
    lines += ["", *[f"Note: {note}" for note in report["notes"]]] if report["notes"] else []
    return "\n".join(lines) + "\n"


def flops_sentence(report: dict) -> str:
    """What the GFLOP/s column counts: the work of one call of each prior and size, and the reference rate."""
    work = {(row["prior"], row["size"]): row["call_gflop"] for row in report["rows"]}
    calls = "; ".join(f"{prior} at {size}: {gflop:.3g} GFLOP" for (prior, size), gflop in work.items())
    reference = report.get("reference")
    scale = (f"; for scale, a 1024 × 1024 {reference['dtype']} matrix product runs at "
             f"{reference['gflops_per_second']:.0f} GFLOP/s on the same threads" if reference else "")
    return (f"GFLOP/s: the FLOPs of one D(x, σ) call ({calls}; convolutions and matrix products, 2 a multiply-add, "
            f"counted by torch's FlopCounterMode) over the one-call time{scale}.")


def _measure_memory(request: dict) -> dict:
    """Load the prior, build the problem and reconstruct once, as ``request`` says; the memory figures."""
    from scoreinv.priors.registry import load_prior
    from scoreinv.solve.reconstruct import reconstruct

    if request.get("threads"):
        torch.set_num_threads(int(request["threads"]))
    device = torch.device(request["device"])
    denoiser = load_prior(request["prior"], device=device)
    task = DEFAULT_TASK[request["family"]]
    operator, y, _ = speed_problem(task, int(request["size"]), channels=denoiser.channels or 1)
    figures = {"task": task, "size": f"{request['size']}x{request['size']}", "device": str(device)}
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        result = reconstruct(y, operator, prior=denoiser, device=device)
        torch.cuda.synchronize(device)
        return {**figures, "kind": "cuda", "before_mb": before / 2 ** 20,
                "peak_mb": torch.cuda.max_memory_allocated(device) / 2 ** 20, "nfe": result.nfe}
    before = _max_rss_bytes()
    result = reconstruct(y, operator, prior=denoiser, device=device)
    return {**figures, "kind": "cpu-rss", "before_mb": before / 2 ** 20, "peak_mb": _max_rss_bytes() / 2 ** 20,
            "nfe": result.nfe}


def _max_rss_bytes() -> int:
    """This process's peak resident set size in bytes (ru_maxrss is in kilobytes on Linux, bytes on macOS)."""
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value if sys.platform == "darwin" else value * 1024


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


if __name__ == "__main__":  # the fresh process of peak_memory(): one JSON line on stdout
    print(json.dumps(_measure_memory(json.loads(sys.argv[1]))))
