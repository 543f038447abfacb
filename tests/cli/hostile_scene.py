"""A folder of tiny inputs for the hostile-input tests (pictures ≤ 24 px, a mask, kernels, a sinogram, angles, tiny
priors under the shipped names), a snapshot of everything in it, and the check that a command was refused."""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import operators as ops
from cli_checks import one_line_error
from conftest import smooth_picture, write_tiny_prior

SIZE = 16
CT_SIZE = 12
CT_ANGLES = 8
STEPS = ["--steps", "2", "--quiet"]
GREY_PRIOR = "p/natural-gray.pt"


def write_priors(folder: Path) -> Path:
    """Tiny random priors named natural-gray, natural-gray-fast, natural-color and ct (the default names) in
    ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    write_tiny_prior(folder / "natural-gray.pt", channels=1)
    write_tiny_prior(folder / "natural-gray-fast.pt", channels=1, seed=3)
    write_tiny_prior(folder / "natural-color.pt", channels=3)
    write_tiny_prior(folder / "ct.pt", channels=1, kind="ct")
    return folder


def build_scene(root: Path, priors: Path) -> Path:
    """Write the inputs into ``root`` (the tests' current folder) and copy the priors to ``root / "p"``."""
    shutil.copytree(priors, root / "p")
    Image.fromarray(smooth_picture(SIZE, SIZE)).save(root / "clean.png")
    Image.fromarray(smooth_picture(SIZE, SIZE, 3)).save(root / "colour.png")
    known = np.full((SIZE, SIZE), 255, np.uint8)
    known[4:10, 5:12] = 0
    Image.fromarray(known).save(root / "mask.png")
    rgba = np.concatenate([smooth_picture(SIZE, SIZE, 3), known[..., None]], -1)
    Image.fromarray(rgba).save(root / "holes.png")
    kernel = np.outer(np.hanning(5)[1:-1], np.hanning(5)[1:-1])
    np.save(root / "kernel.npy", kernel / kernel.sum())
    Image.fromarray(np.round(kernel / kernel.max() * 255).astype(np.uint8)).save(root / "kernel.png")
    degrees = np.arange(CT_ANGLES) * (180.0 / CT_ANGLES)
    np.savetxt(root / "angles.txt", degrees)
    x = torch.rand(1, 1, CT_SIZE, CT_SIZE, generator=torch.Generator().manual_seed(0))
    np.save(root / "sino.npy", ops.ParallelBeamCT((CT_SIZE, CT_SIZE), degrees).A(x)[0, 0].numpy())
    return root


def snapshot(root: Path) -> dict:
    """Every entry under ``root`` (hidden ones too): folders, symlinks' targets, files' size, mtime and sha256."""
    entries = {}
    for path in sorted(root.rglob("*")):
        name = str(path.relative_to(root))
        if path.is_symlink():
            entries[name] = ("link", os.readlink(path))
        elif path.is_dir():
            entries[name] = ("folder",)
        else:
            stat = path.stat()
            entries[name] = (stat.st_size, stat.st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
    return entries


def refused(result, fragment: str = "") -> str:
    """A refusal: non-zero exit, no traceback, one ``Error: …`` line, the last, holding ``fragment``; other lines
    may only be click's usage lines, notes and warnings."""
    return one_line_error(result, fragment, notes_allowed=True, usage_allowed=True)
