"""Named test sets of ../shared/data, or any folder of images, loaded as (C, H, W) tensors in [0, 1]."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from scoreinv.errors import InputError
from scoreinv.io.images import list_images, read_image
from scoreinv.io.paths import require_shared
from scoreinv.problems.ct_units import read_ct_png


@dataclass(frozen=True)
class TestSet:
    folder: str   # under ../shared/data
    kind: str     # "natural" or "ct"
    channels: int


TEST_SETS = {
    "set12": TestSet("set12", "natural", 1),
    "bsd68": TestSet("bsd68", "natural", 1),
    "cbsd68": TestSet("cbsd68", "natural", 3),
    "ct-test": TestSet("ct/test", "ct", 1),
    "ct-train": TestSet("ct/train", "ct", 1),
}


def load_images(name_or_folder: str, *, channels: int | None = None, kind: str | None = None,
                limit: int | None = None) -> list[tuple[str, torch.Tensor]]:
    """(file stem, (C, H, W) image in [0, 1]) pairs of a named test set or of any folder.

    Args:
        name_or_folder: one of ``TEST_SETS`` or a folder path.
        channels: 1 or 3 (default: the set's own; a folder keeps each file's channels).
        kind: "natural" or "ct" for a folder (default natural); CT PNGs are read at the working resolution.
        limit: keep the first N images (sorted by name).
    """
    if name_or_folder in TEST_SETS:
        spec = TEST_SETS[name_or_folder]
        folder = require_shared(f"data/{spec.folder}")
        kind = spec.kind
        channels = channels or spec.channels
    else:
        folder = Path(name_or_folder)
        kind = kind or "natural"
    files = list_images(folder)[:limit] if limit else list_images(folder)
    if kind == "ct":
        return [(path.stem, read_ct_png(path)) for path in files]
    return [(path.stem, read_image(path, channels=channels)) for path in files]


def dataset_kind(name_or_folder: str) -> str:
    spec = TEST_SETS.get(name_or_folder)
    return spec.kind if spec else "natural"


def check_limit(limit: int | None) -> None:
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be at least 1, got {limit}")
