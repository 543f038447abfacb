"""``scoreinv export``: a training checkpoint → a shipped prior with its measured model card."""
from __future__ import annotations

from pathlib import Path

import click

from scoreinv.bench.denoise_report import DENOISE_SETS, measure_denoising
from scoreinv.cli.common import Command
from scoreinv.priors.cards import export_prior, update_card
from scoreinv.priors.registry import load_prior
from scoreinv.training.checkpoints import CHECKPOINT


@click.command("export", cls=Command)
@click.argument("run", type=click.Path(exists=True, file_okay=False))
@click.option("--name", required=True, help="Name of the prior (natural-gray, natural-color, ct, or your own).")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Destination [default: pretrained/].")
@click.option("--data-description", required=True, help="What the prior was trained on, for the model card.")
@click.option("--measure/--no-measure", default=True, show_default=True,
              help="Measure denoising PSNR on the test set of the prior's kind for the card.")
def export_command(run, name, out, data_description, measure):
    """Write NAME.pt (float16 EMA weights), NAME.json and NAME.md (model card) from RUN/checkpoint.pt.

    \b
    Example:
      scoreinv export runs/natural-gray --name natural-gray \\
          --data-description "BSDS500 train+test (400 images), grey"
    """
    weights = export_prior(Path(run) / CHECKPOINT, name, out=Path(out) if out else None,
                           data_description=data_description)
    if measure:
        denoiser = load_prior(str(weights), device="cpu")
        dataset, sigmas = DENOISE_SETS[(denoiser.card["kind"], denoiser.card["channels"])]
        report, command = measure_denoising(denoiser, name if out is None else str(weights), dataset=dataset,
                                            sigmas=sigmas)
        update_card(weights, denoising_psnr=report, measured_with=command)
    click.echo(f"wrote {weights} and its model card")
