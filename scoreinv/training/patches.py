"""Training images held in memory and random patches drawn from them (crops, flips, 90° rotations)."""
from __future__ import annotations

from pathlib import Path

import torch

from scoreinv.errors import InputError
from scoreinv.io.images import list_images, read_image
from scoreinv.problems.ct_units import read_ct_png

TEST_SET_NAMES = {"set12", "bsd68", "cbsd68", "test"}  # ct/test is called "test" under ct/
AUGMENTATION = "random flips and 90° rotations"  # what random_patches does, recorded on every prior's card


def load_training_images(folders, *, channels: int, kind: str = "natural", crop: int) -> list[torch.Tensor]:
    """Every image of ``folders`` as uint8 / float16 (C, H, W) tensors (compact in memory).

    Args:
        folders: folders of PNG/JPEG files (natural) or 16-bit CT PNGs (ct).
        channels: 1 (grey) or 3 (colour).
        kind: "natural" ([0, 1] from 8-bit) or "ct" (HU → [0, 1], see :mod:`scoreinv.problems.ct_units`).
        crop: patch side; smaller images are refused.
    """
    folders = [Path(folder) for folder in folders]
    for folder in folders:
        refuse_test_set(folder)
    images = []
    for folder in folders:
        for path in list_images(folder):
            if kind == "ct":
                image = read_ct_png(path).to(torch.float16)
            else:
                image = (read_image(path, channels=channels) * 255).round().to(torch.uint8)
            if min(image.shape[-2:]) < crop:
                raise InputError(f"{path}: {tuple(image.shape[-2:])} is smaller than the {crop}px crop")
            images.append(image)
    return images


def refuse_test_set(folder: Path) -> None:
    """Refuse the test sets of ../shared (set12, bsd68, cbsd68, ct/test): never train on a test set."""
    name = folder.resolve().name.lower()
    if name in {"set12", "bsd68", "cbsd68"} or (name == "test" and folder.resolve().parent.name == "ct"):
        raise InputError(f"{folder}: is a test set; training on it would make every benchmark dishonest")


def random_patches(images: list[torch.Tensor], *, batch: int, crop: int, generator: torch.Generator) -> torch.Tensor:
    """(batch, C, crop, crop) float32 patches in [0, 1]: a random image, position, flip and 90° rotation each."""
    picks = torch.randint(len(images), (batch,), generator=generator).tolist()
    out = []
    for i in picks:
        image = images[i]
        h, w = image.shape[-2:]
        top = int(torch.randint(h - crop + 1, (1,), generator=generator))
        left = int(torch.randint(w - crop + 1, (1,), generator=generator))
        patch = image[:, top:top + crop, left:left + crop]
        if bool(torch.randint(2, (1,), generator=generator)):
            patch = patch.flip(-1)
        patch = torch.rot90(patch, int(torch.randint(4, (1,), generator=generator)), dims=(-2, -1))
        out.append(patch)
    patches = torch.stack(out).float()
    return patches / 255.0 if images[0].dtype == torch.uint8 else patches
