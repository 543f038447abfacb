"""The effective receptive field summary: radii of known maps, and a denoiser that only looks at a pixel."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from scoreinv.bench.receptive_field import effective_radii, radii


def test_radii_of_a_point_and_of_a_flat_map():
    point = torch.zeros(9, 9)
    point[4, 4] = 1
    assert radii(point) == [0, 0, 0]
    flat = torch.ones(9, 9)  # squares of radius 1, 2, 3, 4 hold 9, 25, 49, 81 of 81 pixels
    assert radii(flat, shares=(0.1, 0.3, 0.5, 0.9)) == [1, 2, 3, 4]


def test_a_three_by_three_box_filter_sees_a_radius_of_one():
    box = lambda x, sigma: F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)  # noqa: E731
    rows = effective_radii(box, torch.rand(1, 1, 15, 15), sigmas=(0.5,))
    assert rows == [(0.5, [1, 1, 1])]
