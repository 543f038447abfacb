"""Where shared data and shipped weights live.

``../shared`` beside the project checkout holds the data sets and the LPIPS backbone (never copied into the
repository); ``SCOREINV_SHARED`` overrides it. Shipped priors live in ``pretrained/`` (installed as the
package ``scoreinv.pretrained``); ``SCOREINV_PRETRAINED`` overrides that.
"""
from __future__ import annotations

import os
from pathlib import Path

from scoreinv.errors import InputError

REPO_ROOT = Path(__file__).resolve().parents[2]


def shared_dir() -> Path | None:
    """The shared data folder, or None when it is absent."""
    candidates = [os.environ.get("SCOREINV_SHARED"), REPO_ROOT.parent / "shared", Path.cwd().parent / "shared",
                  Path.cwd() / "shared"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "data").is_dir():
            return Path(candidate).resolve()
    return None


def require_shared(subpath: str = "") -> Path:
    """``shared_dir() / subpath``, or a one-line InputError saying how to provide it."""
    root = shared_dir()
    if root is None or not (root / subpath).exists():
        raise InputError(f"shared data {subpath or ''} not found: put the shared folder at ../shared beside the "
                         "checkout or set SCOREINV_SHARED")
    return root / subpath


def pretrained_dir() -> Path:
    """The folder of shipped priors (installed copy first, then the source tree's pretrained/)."""
    override = os.environ.get("SCOREINV_PRETRAINED")
    if override:
        return Path(override)
    import importlib.util

    try:
        spec = importlib.util.find_spec("scoreinv.pretrained")
    except (ImportError, ValueError):
        spec = None
    for location in (spec.submodule_search_locations or []) if spec else []:
        if Path(location).is_dir():
            return Path(location)
    return REPO_ROOT / "pretrained"
