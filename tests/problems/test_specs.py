"""Parsing what describes an operator (kernels, CT angles, boxes), directly rather than through the CLI."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from scoreinv.errors import InputError
from scoreinv.problems.specs import parse_angles, parse_box, parse_kernel


def test_gaussian_and_motion_kernels_sum_to_one_and_have_the_asked_shape():
    kernel, description = parse_kernel("gaussian:2,9")
    assert kernel.shape == (9, 9) and float(kernel.sum()) == pytest.approx(1.0, abs=1e-6)
    assert description == "gaussian:2,9"
    assert torch.allclose(kernel, kernel.flip(0)) and torch.allclose(kernel, kernel.T)   # isotropic
    motion, _ = parse_kernel("motion:9,0")
    assert float(motion.sum()) == pytest.approx(1.0, abs=1e-6)
    rows = (motion > 1e-6).any(1).sum()
    assert int(rows) <= 2 < int((motion > 1e-6).any(0).sum())   # a horizontal streak: wide, not tall


def test_a_kernel_file_is_read_and_normalised(tmp_path):
    path = tmp_path / "k.npy"
    np.save(path, np.ones((3, 5), dtype=np.float32))
    kernel, description = parse_kernel(str(path))
    assert kernel.shape == (3, 5) and float(kernel.sum()) == pytest.approx(1.0, abs=1e-6)
    assert description == str(path)


@pytest.mark.parametrize("spec,fragment", [("gaussian:1,2,3", "SIGMA"), ("motion:5", "LENGTH,ANGLE"),
                                           ("levin:9", "1 to 8"), ("nope.npy", "no such file"),
                                           ("gaussian:abc", "gaussian sigma")])
def test_bad_kernel_specs_are_one_line(spec, fragment):
    with pytest.raises(InputError, match=fragment) as error:
        parse_kernel(spec)
    assert "\n" not in str(error.value)


def test_angle_forms():
    assert np.allclose(parse_angles("4"), [0, 45, 90, 135])
    assert np.allclose(parse_angles("0:90:3"), [0, 30, 60])


def test_an_angle_file(tmp_path):
    path = tmp_path / "angles.txt"
    path.write_text("0\n10.5\n20\n")
    assert np.allclose(parse_angles(str(path)), [0, 10.5, 20])
    path.write_text("0\nnan\n")
    with pytest.raises(InputError, match="NaN"):
        parse_angles(str(path))


@pytest.mark.parametrize("spec", ["0", "90:0:3", "0:90:x", "1:2", "missing.npy"])
def test_bad_angle_specs_are_one_line(spec):
    with pytest.raises(InputError):
        parse_angles(spec)


def test_boxes_by_area_and_by_pixels():
    centred = parse_box("0.25", (40, 40)).mask
    assert float((centred < 0.5).float().mean()) == pytest.approx(0.25, abs=0.03)
    placed = parse_box("4x6+2+3", (20, 20)).mask[0, 0]
    missing = (placed < 0.5).nonzero()
    assert missing[:, 0].min() == 2 and missing[:, 0].max() == 5 and missing[:, 1].min() == 3 and missing[:, 1].max() == 8
    for bad in ("1.5", "0", "big"):
        with pytest.raises(InputError):
            parse_box(bad, (20, 20))
