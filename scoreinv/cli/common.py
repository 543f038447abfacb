"""What every command shares: one-line errors, the device and pixel-limit options, finite numbers and seeds."""
from __future__ import annotations

import math

import click

from scoreinv.errors import InputError
from scoreinv.io.pixels import DEFAULT_MAX_PIXELS, pixel_limit

INTERRUPTED = 130  # the shell's status for a command ended by Ctrl-C (128 + SIGINT)


class Command(click.Command):
    """Turn the library's InputError (bad input, one line) into ``Error: …`` and exit status 1, Ctrl-C into one
    line and status 130, and apply ``--max-pixels`` to every image the command reads."""

    def invoke(self, ctx):
        try:
            with pixel_limit(ctx.meta.get("scoreinv.max_pixels", DEFAULT_MAX_PIXELS)):
                return super().invoke(ctx)
        except InputError as error:
            raise click.ClickException(str(error)) from None
        except KeyboardInterrupt as error:
            interrupted = click.ClickException(str(error) or "interrupted (Ctrl-C)")
            interrupted.exit_code = INTERRUPTED
            raise interrupted from None


class Group(click.Group):
    command_class = Command


class FiniteFloat(click.ParamType):
    """A float option that refuses NaN and ±inf at parse time, within [low, high] (None: unbounded; ``open``
    excludes the bounds).

    Args:
        low: smallest value allowed, or None.
        high: largest value allowed, or None.
        low_open: exclude ``low`` itself.
        high_open: exclude ``high`` itself.
    """

    name = "float"

    def __init__(self, low: float | None = None, high: float | None = None, *, low_open: bool = False,
                 high_open: bool = False):
        self.low, self.high, self.low_open, self.high_open = low, high, low_open, high_open

    def convert(self, value, param, ctx):
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        below = self.low is not None and (number <= self.low if self.low_open else number < self.low)
        above = self.high is not None and (number >= self.high if self.high_open else number > self.high)
        if below or above:
            self.fail(f"{value!r} is not in {self._range()}", param, ctx)
        return number

    def _range(self) -> str:
        left = "-inf" if self.low is None else f"{self.low:g}"
        right = "inf" if self.high is None else f"{self.high:g}"
        return f"{'(' if self.low_open or self.low is None else '['}{left}, {right}" \
               f"{')' if self.high_open or self.high is None else ']'}"

    def __repr__(self) -> str:
        return f"FiniteFloat {self._range()}"


class NoiseLevel(FiniteFloat):
    """``--noise``: σ_y, a finite number in [0, 1], or the word ``auto`` (any case), returned as "auto": estimate σ_y
    from the measurement (:mod:`scoreinv.problems.noise_level`)."""

    name = "noise"

    def __init__(self):
        super().__init__(0.0, 1.0)

    def convert(self, value, param, ctx):
        if isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter as error:
            self.fail(f"{error.message}; give a number in [0, 1] or auto", param, ctx)

    def __repr__(self) -> str:
        return "NOISE [0, 1] or auto"


NOISE = NoiseLevel()  # the --noise option's type
SEED = click.IntRange(-2**63, 2**64 - 1)  # the seeds torch.Generator.manual_seed accepts


def _store_max_pixels(ctx, param, value):
    ctx.meta["scoreinv.max_pixels"] = value
    return value


device_option = click.option("--device", default="auto", show_default=True,
                             help="auto (CUDA when available), cpu, cuda, cuda:N or mps, where this torch has it.")
max_pixels_option = click.option(
    "--max-pixels", type=click.IntRange(1), default=DEFAULT_MAX_PIXELS, show_default=True, expose_value=False,
    callback=_store_max_pixels,
    help="Refuse image files of more pixels (width x height), read from the file's header before decoding.")
