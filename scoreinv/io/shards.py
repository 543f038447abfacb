"""Splitting a list of work items across processes: ``--shard i/n`` or torchrun's RANK / WORLD_SIZE, process i taking
items i, i + n, i + 2n, … (the benchmark and ``scoreinv solve`` on several images share these)."""
from __future__ import annotations

import os

from scoreinv.errors import InputError


def parse_shard(text: str) -> tuple:
    """"1/4" → (1, 4): this process takes images 1, 5, 9, … (0-based i, 0 ≤ i < n).

    Args:
        text: the --shard value i/n.
    """
    part, slash, total = (text or "").strip().partition("/")
    try:
        i, n = int(part), int(total)
    except ValueError:
        i, n = -1, 0
    if not slash or n < 1 or not 0 <= i < n:
        raise InputError(f"--shard takes i/n with 0 <= i < n (e.g. 0/4), got {text!r}")
    return i, n


def shard_from_env(environ=None) -> tuple | None:
    """(RANK, WORLD_SIZE) when run under torchrun (both set, WORLD_SIZE > 1), else None.

    Args:
        environ: the environment (default os.environ).
    """
    environ = os.environ if environ is None else environ
    if "RANK" not in environ or "WORLD_SIZE" not in environ:
        return None
    shard = parse_shard(f"{environ['RANK']}/{environ['WORLD_SIZE']}")
    return shard if shard[1] > 1 else None


def shard_indices(count: int, shard: tuple) -> list:
    """Indices i, i + n, i + 2n, … below ``count`` for shard (i, n).

    Args:
        count: the number of items (≥ 0).
        shard: (i, n) with 0 ≤ i < n.
    """
    return list(range(shard[0], count, shard[1]))
