"""Legitimate but unusual image files read as the right picture: each Pillow mode's conversion compared with the
original it was made from, the pixel limit read from the header, and unknown modes refused by name."""
from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import smooth_picture
from scoreinv.errors import InputError
from scoreinv.io.images import read_alpha, read_image
from scoreinv.io.pixels import decode, pixel_limit

RGB = smooth_picture(16, 20, 3)                      # (H, W, 3) uint8
GREY = smooth_picture(16, 20, 1)                     # (H, W) uint8


def as_array(image: torch.Tensor) -> np.ndarray:
    """(C, H, W) in [0, 1] → (H, W, C) in 0…255."""
    return image.permute(1, 2, 0).numpy() * 255.0


def save(tmp_path, name: str, image: Image.Image, **options):
    path = tmp_path / name
    image.save(path, **options)
    return path


def cmyk_of(rgb: np.ndarray) -> Image.Image:
    """The CMYK separation with full black generation (K = 1 − max(R, G, B)) whose plain conversion is ``rgb``."""
    values = rgb.astype(np.float64)
    k = 255.0 - values.max(-1)
    spare = np.maximum(255.0 - k, 1.0)
    cmy = [(255.0 - values[..., i] - k) * 255.0 / spare for i in range(3)]
    planes = np.stack([*cmy, k], -1).round().clip(0, 255).astype(np.uint8)
    return Image.frombytes("CMYK", (rgb.shape[1], rgb.shape[0]), planes.tobytes())


def test_cmyk_jpeg_has_the_right_colours_and_no_alpha(tmp_path):
    separation = cmyk_of(RGB)
    assert np.asarray(separation)[..., 3].max() > 0       # the K channel carries ink
    path = save(tmp_path, "cmyk.jpg", separation, quality=98)
    assert Image.open(path).info.get("adobe")            # Pillow writes Adobe's inverted CMYK
    image = read_image(path)
    assert image.shape == (3, 16, 20)
    error = np.abs(as_array(image) - RGB)
    assert error.mean() < 2.0 and error.max() < 16       # JPEG's loss, no inversion, no K-as-alpha
    assert read_alpha(path) is None


def test_cmyk_tiff_exact(tmp_path):
    image = read_image(save(tmp_path, "cmyk.tif", cmyk_of(RGB)))
    assert np.abs(as_array(image) - RGB).max() <= 1.0


def test_lab_tiff(tmp_path):
    import skimage.color

    lab = skimage.color.rgb2lab(RGB / 255.0)
    planes = np.stack([lab[..., 0] * 255 / 100, lab[..., 1], lab[..., 2]], -1).round()
    stored = np.stack([planes[..., 0].clip(0, 255).astype(np.uint8),
                       planes[..., 1].clip(-128, 127).astype(np.int8).view(np.uint8),
                       planes[..., 2].clip(-128, 127).astype(np.int8).view(np.uint8)], -1)
    path = save(tmp_path, "lab.tif", Image.frombytes("LAB", (20, 16), stored.tobytes()))
    error = np.abs(as_array(read_image(path)) - RGB)
    assert error.mean() < 2.0 and np.percentile(error, 99) < 12  # 8-bit L*a*b* quantisation


def test_ycbcr_tiff(tmp_path):
    path = save(tmp_path, "ycc.tif", Image.fromarray(RGB).convert("YCbCr"))
    assert Image.open(path).mode == "YCbCr"
    assert np.abs(as_array(read_image(path)) - RGB).max() <= 3.0


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_sixteen_bit_grey_scaled_by_65535(tmp_path, suffix):
    values = GREY.astype(np.uint16) * 257 + 3
    path = save(tmp_path, f"grey16{suffix}", Image.fromarray(values))
    assert Image.open(path).mode == "I;16"
    pixels, depth = decode(path)
    assert depth == 16 and np.allclose(pixels[..., 0], values / 65535.0, atol=1e-6)


