"""The budget study of the Langevin-type methods: PSNR and LPIPS against network evaluations, beside the task's
classical baseline and scoreinv's default, on validation images only (BSD68, ct/train), never a reported set.

    python -m scoreinv.bench.budgets --tasks inpaint-random,deblur-gauss --budgets 20,50,100,200,400 --limit 1 \\
        --crop 256 --markdown docs/langevin.md --section budgets

A method is *competitive* at a budget when its result beats the classical baseline on both PSNR and LPIPS
averaged over the images; *perceptual* when it beats it on LPIPS only (a single posterior draw is about 3 dB
under the posterior mean by construction, E‖x_s − x‖² = 2 E‖E[x | y] − x‖², so a sampler can win on LPIPS alone).
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import dataclass

from scoreinv.bench.options import centre_crop

METHODS = ("langevin", "pc", "mixing")
BUDGETS = (20, 50, 100, 200, 400)


@dataclass(frozen=True)
class Point:
    """Mean scores of one method at one budget over the images (``budget`` None: the baseline or the default)."""

    task: str
    method: str
    budget: int | None
    nfe: int
    psnr: float
    lpips: float | None
    seconds: float


def study(task_name: str, *, methods=METHODS, budgets=BUDGETS, data: str = "bsd68", limit: int = 1,
          crop: int | None = None, seed: int = 0, device=None, prior: str | None = None, log=None) -> list[Point]:
    """The task's classical baseline, scoreinv's default and every method at every budget, on the same
    simulated measurements.

    Args:
        task_name: a task of :data:`scoreinv.problems.tasks.TASKS`.
        methods: methods of :data:`scoreinv.sampling.methods.METHODS`.
        budgets: network evaluations a sample (``reconstruct``'s ``steps``), each ≥ 1.
        data: bsd68 or a folder of validation images (ct/train slices for CT); reported sets are refused.
        limit: images used (≥ 1).
        crop: side of the central crop of each image in pixels (None: whole images).
        seed: measurement noise and sampler seed (plus the image's index).
        device: torch device (None: CUDA if available).
        prior: a prior's name or path (default: the task family's shipped prior).
        log: called with each :class:`Point` as it is measured (progress), or None.
    """
    from scoreinv import reconstruct
    from scoreinv.baselines import WARM_STARTS
    from scoreinv.bench.runner import Scorer
    from scoreinv.bench.tune import refuse_reported, task_images_and_prior
    from scoreinv.problems.tasks import simulate

    refuse_reported(data)
    task, images, denoiser, device = task_images_and_prior(task_name, data=data, limit=limit, device=device,
                                                           prior=prior)
    problems = [simulate(task, centre_crop(image, crop), index=i, seed=seed) for i, (_, image) in enumerate(images)]
    scorer = Scorer()

    def measure(method: str, budget: int | None, run) -> Point:
        scores, seconds, nfe = [], 0.0, 0
        for i, (operator, y, truth) in enumerate(problems):
            started = time.monotonic()
            x, nfe = run(i, operator, y)
            seconds += time.monotonic() - started
            scores.append(scorer(x.cpu(), truth))
        lpips = [s["lpips"] for s in scores]
        point = Point(task=task_name, method=method, budget=budget, nfe=nfe,
                      psnr=sum(s["psnr"] for s in scores) / len(scores),
                      lpips=None if None in lpips else sum(lpips) / len(lpips), seconds=seconds / len(problems))
        if log is not None:
            log(point)
        return point

    def baseline(i, operator, y):
        return WARM_STARTS[task.family](y, operator, sigma_y=task.sigma_y).clamp(0, 1), 0

    def sampler(method, budget):
        def run(i, operator, y):
            result = reconstruct(y, operator, prior=denoiser, method=method, steps=budget, seed=seed + i,
                                 device=device)
            return result.mean, result.nfe
        return run

    points = [measure(WARM_STARTS[task.family].__name__.removesuffix("_baseline"), None, baseline),
              measure("default", None, sampler(None, None))]
    points += [measure(method, budget, sampler(method, budget)) for method in methods for budget in budgets]
    return points


def competitive(points: list[Point], method: str) -> tuple[int | None, int | None]:
    """(smallest budget beating the baseline on PSNR and LPIPS, smallest beating it on LPIPS) for ``method``
    among one task's points (the baseline is the first point); None where no measured budget does."""
    base = points[0]
    rows = sorted((p for p in points if p.method == method and p.budget is not None), key=lambda p: p.budget)
    better = [p for p in rows if p.lpips is not None and base.lpips is not None and p.lpips < base.lpips]
    both = [p for p in better if p.psnr > base.psnr]
    return (both[0].budget if both else None), (better[0].budget if better else None)


def markdown_table(points: list[Point]) -> str:
    """One table a task: a row a method, a column a budget, cells PSNR (dB) / LPIPS; then the verdict."""
    lines = []
    for task in dict.fromkeys(p.task for p in points):
        rows = [p for p in points if p.task == task]
        budgets = sorted({p.budget for p in rows if p.budget is not None})
        base, default = rows[0], rows[1]
        lines += [f"**{task}**: {base.method} {cell(base)}; scoreinv's default ({default.nfe} NFE) {cell(default)}", "",
                  "| method | " + " | ".join(f"{b} NFE" for b in budgets) + " | beats "
                  f"{base.method} on PSNR and LPIPS from | on LPIPS from |",
                  "| --- |" + " ---: |" * (len(budgets) + 2)]
        for method in dict.fromkeys(p.method for p in rows if p.budget is not None):
            cells = {p.budget: p for p in rows if p.method == method}
            both, perceptual = competitive(rows, method)
            lines.append(f"| {method} | " + " | ".join(cell(cells[b]) if b in cells else "" for b in budgets)
                         + f" | {verdict(both)} | {verdict(perceptual)} |")
        lines.append("")
    return "\n".join(lines)


def cell(point: Point) -> str:
    lpips = "n/a" if point.lpips is None else f"{point.lpips:.3f}"
    return f"{point.psnr:.2f} / {lpips}"


def verdict(budget: int | None) -> str:
    return "—" if budget is None else f"{budget} NFE"


def main(argv=None) -> None:
    from scoreinv.bench.docs_section import check_section, write_section

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="inpaint-random,deblur-gauss", help="comma-separated task names")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated methods")
    parser.add_argument("--budgets", default=",".join(map(str, BUDGETS)), help="comma-separated NFE a sample")
    parser.add_argument("--data", default="bsd68", help="bsd68, or a folder of validation images (ct/train)")
    parser.add_argument("--limit", type=int, default=1, help="images used")
    parser.add_argument("--crop", type=int, default=None, help="side of each image's central crop, pixels")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="torch device (default: CUDA if available)")
    parser.add_argument("--markdown", default=None, help="a Markdown page whose --section receives the table")
    parser.add_argument("--section", default=None, help="the section of --markdown to replace")
    args = parser.parse_args(argv)
    if args.markdown:
        check_section(args.markdown, args.section)
    points = []
    for task in args.tasks.split(","):
        points += study(task.strip(), methods=args.methods.split(","), data=args.data, limit=args.limit,
                        budgets=[int(b) for b in args.budgets.split(",")], crop=args.crop, seed=args.seed,
                        device=args.device, log=lambda p: print(p, file=sys.stderr, flush=True))
    table = markdown_table(points)
    print(table)
    if args.markdown:
        command = shlex.join(["python", "-m", "scoreinv.bench.budgets", *(argv if argv is not None else sys.argv[1:])])
        from scoreinv.model.devices import resolve_device

        write_section(args.markdown, args.section, command=command, table=table, device=resolve_device(args.device))


if __name__ == "__main__":
    main()
