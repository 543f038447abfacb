"""The ``scoreinv`` command: a thin click layer over the public API (one file per command in commands/)."""
from __future__ import annotations

import sys

import click

from scoreinv.cli.bench import bench_group
from scoreinv.cli.export import export_command
from scoreinv.cli.likelihood import likelihood_command
from scoreinv.cli.priors import priors_command
from scoreinv.cli.sample import sample_command
from scoreinv.cli.solve import solve_command
from scoreinv.cli.train import train_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="scoreinv")
def main():
    """scoreinv: imaging inverse problems solved with score-based generative priors.

    \b
    Examples:
      scoreinv solve --task inpaint --simulate skimage:camera -o camera.png
      scoreinv priors
      scoreinv bench denoise --prior natural-gray --data set12
    """


for command in (train_command, export_command, priors_command, bench_group, solve_command, sample_command,
                likelihood_command):
    main.add_command(command)


if __name__ == "__main__":
    sys.exit(main())