def test_int32_and_float_tiffs(tmp_path):
    values = GREY.astype(np.int32) * 257
    path = save(tmp_path, "int.tif", Image.fromarray(values))
    assert Image.open(path).mode == "I"
    assert np.allclose(read_image(path)[0].numpy(), values / 65535.0, atol=1e-6)
    floats = (GREY / 255.0).astype(np.float32)
    assert np.allclose(read_image(save(tmp_path, "float.tif", Image.fromarray(floats)))[0].numpy(), floats)
    with pytest.raises(InputError, match="beyond 16 bits"):
        read_image(save(tmp_path, "wide.tif", Image.fromarray(values * 300)))
    with pytest.raises(InputError, match=r"must lie in \[0, 1\]"):
        read_image(save(tmp_path, "loud.tif", Image.fromarray(floats * 255)))


def test_sixteen_bit_rgb_tiff_keeps_its_bits(tmp_path):
    import tifffile

    values = RGB.astype(np.uint16) * 257 + 100
    tifffile.imwrite(tmp_path / "rgb16.tif", values, photometric="rgb")
    pixels, depth = decode(tmp_path / "rgb16.tif")
    assert depth == 16 and np.allclose(pixels, values / 65535.0, atol=1e-6)


def test_palette_colour_and_grey(tmp_path):
    colour = Image.fromarray(RGB).quantize(64)
    image = read_image(save(tmp_path, "palette.png", colour))
    assert image.shape[0] == 3
    assert np.abs(as_array(image) - np.asarray(colour.convert("RGB"))).max() < 0.01
    grey = Image.fromarray(GREY).convert("P")
    assert grey.mode == "P"
    image = read_image(save(tmp_path, "grey-palette.png", grey))
    assert image.shape[0] == 1 and np.abs(as_array(image)[..., 0] - GREY).max() < 0.01


def test_palette_transparency_is_alpha(tmp_path):
    palette = Image.fromarray(RGB).quantize(8)
    indices = np.asarray(palette)
    path = save(tmp_path, "transparent.png", palette, transparency=int(indices[0, 0]))
    alpha = read_alpha(path)
    assert alpha is not None and np.array_equal(alpha[0].numpy() == 0, indices == indices[0, 0])


def test_grey_alpha_and_rgba(tmp_path):
    alpha = np.full(GREY.shape, 255, np.uint8)
    alpha[2:6, 3:9] = 0
    path = save(tmp_path, "la.png", Image.fromarray(np.stack([GREY, alpha], -1), mode=None))
    assert Image.open(path).mode == "LA"
    image = read_image(path)
    assert image.shape == (1, 16, 20) and np.abs(as_array(image)[..., 0] - GREY).max() < 0.01  # alpha dropped
    assert np.array_equal(read_alpha(path)[0].numpy() == 0, alpha == 0)
    rgba = save(tmp_path, "rgba.png", Image.fromarray(np.concatenate([RGB, alpha[..., None]], -1)))
    assert np.abs(as_array(read_image(rgba)) - RGB).max() < 0.01


def test_one_bit(tmp_path):
    bits = GREY > 128
    path = save(tmp_path, "bits.png", Image.fromarray(bits))
    assert Image.open(path).mode == "1"
    assert np.array_equal(read_image(path)[0].numpy(), bits.astype(np.float32))


