"""A small progress bar on stderr: count, rate, ETA and named figures (a line every few seconds off a terminal)."""
from __future__ import annotations

import sys
import time


class Progress:
    """Progress of ``total`` units of work, drawn on stderr.

    Args:
        total: number of units.
        desc: label shown first.
        enabled: False draws nothing.
        start: units already done (a resumed run).
        every: seconds between lines when stderr is not a terminal.
    """

    def __init__(self, total: int, *, desc: str = "", enabled: bool = True, start: int = 0, every: float = 30.0):
        self.total, self.desc, self.enabled, self.every = total, desc, enabled, every
        self.done = self.start = start
        self.began = self.last_draw = time.monotonic()
        self.tty = sys.stderr.isatty()
        self.figures: dict = {}

    def update(self, n: int = 1, **figures) -> None:
        self.done += n
        self.figures.update(figures)
        now = time.monotonic()
        if self.enabled and (self.tty and now - self.last_draw > 0.2 or now - self.last_draw > self.every
                             or self.done >= self.total):
            self.last_draw = now
            self._draw(now)

    def close(self) -> None:
        if self.enabled and self.tty:
            sys.stderr.write("\n")
            sys.stderr.flush()

    def _draw(self, now: float) -> None:
        rate = (self.done - self.start) / max(now - self.began, 1e-9)
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        width = 24
        filled = int(width * self.done / max(self.total, 1))
        bar = "#" * filled + "-" * (width - filled)
        figures = " ".join(f"{k}={_fmt(v)}" for k, v in self.figures.items())
        line = f"{self.desc} {self.done}/{self.total} [{bar}] {rate:.2f} it/s ETA {_duration(eta)} {figures}"
        sys.stderr.write(("\r" + line) if self.tty else (line + "\n"))
        sys.stderr.flush()


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _duration(seconds: float) -> str:
    if seconds == float("inf"):
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
