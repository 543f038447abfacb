"""``scoreinv sample``: unconditional samples of a prior as an image grid."""
from __future__ import annotations

import click

from scoreinv.cli.common import SEED, Command, device_option
from scoreinv.errors import InputError
from scoreinv.io.images import IMAGE_SUFFIXES
from scoreinv.sampling.unconditional import SAMPLERS

NATURAL_SIZE = 64
# Default sampler: of pc, ancestral, ode and langevin at 100 evaluations, ode gave the most image-like samples of the
# development checkpoint of natural-gray (pc over-textured, ancestral washed out); re-check with the shipped priors
DEFAULT_SAMPLER = "ode"


@click.command("sample", cls=Command)
@click.option("--prior", default="natural-gray", show_default=True, help="A shipped prior's name or a NAME.pt path.")
@click.option("-n", "count", type=click.IntRange(1, 1024), default=16, show_default=True, help="Number of samples.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default="samples.png", show_default=True,
              help="The grid PNG (⌈√n⌉ columns, 2 px gaps).")
@click.option("--size", default=None,
              help="Sample size H or HxW in pixels [default: 64 for natural priors, 256 for the CT prior].")
@click.option("--sampler", type=click.Choice(SAMPLERS), default=DEFAULT_SAMPLER, show_default=True,
              help="pc: predictor-corrector; ancestral: DDPM-like; ode: probability flow (deterministic); "
                   "langevin: annealed Langevin (NCSNv2).")
@click.option("--steps", type=click.IntRange(2), default=None,
              help="Network evaluations per sample [default: 100; langevin: 5 x NCSNv2's level count for the "
                   "image dimension].")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seeds the sampler (-2^63 to 2^64 - 1).")
@device_option
@click.option("--quiet", is_flag=True, help="No progress bar.")
def sample_command(prior, count, output, size, sampler, steps, seed, device, quiet):
    """Draw unconditional samples from a prior (σ_max down to σ_min) and write them as one grid image.

    \b
    Examples:
      scoreinv sample --prior natural-gray -n 16 -o grid.png
      scoreinv sample --prior natural-color -n 9 --size 96x128 --sampler ode --steps 60
      scoreinv sample --prior ct -n 4 -o ct_samples.png
      scoreinv sample --prior natural-gray --sampler langevin -n 4
    """
    from pathlib import Path

    from scoreinv.io.figures import image_grid
    from scoreinv.io.images import write_image
    from scoreinv.priors.registry import load_prior
    from scoreinv.problems import ct_units
    from scoreinv.problems.pictures import parse_size
    from scoreinv.sampling.unconditional import sample_prior

    path = Path(output)
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise InputError(f"-o {output}: use an image file name ending in .png (or .jpg, .tif, .bmp)")
    if not path.parent.resolve().is_dir():
        raise InputError(f"-o {output}: output folder {path.parent} does not exist")
    denoiser = load_prior(prior, device=device)
    if size:
        size_hw = parse_size(size)
    else:
        side = ct_units.WORKING_SIZE if denoiser.card.get("kind") == "ct" else NATURAL_SIZE
        size_hw = (side, side)
    result = sample_prior(denoiser, count, size=size_hw, sampler=sampler, steps=steps, seed=seed, device=device,
                          progress=not quiet)
    if not bool(result.images.isfinite().all()):
        raise InputError(f"the {sampler} sampler diverged (NaN or infinite values); nothing was written; try another "
                         "--sampler or more --steps")
    write_image(path, image_grid(result.images))
    click.echo(f"{count} samples of {denoiser.name} ({size_hw[0]}x{size_hw[1]}, {sampler}, "
               f"{result.settings['n_levels']} levels, NFE {result.nfe} per sample, {result.seconds:.1f} s) "
               f"| wrote {path}")
