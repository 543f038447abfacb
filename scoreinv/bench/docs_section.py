"""Benchmark tables written into a docs page: the text between ``<!-- begin NAME -->`` and ``<!-- end NAME -->`` is
replaced by the command line, when and where it ran, and its table, so that a table in the docs is always the output
of the command printed above it."""
from __future__ import annotations

import platform
import re
import shlex
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import torch

from scoreinv.errors import InputError
from scoreinv.io.atomic import atomic_path

SECTION_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def write_section(page, section: str, *, command: str, table: str, device="cpu", stamp: str | None = None) -> Path:
    """Replace section ``section`` of the Markdown file ``page`` (atomically; the markers must exist once each).

    Args:
        page: the docs page, e.g. docs/benchmarks.md.
        section: the section's name (lowercase letters, digits and dashes).
        command: the command line that produced ``table``.
        table: the Markdown table (or any Markdown) to put under the provenance line.
        device: the torch device the command ran on.
        stamp: the when-and-where line (default: this process's :func:`provenance`); a table made from stored
            results passes theirs (:func:`record_provenance`).
    """
    page = Path(page)
    check_section(page, section)
    text = page.read_text()
    begin, end = f"<!-- begin {section} -->", f"<!-- end {section} -->"
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    body = f"{begin}\nProduced by: `{command}`\n\n{stamp or provenance(device)}\n\n{table.strip()}\n{end}"
    with atomic_path(page) as tmp:
        tmp.write_text(head + body + tail)
    return page


def module_command(prog: str, argv=None) -> str:
    """The command line of a ``python -m`` benchmark: its ``prog`` and its arguments (``argv``, else sys.argv[1:])."""
    return f"{prog} {shlex.join(sys.argv[1:] if argv is None else argv)}".strip()


def publish(text: str, *, started: float, prog: str, argv=None, markdown=None, section=None) -> None:
    """Print a ``python -m`` benchmark's table and its run time (stderr, from the ``time.monotonic()`` reading
    ``started``), and with ``markdown`` write it into that page's ``section`` under its command line."""
    import time

    print(text)
    print(f"({time.monotonic() - started:.0f} s)", file=sys.stderr)
    if markdown:
        write_section(markdown, section, command=module_command(prog, argv), table=text)


def check_section(page, section: str) -> None:
    """One-line InputError unless ``page`` exists and holds the markers of ``section`` exactly once each (checked
    before a benchmark starts, so that a long run never ends on a typo)."""
    page = Path(page)
    if not SECTION_NAME.match(section or ""):
        raise InputError(f"--section {section!r}: use lowercase letters, digits and dashes")
    if not page.is_file():
        raise InputError(f"--markdown {page}: no such file")
    text = page.read_text()
    for marker in (f"<!-- begin {section} -->", f"<!-- end {section} -->"):
        if text.count(marker) != 1:
            raise InputError(f"--markdown {page}: needs the line {marker} exactly once (found {text.count(marker)})")
    if text.index(f"<!-- begin {section} -->") > text.index(f"<!-- end {section} -->"):
        raise InputError(f"--markdown {page}: section {section!r} ends before it begins")


def provenance(device="cpu") -> str:
    """One line: the UTC date, the processor, torch's version and threads, the device and the git commit."""
    return _stamp(datetime.now(timezone.utc), cpu=cpu_model(), threads=torch.get_num_threads(),
                  torch_version=torch.__version__, device=device, commit=git_commit())


def record_provenance(record: dict) -> str:
    """The line of :func:`provenance` for a stored benchmark record, from its run's date and machine; for a merged
    record, each part's, then the merge's date and commit."""
    def run(date: str, machine: dict) -> str:
        return _stamp(datetime.fromisoformat(date), cpu=machine.get("cpu", machine.get("processor", "processor not "
                      "recorded")), threads=machine.get("torch_threads", "?"), torch_version=machine.get("torch", "?"),
                      device=machine.get("device", "?"), commit=machine.get("commit", "not recorded"))

    sources = record.get("sources")
    if not sources:
        return run(record["date"], record.get("machine", {}))
    parts = "; ".join(f"part {i + 1}: {run(source['date'], source['machine'])}" for i, source in enumerate(sources))
    return f"Run {parts}. Merged {_utc(datetime.fromisoformat(record['date']))}, commit {git_commit()}"


def _stamp(when: datetime, *, cpu: str, threads, torch_version: str, device, commit: str) -> str:
    return f"{_utc(when)}; {cpu}, torch threads: {threads}, torch {torch_version}, device {device}; commit {commit}"


def _utc(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def cpu_model() -> str:
    """The processor's model name (from /proc/cpuinfo on Linux) and whether it has native bf16 (AVX-512 BF16)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    name = re.search(r"^model name\s*:\s*(.+)$", info, re.M)
    flags = re.search(r"^flags\s*:\s*(.+)$", info, re.M)
    extras = [flag for flag in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if flags and flag in flags.group(1).split()]
    return f"{name.group(1).strip() if name else platform.machine()} ({', '.join(extras) or 'no AVX2'})"


def git_commit() -> str:
    """The checkout's short commit, with "+changes" when the work tree differs from it outside docs/ (where the
    benchmarks write their own tables); "unknown" outside git."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        # --no-optional-locks: a benchmark asking never takes the index lock from a commit under way
        dirty = subprocess.run(["git", "--no-optional-locks", "-C", str(root), "status", "--porcelain",
                                "--untracked-files=no", "--", ".", ":(exclude)docs"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+changes" if dirty else "")
