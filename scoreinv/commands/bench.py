"""``scoreinv bench …``: benchmarks that print figures."""
from __future__ import annotations

import json

import click

from ..imageio import InputError
from .common import Group, device_option


def parse_sigmas(text: str) -> list[float]:
    """"15/255,25/255" or "0.05" → [0.0588…, …] ([0, 1] units)."""
    values = []
    for part in text.split(","):
        try:
            num, _, den = part.strip().partition("/")
            values.append(float(num) / (float(den) if den else 1.0))
        except ValueError:
            raise InputError(f"--sigmas takes numbers such as 25/255,0.05, got {part!r}") from None
        if not values[-1] > 0:
            raise InputError(f"noise levels must be > 0, got {part!r}")
    return values


@click.group("bench", cls=Group)
def bench_group():
    """Benchmarks that print figures (quality, speed)."""


@bench_group.command("denoise")
@click.option("--prior", default="natural-gray", show_default=True, help="A shipped prior's name or a NAME.pt path.")
@click.option("--data", default=None, help="set12, bsd68, cbsd68, ct-test or a folder [default: the prior's test set].")
@click.option("--sigmas", default=None, help="Noise levels, e.g. 15/255,25/255,50/255 [default: the prior's].")
@click.option("--limit", type=click.IntRange(1), default=None, help="Only the first N images.")
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16"]), default=None,
              help="Network arithmetic [default: bf16 on CPU, fp16 on CUDA].")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Also write the figures here.")
@device_option
def denoise_command(prior, data, sigmas, limit, precision, json_path, device):
    """PSNR of one call D(y, σ) on Gaussian-noised test images, beside a Gaussian filter whose width is
    chosen on training images.

    \b
    Examples:
      scoreinv bench denoise --prior natural-gray --data set12 --sigmas 15/255,25/255,50/255
      scoreinv bench denoise --prior ct --data ct-test --sigmas 0.05
    """
    from ..bench.denoise_report import DENOISE_SETS, measure_denoising
    from ..imageio import atomic_path
    from ..priors import load_prior

    denoiser = load_prior(prior, device=device, precision=precision)
    default_data, default_sigmas = DENOISE_SETS[(denoiser.card["kind"], denoiser.card["channels"])]
    report, command = measure_denoising(denoiser, prior, dataset=data or default_data,
                                        sigmas=parse_sigmas(sigmas) if sigmas else default_sigmas, limit=limit)
    click.echo(f"\n{command}  ({report['images']} images, {report['precision']})")
    click.echo("| sigma | prior PSNR (dB) | Gaussian filter PSNR (dB) |\n| --- | --- | --- |")
    for label, value in report["psnr"].items():
        click.echo(f"| {label} | {value:.2f} | {report['gaussian_filter_psnr'].get(label, float('nan')):.2f} |")
    if json_path:
        with atomic_path(json_path) as tmp:
            tmp.write_text(json.dumps(report, indent=1))
