"""Speed at equal quality: candidate ways of running the prior, reconstructed side by side in one process.

Each candidate is the default reconstruction (``reconstruct`` with its task row's settings) with one change: the
network's precision or memory layout, ``torch.compile``, int8 quantisation (:mod:`scoreinv.bench.candidate_priors`
builds those variants), fewer network calls, or no self-ensemble. Candidates run interleaved round-robin (A, B, C,
…, then A, B, C, … again for ``--repeats`` rounds) on one simulated measurement, so that the load of a shared
machine falls on all of them alike; the table gives each one's median seconds, the median over rounds of its ratio
to the default's seconds in the same round, and its PSNR against the truth beside the default's. One-off set-up
(compilation, calibration) is done before the rounds and reported in the notes. Below the table: the share of a
call's FLOPs in Linear layers (all that dynamic quantisation reaches) and the FLOPs of a pixel-unshuffle stem for
the next prior. Run it as ``python -m scoreinv.bench.candidates --threads 2``.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

import torch

from scoreinv.bench import candidate_priors as cp
from scoreinv.errors import InputError, first_line

PICTURES = ("camera", "bsd68")
HOLDS_RATIO = 0.9  # at least 10 % faster …
HOLDS_DB = -0.05  # … at most 0.05 dB lower PSNR than the default
CALIBRATION_IMAGES, CALIBRATION_CROP = 4, 128


@dataclass
class Candidate:
    """One way of running the reconstruction.

    Attributes:
        name: its row in the table.
        build: ``build(base, context) -> (denoiser, note)`` from the loaded prior and the run's context (``shape``:
            the image's (B, C, H, W); ``crops``: a function returning calibration crops).
        options: extra keyword arguments of ``reconstruct`` (e.g. ``steps``, ``self_ensemble``).
    """

    name: str
    build: Callable
    options: dict = field(default_factory=dict)


def _same(base, context):
    return base, ""


def _compiled(freezing: bool):
    def build(base, context):
        made, seconds = cp.compiled(base, context["shape"], freezing=freezing)
        return made, f"compilation and first call {seconds:.0f} s (not in the seconds)"
    return build


def _dynamic(base, context):
    shares = cp.flop_shares(base, context["shape"])
    return cp.dynamic_int8(base), f"Linear layers are {100 * shares['linear'] / shares['total']:.2g} % of the FLOPs"


def _static(base, context):
    crops = context["crops"]()
    started = time.perf_counter()
    made = cp.static_int8(base, crops)
    return made, (f"convolutions int8, the rest fp32; calibrated on {crops.shape[0]} BSD68 crops of "
                  f"{crops.shape[-1]}² × {len(cp.CALIBRATION_SIGMAS)} σ in {time.perf_counter() - started:.0f} s")


def candidate_list(steps=(16, 12)) -> list[Candidate]:
    """The candidates in their table order, the default first.

    Args:
        steps: the step counts of the fewer-network-calls rows.
    """
    rows = [Candidate("default", _same),
            Candidate("fp32", lambda b, c: (cp.fp32(b), "autocast off")),
            Candidate("bf16 autocast", lambda b, c: (cp.bf16_autocast(b), "the default here" if b.precision == "bf16"
                                                     else "")),
            Candidate("bf16 weights", lambda b, c: (cp.bf16_weights(b), "every layer bf16, no autocast")),
            Candidate("channels-last input", lambda b, c: (cp.layout(b, torch.channels_last),
                                                           "weights and input channels-last")),
            Candidate("NCHW", lambda b, c: (cp.layout(b, torch.contiguous_format),
                                            "contiguous weights (shipped: channels-last weights)")),
            Candidate("torch.compile", _compiled(False)),
            Candidate("torch.compile, freezing", _compiled(True)),
            Candidate("int8 dynamic (Linear)", _dynamic),
            Candidate("int8 static (FX, convs)", _static)]
    rows += [Candidate(f"{n} steps", _same, {"steps": n}) for n in steps]
    rows.append(Candidate("no self-ensemble", _same, {"self_ensemble": False}))
    return rows


def round_robin(names: list[str], repeats: int) -> list[tuple[int, str]]:
    """The run order: (round, name) for every name in order, round after round.

    Args:
        names: the candidates' names.
        repeats: rounds (≥ 1).
    """
    return [(r, name) for r in range(repeats) for name in names]


def benchmark_problem(task: str, picture: str, *, size: int = 256, index: int = 0):
    """(operator, y, truth, description) of ``task`` on the README's 512² camera or on a BSD68 validation image.

    Args:
        task: a natural-image task of :data:`scoreinv.problems.tasks.TASKS` (e.g. inpaint-random, deblur-gauss).
        picture: "camera" (``skimage:camera`` as ``scoreinv solve --simulate`` builds it) or "bsd68".
        size: side of the centred BSD68 crop, pixels.
        index: which BSD68 image (by name).
    """
    from scoreinv.io.datasets import load_images
    from scoreinv.problems.simulated import simulated
    from scoreinv.problems.tasks import get_task, simulate

    if picture == "camera":
        problem = simulated(task, "skimage:camera", channels=1)
        return problem.operator, problem.y, problem.truth, "skimage:camera"
    images = load_images("bsd68")
    if not 0 <= index < len(images):
        raise InputError(f"--index must be in [0, {len(images)}), got {index}")
    name, image = images[index]
    h, w = image.shape[-2:]
    if size > min(h, w):
        raise InputError(f"--size {size} is larger than BSD68 image {name} ({h}x{w})")
    top, left = (h - size) // 2, (w - size) // 2
    operator, y, truth = simulate(get_task(task), image[:, top:top + size, left:left + size])
    return operator, y, truth, f"BSD68 {name}, centred {size}² crop"


def calibration_crops(*, exclude: int | None = None, count: int = CALIBRATION_IMAGES,
                      side: int = CALIBRATION_CROP, seed: int = 0) -> torch.Tensor:
    """Random ``side``² crops (count, 1, side, side) in [0, 1] of the last ``count`` BSD68 images by name, never
    the benchmarked one.

    Args:
        exclude: index of the benchmarked BSD68 image, or None.
        count: crops (one an image).
        side: crop side in pixels (a multiple of the network's factor).
        seed: seeds the crop positions.
    """
    from scoreinv.io.datasets import load_images

    images = [image for i, (_, image) in enumerate(load_images("bsd68")) if i != exclude][-count:]
    generator = torch.Generator().manual_seed(seed)
    crops = []
    for image in images:
        h, w = image.shape[-2:]
        top, left = (int(torch.randint(0, n - side + 1, (1,), generator=generator)) for n in (h, w))
        crops.append(image[:1, top:top + side, left:left + side])
    return torch.stack(crops)


def run(candidates: list[Candidate], *, task: str = "inpaint-random", picture: str = "camera", size: int = 256,
        index: int = 0, repeats: int = 2, prior: str = "natural-gray", log=None) -> dict:
    """Build every candidate, then reconstruct with each one round-robin; returns the report.

    Args:
        candidates: as :func:`candidate_list` gives them, the default first.
        task: a natural-image task (see :func:`benchmark_problem`).
        picture: "camera" or "bsd68".
        size: BSD68 crop side, pixels.
        index: the BSD68 image.
        repeats: rounds (≥ 1).
        prior: the prior's name or NAME.pt path.
        log: called with a line before each step (e.g. ``print`` to stderr), or None.
    """
    from scoreinv.metrics.quality import psnr
    from scoreinv.priors.registry import load_prior
    from scoreinv.solve.reconstruct import reconstruct

    if repeats < 1:
        raise InputError(f"--repeats must be at least 1, got {repeats}")
    log = log or (lambda line: None)
    base = load_prior(prior, device="cpu")
    operator, y, truth, label = benchmark_problem(task, picture, size=size, index=index)
    context = {"shape": tuple(truth.shape),
               "crops": lambda: calibration_crops(exclude=index if picture == "bsd68" else None)}
    rows = {}
    for candidate in candidates:
        log(f"building {candidate.name} …")
        row = rows[candidate.name] = {"name": candidate.name, "seconds": [], "psnr": [], "nfe": None, "error": None}
        try:
            row["denoiser"], row["note"] = candidate.build(base, context)
            # untimed warm-up: oneDNN's primitives for these shapes, and any recompilation, before the rounds
            reconstruct(y, operator, prior=row["denoiser"], device="cpu", **{**candidate.options, "steps": 2})
        except Exception as error:  # noqa: BLE001 - a candidate that cannot be built is a row of the table
            row["error"] = f"{type(error).__name__}: {first_line(str(error))}"
    for round_, name in round_robin([c.name for c in candidates], repeats):
        row = rows[name]
        if row["error"]:
            continue
        options = next(c.options for c in candidates if c.name == name)
        log(f"round {round_ + 1}/{repeats}: {name} …")
        started = time.perf_counter()
        try:
            result = reconstruct(y, operator, prior=row["denoiser"], device="cpu", **options)
        except Exception as error:  # noqa: BLE001 - a candidate that fails to run is a row of the table
            row["error"] = f"{type(error).__name__}: {first_line(str(error))}"
            continue
        row["seconds"].append(time.perf_counter() - started)
        row["psnr"].append(float(psnr(result.mean.cpu(), truth)))
        log(f"  {row['seconds'][-1]:.2f} s, {row['psnr'][-1]:.2f} dB, {result.nfe} NFE")
        row["nfe"], row["settings"] = result.nfe, result.settings
    for row in rows.values():
        row.pop("denoiser", None)
    default = rows[candidates[0].name]
    return {"task": task, "picture": label, "size": "x".join(map(str, truth.shape[-2:])), "prior": base.name,
            "precision": base.precision, "steps": default.get("settings", {}).get("steps"), "repeats": repeats,
            "threads": torch.get_num_threads(), "torch": torch.__version__, "rows": list(rows.values()),
            "linear_share": cp.flop_shares(base, tuple(truth.shape)),
            "next_prior": cp.unshuffle_flops(base.net.config, tuple(truth.shape))}


def summary(report: dict) -> list[dict]:
    """Per candidate: median seconds, median ratio to the default in the same round, PSNR, ΔPSNR, NFE, notes and
    whether it holds (≥ 10 % faster at ≤ 0.05 dB lower PSNR)."""
    rows = report["rows"]
    default = rows[0]
    out = []
    for row in rows:
        ratios = [s / d for s, d in zip(row["seconds"], default["seconds"])]
        done = bool(row["seconds"]) and not row["error"]
        value = statistics.median(row["psnr"]) if done else None
        delta = value - statistics.median(default["psnr"]) if done and default["psnr"] else None
        ratio = statistics.median(ratios) if done and ratios else None
        holds = bool(ratio is not None and delta is not None and row is not default and ratio <= HOLDS_RATIO
                     and delta >= HOLDS_DB)
        note = f"failed: {row['error']}" if row["error"] else row.get("note", "")
        out.append({"name": row["name"], "seconds": statistics.median(row["seconds"]) if done else None,
                    "ratio": ratio, "psnr": value, "delta": delta, "nfe": row["nfe"], "holds": holds,
                    "note": "; ".join(part for part in ("holds" if holds else "", note) if part)})
    return out


def markdown(report: dict) -> str:
    """The report of :func:`run` as Markdown: a sentence on the set-up, the candidates' table, the default's
    seconds per round, the Linear layers' share of the FLOPs, and the next prior's FLOPs."""
    def number(value, spec):
        return "–" if value is None else format(value, spec)

    lines = [f"Task {report['task']} on {report['picture']} ({report['size']}), prior `{report['prior']}` (loaded "
             f"precision {report['precision']}, default row: {report['steps']} steps), {report['repeats']} rounds "
             f"run round-robin in one process, torch {report['torch']} on {report['threads']} threads. Seconds: "
             f"wall clock of one `reconstruct` call, median over rounds; ratio: median over rounds of seconds over "
             f"the default's in the same round; PSNR against the truth (identical in every round unless noted); "
             f"a candidate holds when it is at least 10 % faster and at most 0.05 dB lower.", "",
             "| candidate | seconds (median) | ratio to default | PSNR (dB) | ΔPSNR (dB) | NFE | notes |",
             "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for row in summary(report):
        lines.append(f"| {row['name']} | {number(row['seconds'], '.2f')} | {number(row['ratio'], '.3f')} | "
                     f"{number(row['psnr'], '.2f')} | {number(row['delta'], '+.2f')} | {row['nfe'] or '–'} | "
                     f"{row['note']} |")
    default = report["rows"][0]
    spread = [row["name"] for row in report["rows"] if len(set(round(p, 4) for p in row["psnr"])) > 1]
    lines += ["", "The default's seconds per round: " + (", ".join(f"{s:.2f}" for s in default["seconds"]) or "–")
              + "." + (f" PSNR varied between rounds for: {', '.join(spread)}." if spread else "")]
    share = report["linear_share"]
    lines += ["", f"One call at {report['size']}: {share['total'] / 1e9:.1f} GFLOP, of which convolutions "
                  f"{100 * share['conv'] / share['total']:.2f} % and Linear layers (noise embedding, FiLM) "
                  f"{100 * share['linear'] / share['total']:.2f} %."]
    lines += ["", f"FLOPs of one call at {report['size']} for the next prior (random weights, counted on the meta "
                  f"device; not trained, so no PSNR):", "", "| design | parameters (M) | GFLOP a call | vs shipped |",
              "| --- | ---: | ---: | ---: |"]
    shipped = report["next_prior"][0]["gflop"]
    for row in report["next_prior"]:
        lines.append(f"| {row['design']} | {row['params_m']:.2f} | {row['gflop']:.1f} | "
                     f"{row['gflop'] / shipped:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m scoreinv.bench.candidates", description=__doc__.split("\n")[0])
    parser.add_argument("--task", default="inpaint-random", help="a natural-image task [inpaint-random]")
    parser.add_argument("--picture", choices=PICTURES, default="camera",
                        help="the README's 512² camera or a BSD68 validation image [camera]")
    parser.add_argument("--index", type=int, default=0, help="the BSD68 image, by name order [0]")
    parser.add_argument("--size", type=int, default=256, help="side of the centred BSD68 crop [256]")
    parser.add_argument("--repeats", type=int, default=2, help="rounds [2]")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default) [0]")
    parser.add_argument("--steps", default="16,12", help="step counts of the fewer-calls rows [16,12]")
    parser.add_argument("--only", help="comma-separated candidate names to run (the default always runs)")
    parser.add_argument("--prior", default="natural-gray", help="the prior [natural-gray]")
    parser.add_argument("--markdown", help="also write the table into this page's section --section")
    parser.add_argument("--section", default="candidates", help="the page's section [candidates]")
    args = parser.parse_args(argv)
    try:
        steps = tuple(int(part) for part in args.steps.split(",") if part.strip())
    except ValueError:
        parser.error(f"--steps: whole numbers, comma-separated, expected: {args.steps!r}")
    candidates = candidate_list(steps)
    if args.only:
        wanted = {part.strip() for part in args.only.split(",")}
        unknown = wanted - {c.name for c in candidates}
        if unknown:
            parser.error(f"--only: unknown candidate(s) {', '.join(sorted(unknown))}")
        candidates = [c for c in candidates if c.name == "default" or c.name in wanted]
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        if args.markdown:
            from scoreinv.bench.docs_section import check_section

            check_section(args.markdown, args.section)
        started = time.monotonic()
        report = run(candidates, task=args.task, picture=args.picture, size=args.size, index=args.index,
                     repeats=args.repeats, prior=args.prior, log=lambda line: print(line, file=sys.stderr))
        text = markdown(report)
        from scoreinv.bench.docs_section import publish

        publish(text, started=started, prog=parser.prog, argv=argv, markdown=args.markdown, section=args.section)
    except InputError as error:
        parser.exit(1, f"error: {error}\n")


if __name__ == "__main__":
    main()
