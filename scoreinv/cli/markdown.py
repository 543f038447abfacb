"""``--markdown PAGE --section NAME``, shared by the bench commands: their table also goes into a docs page."""
from __future__ import annotations

import click

from scoreinv.errors import InputError


def markdown_options(command):
    """``--markdown PAGE --section NAME``: also write the printed table into that section of a docs page."""
    command = click.option("--section", default=None, help="The section of --markdown to replace (between "
                           "<!-- begin NAME --> and <!-- end NAME -->).")(command)
    return click.option("--markdown", type=click.Path(dir_okay=False), default=None,
                        help="A Markdown page (e.g. docs/benchmarks.md) whose --section receives the table.")(command)


def check_markdown(markdown, section) -> None:
    """Both options or neither, and the page's markers in place, before any work."""
    from scoreinv.bench.docs_section import check_section

    if bool(markdown) != bool(section):
        raise InputError("--markdown and --section go together")
    if markdown:
        check_section(markdown, section)
