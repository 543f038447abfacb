"""What a benchmark run is asked for: tasks, data, shards and options."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from scoreinv.errors import InputError
from scoreinv.io.datasets import TEST_SETS, load_images
from scoreinv.io.images import list_images
from scoreinv.io.shards import parse_shard, shard_from_env, shard_indices
from scoreinv.problems.tasks import TASKS, get_task

__all__ = ["BenchOptions", "centre_crop", "check_data", "data_kind", "load_data", "parse_shard", "parse_tasks",
           "shard_from_env", "shard_indices"]  # the shard helpers live in scoreinv.io.shards (scoreinv solve splits images with them)
CT_TASKS = tuple(name for name, task in TASKS.items() if task.family == "ct")
GREY_TASKS = tuple(name for name, task in TASKS.items() if task.family != "ct")


@dataclass(frozen=True)
class BenchOptions:
    """What ``scoreinv bench tasks`` runs.

    Attributes:
        tasks: task names of :data:`scoreinv.problems.tasks.TASKS`.
        data: "set12", "bsd68", "cbsd68", "ct-test" or a folder of images.
        limit: only the first N images of the data set (before sharding).
        prior: a prior's name or NAME.pt path for every task (None: the default prior of each task's image type).
        all_methods: run every guidance method of ``scoreinv.reconstruct.METHODS``, not only the task's default.
        peers: also run DeepInverse's DPS and DiffPIR with the same prior.
        shard: (i, n): this process takes images i, i + n, i + 2n, … (0-based).
        seed: simulation uses seed + image index, scoreinv's samplers seed + image index too.
        device: "auto", "cpu", "cuda" or "cuda:N".
        steps: scoreinv's network evaluations per sample (None: each task's default).
        samples: scoreinv's posterior samples per image (their mean is scored).
        peer_steps: every peer's iterations (None: each peer's tuned NFE for the task, else its usual NFE).
        progress: draw a progress bar on stderr.
        target: "estimate" (each task's settings row) or "sample" (its posterior-sample row; one draw is scored
            when ``samples`` is 1) for scoreinv's methods.
        crop: centre-crop every image to crop × crop pixels first (None: whole images).
        figure_std: with one sample, an extra 2-sample run on the figure's image gives its std map (False: the
            figure has no std map, which saves that run).
    """

    tasks: tuple
    data: str
    limit: int | None = None
    prior: str | None = None
    all_methods: bool = False
    peers: bool = False
    shard: tuple = (0, 1)
    seed: int = 0
    device: str = "auto"
    steps: int | None = None
    samples: int = 1
    peer_steps: int | None = None
    progress: bool = True
    target: str = "estimate"
    crop: int | None = None
    figure_std: bool = True

    def settings(self) -> dict:
        """The options as JSON-ready settings (the shard is kept apart: it differs between the parts of a run)."""
        return {"tasks": list(self.tasks), "data": self.data, "limit": self.limit, "prior": self.prior,
                "all_methods": self.all_methods, "peers": self.peers, "seed": self.seed, "device": self.device,
                "steps": self.steps, "samples": self.samples, "peer_steps": self.peer_steps,
                "target": self.target, "crop": self.crop}


def parse_tasks(text: str | None, data: str) -> tuple:
    """Task names from "inpaint-random,sr4" (one-line error for unknown ones); default by the data's kind.

    Args:
        text: comma-separated task names, or None for all grey tasks (CT tasks for ct-test).
        data: the --data value.
    """
    if not text:
        return CT_TASKS if data == "ct-test" else GREY_TASKS
    names = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not names:
        raise InputError(f"--tasks names no task; choose from {', '.join(TASKS)}")
    for name in names:
        get_task(name)
    return names


def check_data(data: str) -> None:
    """One-line error unless ``data`` names a test set or an existing folder of images."""
    if data in TEST_SETS:
        return
    if not Path(data).is_dir():
        raise InputError(f"--data {data}: not a test set ({', '.join(TEST_SETS)}) nor a folder")
    list_images(data)


def data_kind(data: str, tasks: tuple) -> str:
    """"ct" for ct-test, or for a folder when every task is a CT task; else "natural"."""
    if data in TEST_SETS:
        return TEST_SETS[data].kind
    return "ct" if all(get_task(name).family == "ct" for name in tasks) else "natural"


def centre_crop(image: torch.Tensor, size: int | None) -> torch.Tensor:
    """The centred size × size crop of a (C, H, W) image (None: the image; one-line InputError when a side is
    shorter than ``size``)."""
    if size is None:
        return image
    h, w = image.shape[-2:]
    if not 1 <= size <= min(h, w):
        raise InputError(f"--crop {size}: the images are {h}×{w}; choose at most {min(h, w)}")
    top, left = (h - size) // 2, (w - size) // 2
    return image[..., top:top + size, left:left + size]


def load_data(data: str, *, kind: str, channels: int | None = None, limit: int | None = None) -> list:
    """(name, (C, H, W) in [0, 1]) of a test set or a folder; a folder of CT images is read at its own size.

    Args:
        data: test set name or folder.
        kind: "natural" or "ct" (see :func:`data_kind`).
        channels: 1 or 3 to convert natural images to (None: the set's own or each file's).
        limit: the first N images.
    """
    if data in TEST_SETS or kind != "ct":
        return load_images(data, channels=channels, limit=limit)
    from scoreinv.problems.pictures import read_ct_picture

    files = list_images(data)[:limit] if limit else list_images(data)
    return [(path.stem, read_ct_picture(str(path), size=None)) for path in files]
