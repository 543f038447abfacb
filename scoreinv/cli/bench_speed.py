"""``scoreinv bench speed``: seconds, NFE, GFLOP/s, sampler overhead and peak memory of the default reconstructions."""
from __future__ import annotations

import json
import shlex

import click

from scoreinv.cli.common import Command, device_option
from scoreinv.cli.markdown import check_markdown, markdown_options
from scoreinv.problems.measured import FAMILIES


@click.command("speed", cls=Command)
@click.option("--prior", default="default", show_default=True,
              help="Prior of inpaint, deblur and sr: a shipped prior's name or a NAME.pt path; default: each "
                   "task's own (the prior reconstruct runs when none is named).")
@click.option("--compare", default=None,
              help="A second prior of inpaint, deblur and sr (a name, a NAME.pt path or 'default': each task's "
                   "own), timed on each task right after --prior (old and new side by side in one run).")
@click.option("--ct-prior", default="ct", show_default=True,
              help="Prior of the CT tasks (skipped with a note when it is not there).")
@click.option("--size", type=click.IntRange(32), default=256, show_default=True,
              help="Side in pixels of the timed reconstructions.")
@click.option("--memory-size", type=click.IntRange(0), default=512, show_default=True,
              help="Side in pixels of the peak-memory reconstruction, at least 32 (0: skip it).")
@click.option("--memory-task", type=click.Choice(FAMILIES), default="inpaint", show_default=True,
              help="Task family of the peak-memory reconstruction.")
@click.option("--repeats", type=click.IntRange(1), default=5, show_default=True,
              help="Timed bare network calls; their median is 'one call'.")
@click.option("--threads", type=click.IntRange(0), default=0, show_default=True,
              help="torch CPU threads (0: torch's default, all cores).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Also write the figures here.")
@device_option
@click.option("--quiet", is_flag=True, help="No progress bars.")
@markdown_options
def speed_command(prior, compare, ct_prior, size, memory_size, memory_task, repeats, threads, json_path, device, quiet,
                  markdown, section):
    """Time one default reconstruction per task (inpaint-random, deblur-gauss, sr4; ct-sparse and ct-limited
    when the CT prior exists) and measure peak memory; prints a Markdown table.

    Per task: total seconds of reconstruct() with its defaults, NFE, the median seconds of one bare network call
    D(x, σ), its GFLOP/s (the call's FLOPs, counted by torch's FlopCounterMode, over that time; a matrix product's
    rate on the same threads is printed for scale), and the sampler overhead = total / (NFE × one call) − 1. Peak
    memory: the peak RSS of a fresh process on CPU, torch.cuda.max_memory_allocated on CUDA.

    \b
    Examples:
      scoreinv bench speed
      scoreinv bench speed --prior natural-gray --size 256 --memory-size 512 --json speed.json
      scoreinv bench speed --prior runs/mine.pt --memory-size 0 --device cpu --threads 2
      scoreinv bench speed --prior natural-gray --compare natural-gray-fast   # old and new side by side
      scoreinv bench speed --prior natural-gray --compare default   # one prior everywhere vs each row's own
      scoreinv bench speed --repeats 3 --markdown docs/performance.md --section speed
    """
    from scoreinv.bench.docs_section import write_section
    from scoreinv.bench.speed import markdown_report, measure_speed
    from scoreinv.io.atomic import atomic_path

    check_markdown(markdown, section)

    report = measure_speed(prior, compare=compare, ct_prior=ct_prior, size=size, memory_size=memory_size or None,
                           memory_family=memory_task, repeats=repeats, device=device, threads=threads,
                           progress=not quiet, log=None if quiet else lambda line: click.echo(line, err=True))
    table = markdown_report(report)
    click.echo(table, nl=False)
    if markdown:
        command = shlex.join(["scoreinv", "bench", "speed", "--prior", prior] + (["--compare", compare] if compare else [])
                             + ["--ct-prior", ct_prior, "--size",
                              str(size), "--memory-size", str(memory_size), "--memory-task", memory_task, "--repeats",
                              str(repeats), "--threads", str(threads)] + (["--device", device] if device else []))
        write_section(markdown, section, command=command, table=table, device=report.get("device", "cpu"))
    if json_path:
        with atomic_path(json_path) as tmp:
            tmp.write_text(json.dumps(report, indent=1) + "\n")
