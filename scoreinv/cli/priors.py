"""``scoreinv priors``: the shipped priors and their model cards."""
from __future__ import annotations

import json

import click

from scoreinv.cli.common import Command
from scoreinv.priors.registry import list_priors


@click.command("priors", cls=Command)
@click.option("--json", "as_json", is_flag=True, help="Print the full model cards as JSON.")
def priors_command(as_json):
    """List the shipped priors with their model cards.

    \b
    Examples:
      scoreinv priors
      scoreinv priors --json
    """
    cards = list_priors()
    if as_json:
        click.echo(json.dumps(cards, indent=1))
        return
    if not cards:
        click.echo("no priors shipped; train one with 'scoreinv train' and 'scoreinv export'")
        return
    click.echo(f"{'name':15} {'ch':>2} {'params':>8} {'steps':>7} {'hours':>6}  denoising PSNR")
    for card in cards:
        denoise = card.get("denoising_psnr") or {}
        figures = ", ".join(f"{s}: {p:.2f} dB" for s, p in denoise.get("psnr", {}).items())
        click.echo(f"{card['name']:15} {card['channels']:>2} {card['parameters'] / 1e6:>7.1f}M {card['steps']:>7} "
                   f"{card['wall_clock_hours']:>6.2f}  {denoise.get('dataset', '')} {figures}")
