"""What every command shares: one-line errors and the device option."""
from __future__ import annotations

import click

from scoreinv.errors import InputError


class Command(click.Command):
    """Turn the library's InputError (bad input, one line) into ``Error: …`` and exit status 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except InputError as error:
            raise click.ClickException(str(error)) from None


class Group(click.Group):
    command_class = Command


device_option = click.option("--device", default="auto", show_default=True,
                             help="auto (CUDA when available), cpu, cuda or cuda:N.")
