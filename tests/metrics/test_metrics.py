"""Metrics: PSNR and SSIM sanity, LPIPS against the reference triplet of ../shared and against the lpips package
(skipped when absent), and LPIPS's start-up without importing lpips or torchvision."""
from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys

import pytest
import torch

from scoreinv.errors import InputError
from scoreinv.io.images import read_image
from scoreinv.io.paths import shared_dir
from scoreinv.metrics import perceptual
from scoreinv.metrics.perceptual import LPIPS_WEIGHTS_FILE, lpips_distance
from scoreinv.metrics.quality import psnr, ssim

SHARED = shared_dir()
LPIPS_DATA = SHARED / "data" / "lpips" if SHARED else None
needs_lpips = pytest.mark.skipif(
    SHARED is None or not (SHARED / LPIPS_WEIGHTS_FILE).is_file() or not (LPIPS_DATA / "ex_ref.png").is_file(),
    reason="needs ../shared/weights/lpips_alexnet_features.pth and ../shared/data/lpips (set SCOREINV_SHARED)")
needs_lpips_weights = pytest.mark.skipif(
    SHARED is None or not (SHARED / LPIPS_WEIGHTS_FILE).is_file() or importlib.util.find_spec("lpips") is None,
    reason="needs ../shared/weights/lpips_alexnet_features.pth (set SCOREINV_SHARED) and the lpips package")


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


def test_lpips_too_small_an_image_is_a_one_line_error():
    with pytest.raises(InputError, match="at least 31x31"):
        lpips_distance(torch.zeros(1, 30, 40), torch.zeros(1, 30, 40))


def test_lpips_without_the_packages_linear_layers_is_a_one_line_error(monkeypatch):
    monkeypatch.setattr(perceptual, "LPIPS_LINEAR_FILE", "weights/v9.9/absent.pth")
    with pytest.raises(InputError, match="linear layers weights/v9.9/absent.pth of the lpips package"):
        perceptual._linear_weights()


@pytest.fixture(scope="module")
def lpips_package_model():
    """The lpips package's LPIPS(alex, v0.1) with its AlexNet trunk copied from the shared weights file."""
    import warnings

    lpips = pytest.importorskip("lpips", reason="the lpips package is not installed")
    features = torch.load(SHARED / LPIPS_WEIGHTS_FILE, map_location="cpu", weights_only=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchvision's deprecation notice for `pretrained=`
        model = lpips.LPIPS(net="alex", version="0.1", pnet_rand=True, verbose=False)
    trunk = {k: features["features." + k.split(".", 2)[2]] for k in model.state_dict() if k.startswith("net.slice")}
    model.load_state_dict(trunk, strict=False)
    return model.eval().requires_grad_(False)


def _structured_pair(kind: str, shape):
    """A smooth-plus-edges picture of ``shape`` (C, H, W) and a distortion of it named by ``kind``."""
    channels, height, width = shape
    yy, xx = torch.meshgrid(torch.linspace(0, 1, height), torch.linspace(0, 1, width), indexing="ij")
    base = torch.stack([0.5 + 0.3 * torch.sin(7 * xx + 3 * c) * torch.cos(5 * yy) for c in range(channels)])
    base = torch.where((xx - 0.5) ** 2 + (yy - 0.4) ** 2 < 0.06, 1 - base, base)  # a disc with sharp edges
    if kind == "shift":
        return base, torch.roll(base, shifts=(1, 2), dims=(-2, -1))
    if kind == "blur":
        return base, torch.nn.functional.avg_pool2d(base[None], 3, stride=1, padding=1, count_include_pad=False)[0]
    if kind == "checker":
        checker = ((torch.arange(height)[:, None] // 4 + torch.arange(width)[None, :] // 4) % 2).float()
        return checker.expand(channels, -1, -1), (1 - checker).expand(channels, -1, -1)
    if kind == "same":
        return base, base.clone()
    raise ValueError(kind)


def _package_lpips(model, x, ref):
    """The lpips package's distances for (C, H, W) or (B, C, H, W) images in [0, 1] (grey repeated to RGB)."""
    x4, ref4 = (t if t.dim() == 4 else t[None] for t in (x, ref))
    x4, ref4 = (t.expand(-1, 3, -1, -1) if t.shape[1] == 1 else t for t in (x4, ref4))
    with torch.no_grad():
        value = model(x4.float(), ref4.float(), normalize=True).flatten().double()
    return value[0] if x.dim() == 3 else value


@needs_lpips_weights
@pytest.mark.parametrize("shape", [(3, 37, 53), (1, 37, 53), (2, 3, 40, 33), (2, 1, 64, 48)])
def test_lpips_agrees_with_the_lpips_package_on_random_pairs(lpips_package_model, shape):
    generator = torch.Generator().manual_seed(sum(shape))
    x, ref = torch.rand(shape, generator=generator), torch.rand(shape, generator=generator)
    ref = (0.7 * ref + 0.3 * x) if len(shape) == 3 else ref  # a nearer pair as well as independent ones
    ours, theirs = lpips_distance(x, ref), _package_lpips(lpips_package_model, x, ref)
    assert ours.shape == theirs.shape == shape[:-3]
    assert ours.tolist() == pytest.approx(theirs.tolist(), rel=1e-5, abs=1e-8)


@needs_lpips_weights
@pytest.mark.parametrize("kind", ["shift", "blur", "checker", "same"])
@pytest.mark.parametrize("shape", [(1, 37, 53), (3, 37, 53), (3, 64, 64)])
def test_lpips_agrees_with_the_lpips_package_on_structured_pairs(lpips_package_model, kind, shape):
    x, ref = _structured_pair(kind, shape)
    ours, theirs = float(lpips_distance(x, ref)), float(_package_lpips(lpips_package_model, x, ref))
    assert ours == pytest.approx(theirs, rel=1e-5, abs=1e-8)
    assert ours > 1e-3 if kind != "same" else ours == pytest.approx(0.0, abs=1e-8)


@needs_lpips_weights
def test_lpips_agrees_with_the_lpips_package_on_a_batch_of_two_structured_pairs(lpips_package_model):
    pairs = [_structured_pair(kind, (3, 37, 53)) for kind in ("shift", "blur")]
    x, ref = torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])
    ours, theirs = lpips_distance(x, ref), _package_lpips(lpips_package_model, x, ref)
    assert ours.shape == (2,) and ours.tolist() == pytest.approx(theirs.tolist(), rel=1e-5, abs=1e-8)
    # one image of a batch scores as it does alone, to float32 rounding (oneDNN's kernels, hence the order of the
    # sums, depend on the batch size: 1.3e-6 apart on an AVX-512 CPU)
    assert float(ours[1]) == pytest.approx(float(lpips_distance(x[1], ref[1])), rel=1e-5)


@needs_lpips_weights
def test_lpips_imports_neither_the_lpips_package_nor_torchvision():
    script = ("import sys, torch\n"
              "import scoreinv.metrics.perceptual as perceptual\n"
              "x = torch.rand(3, 37, 53, generator=torch.Generator().manual_seed(0))\n"
              "value = float(perceptual.lpips_distance(x, x.flip(-1)))\n"
              "assert value > 0, value\n"
              "print(sorted({m.split('.')[0] for m in sys.modules} & {'lpips', 'torchvision'}))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"imported: {result.stdout.strip()}"
