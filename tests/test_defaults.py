"""The table of default settings: every row is usable, and the rule picks the row from the operator."""
from __future__ import annotations

import pytest
import torch

import operators as ops
from scoreinv.defaults import DEFAULTS, default_eta, largest_hole_radius, task_of
from scoreinv.reconstruct import METHODS
from scoreinv.tasks import TASKS


ROW = {"inpaint-random": "inpaint-random", "inpaint-box": "inpaint-box", "deblur-gauss": "deblur",
       "deblur-motion": "deblur", "sr4": "sr", "ct-sparse": "ct-sparse", "ct-limited": "ct-limited"}


def test_every_row_is_usable():
    assert set(ROW) == set(TASKS) and set(ROW.values()) | {"other"} == set(DEFAULTS)
    for row in DEFAULTS.values():
        assert row.method in METHODS
        assert row.warm_start in {"baseline", "dagger", "fbp", "adjoint", "none"}
        assert row.steps >= 1 and 0 < row.sigma_end < row.sigma_start and 0 <= row.eta <= 1


def test_largest_hole_radius_of_a_box_and_of_scattered_pixels():
    mask = torch.ones(1, 1, 40, 50)
    mask[..., 10:30, 5:35] = 0  # a 20 x 30 hole: radius 10
    assert largest_hole_radius(mask) == 10
    scattered = torch.ones(1, 1, 40, 50)
    scattered[..., ::2, ::2] = 0
    assert largest_hole_radius(scattered) == 1


@pytest.mark.parametrize("name", sorted(TASKS))
def test_each_benchmark_task_maps_to_its_row(name):
    task = TASKS[name]
    shape = (1, 1, 64, 64)
    assert task_of(task.build(shape, 0, torch.Generator().manual_seed(0))) == ROW[name]


def test_an_unknown_operator_uses_the_other_row():
    composed = ops.Mask.random((1, 1, 32, 32), missing=0.5) @ ops.Blur(ops.gaussian_kernel(1.0, 5))
    assert task_of(composed) == "other"


def test_eta_rule():
    row = DEFAULTS["inpaint-random"]
    assert row.method == "pnp" and default_eta("pnp", row, 1) == row.eta
    assert default_eta("pnp", row, 4) == 1.0     # samples, not copies of a point estimate
    assert default_eta("dc", row, 1) == 1.0      # DDPM's ancestral step for another method
