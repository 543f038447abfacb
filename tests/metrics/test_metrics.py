"""Metrics: PSNR and SSIM sanity, LPIPS against the reference triplet of ../shared (skipped when absent)."""
from __future__ import annotations

import math

import pytest
import torch

from scoreinv.errors import InputError
from scoreinv.io.images import read_image
from scoreinv.io.paths import shared_dir
from scoreinv.metrics.perceptual import LPIPS_WEIGHTS_FILE, lpips_distance
from scoreinv.metrics.quality import psnr, ssim

SHARED = shared_dir()
LPIPS_DATA = SHARED / "data" / "lpips" if SHARED else None
needs_lpips = pytest.mark.skipif(
    SHARED is None or not (SHARED / LPIPS_WEIGHTS_FILE).is_file() or not (LPIPS_DATA / "ex_ref.png").is_file(),
    reason="needs ../shared/weights/lpips_alexnet_features.pth and ../shared/data/lpips (set SCOREINV_SHARED)")


def _image(shape, seed=0):
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed))


def test_psnr_identical_is_infinite():
    x = _image((1, 16, 16))
    assert math.isinf(float(psnr(x, x)))


def test_psnr_of_known_mse():
    ref = torch.full((3, 8, 8), 0.5)
    x = ref + 0.1  # MSE = 0.01 → 20 dB
    assert float(psnr(x, ref)) == pytest.approx(20.0, abs=1e-4)
    x = ref.clone()
    x[0, 0, 0] += 0.8  # MSE = 0.64 / 192
    assert float(psnr(x, ref)) == pytest.approx(10 * math.log10(192 / 0.64), abs=1e-4)


def test_batch_gives_one_value_per_image():
    ref = _image((2, 1, 16, 16))
    x = ref.clone()
    x[1] = (x[1] + 0.05).clamp(0, 1)
    values = psnr(x, ref)
    assert values.shape == (2,) and math.isinf(float(values[0])) and 20 < float(values[1]) < 40
    assert ssim(x, ref).shape == (2,)


def test_ssim_identical_is_one_and_noise_lowers_it():
    ref = _image((3, 32, 32), seed=1)
    assert float(ssim(ref, ref)) == pytest.approx(1.0, abs=1e-12)
    grey = ref[:1]
    noisy = (grey + 0.2 * torch.randn(grey.shape, generator=torch.Generator().manual_seed(2))).clamp(0, 1)
    assert 0 < float(ssim(noisy, grey)) < 0.95


@pytest.mark.parametrize("a,b", [(0.2, 0.7), (0.5, 0.5), (0.9, 0.1)])
def test_ssim_of_two_flat_images_is_the_luminance_term(a, b):
    # flat images have no variance, so Wang et al.'s contrast-structure term is C2 / C2 = 1 and SSIM reduces to
    # (2 a b + C1) / (a² + b² + C1) with C1 = (0.01 · data range)²
    c1 = 0.01 ** 2
    value = float(ssim(torch.full((1, 16, 16), a), torch.full((1, 16, 16), b)))
    assert value == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), abs=1e-6)


def test_ssim_is_one_for_identical_images_symmetric_and_falls_with_noise():
    ref = _image((1, 24, 24), seed=3)
    noise = torch.randn(ref.shape, generator=torch.Generator().manual_seed(4))
    values = [float(ssim((ref + level * noise).clamp(0, 1), ref)) for level in (0.0, 0.02, 0.05, 0.2)]
    assert values[0] == pytest.approx(1.0, abs=1e-12) and values == sorted(values, reverse=True)
    noisy = (ref + 0.05 * noise).clamp(0, 1)
    assert float(ssim(noisy, ref)) == pytest.approx(float(ssim(ref, noisy)), abs=1e-12)


def test_shape_mismatch_is_a_one_line_error():
    with pytest.raises(InputError, match="differ in shape"):
        psnr(torch.zeros(1, 4, 4), torch.zeros(1, 4, 5))
    with pytest.raises(InputError, match=r"\(C, H, W\)"):
        ssim(torch.zeros(4, 4), torch.zeros(4, 4))


def test_missing_lpips_weights_file_is_a_one_line_error(tmp_path):
    with pytest.raises(InputError, match="not found"):
        lpips_distance(torch.zeros(3, 32, 32), torch.zeros(3, 32, 32), weights=tmp_path / "absent.pth")


def test_lpips_weights_with_wrong_checksum_are_refused(tmp_path):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not the AlexNet weights")
    with pytest.raises(InputError, match="sha256"):
        lpips_distance(torch.zeros(3, 32, 32), torch.zeros(3, 32, 32), weights=bad)


@needs_lpips
def test_lpips_reference_triplet():
    ref, p0, p1 = (read_image(LPIPS_DATA / f"ex_{name}.png") for name in ("ref", "p0", "p1"))
    assert float(lpips_distance(p0, ref)) == pytest.approx(0.722, abs=0.002)
    assert float(lpips_distance(p1, ref)) == pytest.approx(0.138, abs=0.002)
    batch = lpips_distance(torch.stack([p0, p1]), torch.stack([ref, ref]))
    assert batch.shape == (2,) and float(batch[1]) == pytest.approx(0.138, abs=0.002)


@needs_lpips
def test_lpips_grey_is_repeated_to_three_channels():
    ref = read_image(LPIPS_DATA / "ex_ref.png", channels=1)
    p0 = read_image(LPIPS_DATA / "ex_p0.png", channels=1)
    assert float(lpips_distance(ref, ref)) == pytest.approx(0.0, abs=1e-6)
    grey = float(lpips_distance(p0, ref))
    assert grey == pytest.approx(float(lpips_distance(p0.expand(3, -1, -1), ref.expand(3, -1, -1))), abs=1e-6)
    assert grey > 0.1
