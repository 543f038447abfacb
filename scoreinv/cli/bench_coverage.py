"""``scoreinv bench coverage``: coverage of the 50 % and 90 % intervals over the unknown pixels, per task."""
from __future__ import annotations

import shlex

import click

from scoreinv.cli.common import Command, device_option
from scoreinv.cli.markdown import check_markdown, markdown_options
from scoreinv.errors import InputError


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
@click.option("--crop", type=click.IntRange(16), default=None, help="Centre crops of this side in pixels.")
@click.option("--fit", is_flag=True, help="Fit the conformal calibration of each task on these validation images "
              "(never a reported test set) and print it, instead of measuring coverage.")
@click.option("--write-card", is_flag=True, help="With --fit: store the fitted calibrations in the prior's model card "
              "(NAME.json and NAME.md beside its weights), where reconstruct applies them.")
@device_option
@markdown_options
def coverage_command(task_names, data, limit, samples, target, prior, seed, crop, fit, write_card, device, markdown,
                     section):
    """How often mean ± 0.674 std, mean ± 1.645 std and the samples' central quantile intervals hold the true
    pixel (nominal 50 % and 90 %), over the pixels y leaves unknown (the missing ones for inpainting, all
    elsewhere), with the RMS of (x − mean) / std, the rank correlation of std with |error| and the mean's PSNR.

    \b
    Examples:
      scoreinv bench coverage --tasks inpaint-random,sr4 --data bsd68 --limit 4 --samples 8
      scoreinv bench coverage --tasks ct-sparse --data ct-test --target estimate
      scoreinv bench coverage --fit --write-card --tasks sr4 --data bsd68 --crop 256 --limit 4
    """
    from scoreinv.bench.coverage import calibration_table, fit_calibration, markdown_table, measure_coverage
    from scoreinv.bench.docs_section import write_section
    from scoreinv.bench.tune import refuse_reported
    from scoreinv.model.devices import resolve_device

    check_markdown(markdown, section)
    if write_card and not fit:
        raise InputError("--write-card stores a fit: add --fit")
    names = [name.strip() for name in task_names.split(",") if name.strip()]
    options = dict(data=data, limit=limit, n_samples=samples, target=target, seed=seed, device=device, prior=prior,
                   crop=crop)
    if fit:
        refuse_reported(data)
    rows = []
    for name in names:  # each task's line printed (and its fit stored) as soon as it is done
        rows.append((name, *fit_calibration(name, **options)) if fit else measure_coverage(name, **options))
        click.echo((calibration_table if fit else markdown_table)(rows).splitlines()[-1])
        if fit and write_card:
            click.echo(f"wrote the calibration into {store_calibrations(rows[-1:], target=target, prior=prior)}")
    table = (calibration_table if fit else markdown_table)(rows)
    click.echo(table, nl=False)
    if markdown:
        command = shlex.join(["scoreinv", "bench", "coverage", "--tasks", task_names, "--data", data, "--limit",
                              str(limit), "--samples", str(samples), "--target", target, "--seed", str(seed)]
                             + (["--prior", prior] if prior else []) + (["--crop", str(crop)] if crop else [])
                             + (["--fit"] if fit else []) + (["--write-card"] if write_card else []))
        write_section(markdown, section, command=command, table=table, device=str(resolve_device(device)))


def store_calibrations(fits: list, *, target: str, prior: str | None) -> str:
    """Merge the fits into the card of their prior (``prior``, else the shipped prior each fit ran); returns the
    cards written."""
    from scoreinv.priors.cards import update_card
    from scoreinv.priors.registry import load_card
    from scoreinv.solve.calibration import CARD_KEY

    written = []
    for _, row, calibration, name in fits:
        card, weights = load_card(prior or name)
        entries = dict(card.get(CARD_KEY) or {})
        entries[target] = {**entries.get(target, {}), row: calibration.as_card()}
        update_card(weights, **{CARD_KEY: entries})
        written.append(str(weights.with_suffix(".json")))
    return ", ".join(sorted(set(written)))
