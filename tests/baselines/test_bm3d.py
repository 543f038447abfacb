"""BM3D baselines (optional ``bm3d`` package): kernel convention, deblurring beats Wiener, denoising, the note."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import operators as O
from scoreinv.baselines import BASELINES, baselines_for, blockmatching, deconvolution
from scoreinv.metrics.quality import psnr

from conftest import smooth_picture

needs_bm3d = pytest.mark.skipif(not blockmatching.available(), reason="the optional bm3d package is not installed")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def camera(size: int = 64) -> torch.Tensor:
    import skimage.data
    import skimage.transform

    image = skimage.transform.resize(skimage.data.camera() / 255.0, (size, size), anti_aliasing=True)
    return torch.tensor(np.clip(image, 0, 1), dtype=torch.float32)[None, None]


def noise(shape, sigma: float, seed: int = 0) -> torch.Tensor:
    return sigma * torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).float()


def db(x, ref) -> float:
    return float(psnr(x[0], ref[0]))


def test_odd_psf_keeps_the_operators_centre():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 1, 20, 24, generator=g, dtype=torch.float64)
    for shape in [(6, 6), (5, 8), (7, 3), (4, 10)]:
        kernel = torch.rand(shape, generator=g, dtype=torch.float64)
        psf = torch.from_numpy(blockmatching.odd_psf(kernel))
        assert psf.shape[0] % 2 == 1 and psf.shape[1] % 2 == 1
        assert torch.allclose(O.Blur(psf).A(x), O.Blur(kernel).A(x), atol=1e-12)


def test_registered_only_when_installed():
    names = [name for name, _ in BASELINES["deblur"]]
    assert ("bm3d" in names) == blockmatching.available()
    assert names[:2] == ["wiener", "tv"]


def test_missing_package_prints_one_note(monkeypatch, capsys):
    monkeypatch.setattr(blockmatching, "available", lambda: False)
    monkeypatch.setattr(blockmatching, "_noted", False)
    baselines_for("deblur")
    baselines_for("deblur")
    baselines_for("ct")
    err = capsys.readouterr().err
    assert err.count("bm3d") >= 1 and err.count("\n") == 1 and "scoreinv[bm3d]" in err and "non-commercial" in err


@needs_bm3d
def test_bm3d_deblurring_beats_wiener_on_a_gaussian_blur():
    x = camera(64)
    op = O.Blur(O.gaussian_kernel(3.0, 25), noise=O.GaussianNoise(0.01))
    y = op.A(x) + noise(x.shape, 0.01)
    out = blockmatching.bm3d_deblur_baseline(y, op, sigma_y=0.01)
    wiener = deconvolution.wiener_baseline(y, op, sigma_y=0.01)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert 0 <= float(out.min()) and float(out.max()) <= 1
    assert db(out, x) > db(wiener, x) + 0.5  # measured: 24.0 against 22.9 dB


@needs_bm3d
def test_bm3d_deblurring_beats_the_blurred_smooth_picture():
    x = torch.from_numpy(smooth_picture(48, 48, seed=3) / 255.0).float()[None, None]
    op = O.Blur(O.gaussian_kernel(1.5, 13))
    y = op.A(x) + noise(x.shape, 0.01, seed=1)
    out = blockmatching.bm3d_deblur_baseline(y, op, sigma_y=0.01)
    assert db(out, x) > db(y.clamp(0, 1), x) + 3


@needs_bm3d
def test_bm3d_kernel_orientation_and_centre_match_the_blur_operator():
    # An asymmetric kernel of even size (two impulses, off centre): a flip or a one-pixel shift of the
    # convention would put the deblurred picture in the wrong place.
    x = camera(64)
    kernel = torch.zeros(6, 8)
    kernel[3, 4], kernel[5, 7], kernel[1, 4] = 0.6, 0.25, 0.15
    op = O.Blur(kernel)
    y = op.A(x) + noise(x.shape, 0.005)
    right = db(blockmatching.bm3d_deblur(y, kernel, sigma_y=0.005), x)
    flipped = db(blockmatching.bm3d_deblur(y, kernel.flip(0, 1), sigma_y=0.005), x)
    shifted = db(blockmatching.bm3d_deblur(y, torch.roll(kernel, 1, 0), sigma_y=0.005), x)
    assert right > max(flipped, shifted) + 3
    assert right > db(y.clamp(0, 1), x) + 3


@needs_bm3d
def test_bm3d_deblurring_colour_and_non_circular():
    x = camera(48).expand(1, 3, -1, -1) * torch.tensor([1.0, 0.8, 0.6]).view(1, 3, 1, 1)
    op = O.Blur(O.motion_kernel(7, 30.0))
    y = op.A(x) + noise(x.shape, 0.01)
    out = blockmatching.bm3d_deblur_baseline(y, op, sigma_y=0.01)
    assert out.shape == x.shape
    assert float(psnr(out, x).min()) > float(psnr(y.clamp(0, 1), x).max()) + 2
    grey = x[:, :1]
    for boundary in ("zero", "valid"):
        op = O.Blur(O.motion_kernel(7, 45.0), boundary=boundary)
        y = op.A(grey) + noise(op.output_shape(grey.shape), 0.01)
        out = blockmatching.bm3d_deblur_baseline(y, op, sigma_y=0.01)
        assert out.shape == grey.shape
        assert db(out, grey) > db(deconvolution.full_size(y, op).clamp(0, 1), grey) + 2, boundary


@needs_bm3d
def test_bm3d_denoising_grey_and_colour():
    grey = camera(48)
    colour = torch.cat([grey, grey.flip(-1), grey.flip(-2)], dim=1)
    for x in (grey, colour):
        y = x + noise(x.shape, 0.1)
        out = blockmatching.bm3d_denoise(y, sigma=0.1)
        assert out.shape == x.shape
        assert db(out, x) > db(y.clamp(0, 1), x) + 5
