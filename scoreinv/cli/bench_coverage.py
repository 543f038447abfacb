"""``scoreinv bench coverage``: coverage of the 50 % and 90 % intervals over the unknown pixels, per task."""
from __future__ import annotations

import shlex

import click

from scoreinv.cli.common import Command, device_option
from scoreinv.cli.markdown import check_markdown, markdown_options


@click.command("coverage", cls=Command)
@click.option("--tasks", "task_names", default="inpaint-random,inpaint-box,deblur-gauss,deblur-motion,sr4",
              show_default=True, help="Comma-separated tasks.")
@click.option("--data", default="bsd68", show_default=True,
              help="set12, bsd68, cbsd68, ct-test, ct-train or a folder of images.")
@click.option("--limit", type=click.IntRange(1), default=4, show_default=True, help="Images used.")
@click.option("--samples", type=click.IntRange(2), default=8, show_default=True, help="Samples an image.")
@click.option("--target", type=click.Choice(["sample", "estimate"]), default="sample", show_default=True,
              help="reconstruct's target.")
@click.option("--prior", default=None, help="A prior's name or NAME.pt path [default: the task family's].")
@click.option("--seed", type=click.IntRange(0, 2 ** 63 - 1), default=0, show_default=True)
@device_option
@markdown_options
def coverage_command(task_names, data, limit, samples, target, prior, seed, device, markdown, section):
    """How often mean ± 0.674 std, mean ± 1.645 std and the samples' central quantile intervals hold the true
    pixel (nominal 50 % and 90 %), over the pixels y leaves unknown (the missing ones for inpainting, all
    elsewhere), with the RMS of (x − mean) / std, the rank correlation of std with |error| and the mean's PSNR.

    \b
    Examples:
      scoreinv bench coverage --tasks inpaint-random,sr4 --data bsd68 --limit 4 --samples 8
      scoreinv bench coverage --tasks ct-sparse --data ct-test --target estimate
    """
    from scoreinv.bench.coverage import markdown_table, measure_coverage
    from scoreinv.bench.docs_section import write_section
    from scoreinv.model.devices import resolve_device

    check_markdown(markdown, section)
    rows = [measure_coverage(name.strip(), data=data, limit=limit, n_samples=samples, target=target, seed=seed,
                             device=device, prior=prior) for name in task_names.split(",") if name.strip()]
    table = markdown_table(rows)
    click.echo(table, nl=False)
    if markdown:
        command = shlex.join(["scoreinv", "bench", "coverage", "--tasks", task_names, "--data", data, "--limit",
                              str(limit), "--samples", str(samples), "--target", target, "--seed", str(seed)]
                             + (["--prior", prior] if prior else []))
        write_section(markdown, section, command=command, table=table, device=str(resolve_device(device)))
