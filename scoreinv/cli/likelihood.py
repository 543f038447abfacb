"""``scoreinv likelihood``: the exact log-likelihood of an image under a prior, in bits/dim."""
from __future__ import annotations

import json
import math
from pathlib import Path

import click

from scoreinv.cli.common import SEED, Command, device_option, max_pixels_option
from scoreinv.errors import InputError


@click.command("likelihood", cls=Command)
@click.argument("image", type=click.Path(dir_okay=False))
@click.option("--prior", default="natural-gray", show_default=True, help="A shipped prior's name or a NAME.pt path.")
@click.option("--steps", type=click.IntRange(1), default=32, show_default=True,
              help="Heun steps of the probability-flow ODE (2 network evaluations each).")
@click.option("--probes", type=click.IntRange(1), default=1, show_default=True,
              help="Hutchinson probes per trace estimate (more: less variance, proportionally slower).")
@click.option("--seed", type=SEED, default=0, show_default=True,
              help="Seeds the Rademacher probes (-2^63 to 2^64 - 1).")
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16"]), default="fp32", show_default=True,
              help="Network arithmetic (fp32 for an accurate trace).")
@device_option
@max_pixels_option
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Also write the figures here.")
def likelihood_command(image, prior, steps, probes, seed, precision, device, json_path):
    """Log-likelihood of IMAGE under a prior through the probability-flow ODE (Song et al. 2021), in bits/dim
    (8-bit image, uniform dequantisation) and in nats.

    \b
    IMAGE is converted to the prior's channels; for the CT prior it is a 16-bit CT PNG (HU + 1024)
    at its own size, or any picture taken as [0, 1] attenuation.

    \b
    Examples:
      scoreinv likelihood photo.png --prior natural-gray
      scoreinv likelihood photo.png --prior natural-color --probes 4 --steps 64 --json ll.json
      scoreinv likelihood slice.png --prior ct
    """
    import torch

    from scoreinv.io.images import _read_pixels, read_image
    from scoreinv.io.output_set import OutputSet
    from scoreinv.model.devices import resolve_device
    from scoreinv.priors.registry import load_prior, prior_files
    from scoreinv.sampling.likelihood import log_likelihood

    torch_device = resolve_device(device)
    outputs = OutputSet({Path(image): "the input image", **prior_files(prior)})
    if json_path:
        outputs.plan(json_path, flag="--json")
    denoiser = load_prior(prior, device=torch_device, precision=precision)
    if denoiser.card.get("kind") == "ct":
        from scoreinv.problems.ct_units import read_ct_png

        pixels, depth = _read_pixels(image)
        x = read_ct_png(image, size=None) if depth == 16 and pixels.shape[-1] == 1 else read_image(image, channels=1)
    else:
        x = read_image(image, channels=denoiser.channels)
    generator = torch.Generator(device=torch_device).manual_seed(seed)
    result = log_likelihood(denoiser, x[None].to(torch_device), steps=steps, probes=probes, generator=generator)
    bits = float(result.bits_per_dim[0])
    nats = float(result.log_density[0])
    if not (math.isfinite(bits) and math.isfinite(nats)):
        raise InputError("the likelihood came out non-finite; try --precision fp32 or more --steps")
    record = {"image": image, "prior": denoiser.name, "shape": list(x.shape), "bits_per_dim": round(bits, 5),
              "log_density_nats": round(nats, 3), "nats_per_dim": round(nats / x.numel(), 6), "nfe": result.nfe,
              "steps": steps, "probes": probes, "seed": seed, "precision": precision, "device": str(torch_device),
              "convention": "images in [0, 1]; bits/dim = -log2 p(x) / D + 8 (8-bit image, uniform dequantisation); "
                            "log density of the continuous [0, 1] image in nats"}
    if json_path:
        text = json.dumps(record, indent=1) + "\n"
        outputs.add(json_path, lambda tmp: Path(tmp).write_text(text))
        outputs.commit()
    click.echo(f"{image}: {bits:.4f} bits/dim, log p(x) = {nats:.1f} nats ({x.shape[0]}x{x.shape[1]}x{x.shape[2]}, "
               f"{denoiser.name}, NFE {result.nfe})")