def test_exif_orientation_is_applied(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    path = save(tmp_path, "rotated.png", Image.fromarray(GREY), exif=exif)
    image = read_image(path)
    assert image.shape == (1, 20, 16)
    assert np.abs(as_array(image)[..., 0] - np.rot90(GREY, -1)).max() < 0.01


@pytest.mark.parametrize("mode", ["I;16S", "I;32", "BGR;24", "XYZ"])
def test_unknown_mode_refused_by_name(mode):
    from types import SimpleNamespace

    from scoreinv.io.pixels import _convert

    with pytest.raises(InputError, match=f"unsupported image mode {re.escape(mode)}; save it as"):
        _convert(Path("odd.tif"), SimpleNamespace(mode=mode, info={}))


def test_pixel_limit_from_the_header(tmp_path):
    path = save(tmp_path, "wide.png", Image.new("L", (400, 300)))
    with pixel_limit(100_000):
        with pytest.raises(InputError, match=r"300x400 \(HxW\) = 120000 pixels, above the limit of 100000 pixels; raise it "
                                             r"with --max-pixels 120000"):
            read_image(path)
    assert read_image(path, max_pixels=120_000).shape == (1, 300, 400)


def test_decompression_bomb_warning_is_an_error(tmp_path, monkeypatch):
    """Pillow's own bomb check stays armed: its warning is an error, never ignored into a decode."""
    from PIL import Image as PILImage

    path = save(tmp_path, "big.png", PILImage.new("L", (300, 300)))

    def bomb(*args, **kwargs):
        import warnings

        warnings.warn("Image size (90000 pixels) exceeds limit", PILImage.DecompressionBombWarning)
        return real_open(*args, **kwargs)

    real_open = PILImage.open
    monkeypatch.setattr(PILImage, "open", bomb)
    with pytest.raises(InputError, match=r"300x300 \(HxW\) = 90000 pixels, above the limit of 64 megapixels"):
        read_image(path)
    monkeypatch.undo()
    huge = save(tmp_path, "huge.png", PILImage.new("1", (3000, 3000)))
    with pytest.raises(InputError, match=r"3000x3000 \(HxW\) = 9 megapixels, above the limit of 1 megapixels"):
        read_image(huge, max_pixels=1_000_000)  # Pillow's own error (beyond twice the limit), same message


def test_truncated_file_is_one_line(tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(RGB).save(buffer, "PNG")
    (tmp_path / "cut.png").write_bytes(buffer.getvalue()[:200])
    with pytest.raises(InputError, match="not a readable image"):
        read_image(tmp_path / "cut.png")


# The same files through scoreinv solve: known pixels (σ_y = 0) come out as the original's

def _known_pixels_kept(cli, tmp_path, tiny_priors, name: str, original: np.ndarray, tolerance: float,
                       *extra) -> np.ndarray:
    known = np.full(original.shape[:2], 255, np.uint8)
    known[4:9, 5:12] = 0
    Image.fromarray(known).save(tmp_path / "mask.png")
    prior = tiny_priors["color" if original.ndim == 3 else "gray"]
    result = cli("solve", "--task", "inpaint", name, "--mask", "mask.png", "--prior", prior, "--steps", "2",
                 "--quiet", "-o", "out.png", *extra)
    assert result.exit_code == 0, result.output
    restored = np.asarray(Image.open(tmp_path / "out.png")).astype(np.float64)
    assert restored.shape == original.shape
    assert np.abs(restored[known > 0] - original[known > 0].astype(np.float64)).mean() < tolerance
    return restored


def test_solve_reads_cmyk_16_bit_palette_and_grey_alpha_right(cli, tmp_path, tiny_priors):
    save(tmp_path, "cmyk.jpg", cmyk_of(RGB), quality=98)
    _known_pixels_kept(cli, tmp_path, tiny_priors, "cmyk.jpg", RGB, 2.0)
    save(tmp_path, "grey16.png", Image.fromarray(GREY.astype(np.uint16) * 257))
    _known_pixels_kept(cli, tmp_path, tiny_priors, "grey16.png", GREY, 0.01)
    palette = Image.fromarray(RGB).quantize(64)
    save(tmp_path, "palette.png", palette)
    _known_pixels_kept(cli, tmp_path, tiny_priors, "palette.png", np.asarray(palette.convert("RGB")), 0.01)
    alpha = np.full(GREY.shape, 255, np.uint8)
    save(tmp_path, "la.png", Image.fromarray(np.stack([GREY, alpha], -1)))
    _known_pixels_kept(cli, tmp_path, tiny_priors, "la.png", GREY, 0.01)
