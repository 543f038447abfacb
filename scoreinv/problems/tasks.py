"""The benchmark tasks: one table shared by ``scoreinv solve --simulate`` and ``scoreinv bench``.

| name | operator | σ_y |
| --- | --- | --- |
| inpaint-random | 70 % of pixels missing at random | 0 |
| inpaint-box | centred box covering 25 % of the image | 0 |
| deblur-gauss | Gaussian blur σ = 3 px, 25 × 25, circular | 0.01 |
| deblur-motion | Levin 2009 kernel number (image index mod 8) + 1, circular | 0.01 |
| sr4 | × 4 box downsampling (images cropped to a multiple of 4) | 0.01 |
| ct-sparse | 30 parallel-beam views over 180° at 256 × 256 | 0.1 (sinogram units) |
| ct-limited | 90 views over a 90° range at 256 × 256 | 0.1 (sinogram units) |

σ_y is in [0, 1] image units; a CT sinogram holds line integrals in image values × pixel lengths, where a
typical ray through the body sums to 30–80, so σ_y = 0.1 there is about 0.2 % of a ray.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

import operators as ops
from scoreinv.errors import InputError


@dataclass(frozen=True)
class Task:
    """One inverse problem: how to build its operator for an image, and its measurement noise.

    Attributes:
        name: the task's name.
        family: "inpaint", "deblur", "sr" or "ct" (selects the default sampler settings).
        sigma_y: measurement noise standard deviation ([0, 1] image units; sinogram units for CT).
        description: one line for tables.
        build: (image shape (B, C, H, W), image index, generator) → operator with its noise model.
        divisor: image sides are cropped to a multiple of this before simulation.
    """

    name: str
    family: str
    sigma_y: float
    description: str
    build: Callable
    divisor: int = 1


def _levin(shape, index, generator):
    return ops.Blur(ops.levin_kernels()[index % 8], noise=ops.GaussianNoise(0.01))


TASKS = {task.name: task for task in [
    Task("inpaint-random", "inpaint", 0.0, "70% of pixels missing at random",
         lambda shape, index, g: ops.Mask.random(shape, missing=0.7, generator=g)),
    Task("inpaint-box", "inpaint", 0.0, "centred box covering 25% of the image",
         lambda shape, index, g: ops.Mask.box(shape, area=0.25)),
    Task("deblur-gauss", "deblur", 0.01, "Gaussian blur sigma=3px, 25x25, circular",
         lambda shape, index, g: ops.Blur(ops.gaussian_kernel(3.0, 25), noise=ops.GaussianNoise(0.01))),
    Task("deblur-motion", "deblur", 0.01, "Levin 2009 kernel (image index mod 8), circular", _levin),
    Task("sr4", "sr", 0.01, "x4 box downsampling",
         lambda shape, index, g: ops.Downsample(4, filter="box", noise=ops.GaussianNoise(0.01)), divisor=4),
    Task("ct-sparse", "ct", 0.1, "30 parallel-beam views over 180 degrees",
         lambda shape, index, g: ops.ParallelBeamCT.sparse_view(shape[-2:], 30, noise=ops.GaussianNoise(0.1))),
    Task("ct-limited", "ct", 0.1, "90 views over a 90-degree range",
         lambda shape, index, g: ops.ParallelBeamCT.limited_angle(shape[-2:], 90.0, 90, noise=ops.GaussianNoise(0.1))),
]}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise InputError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}")
    return TASKS[name]


def crop_to(image: torch.Tensor, divisor: int) -> torch.Tensor:
    """Crop (…, H, W) at the bottom and right to sides that are multiples of ``divisor``."""
    h, w = image.shape[-2:]
    return image[..., : h - h % divisor, : w - w % divisor]


def simulate(task: Task, image: torch.Tensor, *, index: int = 0, seed: int = 0):
    """(operator, y, cropped truth) for a clean image (C, H, W) in [0, 1]: y = A x + n with the task's noise,
    drawn from a generator seeded by ``seed`` + ``index`` so that every method sees the same draw."""
    truth = crop_to(image, task.divisor)[None].float()
    generator = torch.Generator().manual_seed(seed + index)
    operator = task.build(tuple(truth.shape), index, generator)
    y = operator.noise.sample(operator.A(truth), generator=generator)
    return operator, y, truth
