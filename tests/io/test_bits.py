"""16 bits a sample in and out: PNG (grey and colour, our own encoder) and TIFF written with round(x · 65535) and read
back within half a level, 16-bit colour PNGs read at full depth, each file's depth from its header, and
``scoreinv solve --bits``: a 16-bit input restored at 16 bits keeps more than 256 levels and equals the float result,
--bits 16 with a JPEG or BMP refused before any work, the default and --bits auto."""
from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from cli_checks import ok, one_line_error
from conftest import smooth_picture
from scoreinv.errors import InputError
from scoreinv.io.images import bit_depth, encode_png16, read_image, write_image

LEVEL = 1 / 65535


def snapshot(root) -> dict:
    """Every entry under ``root`` (hidden ones too) with its bytes (None for folders)."""
    return {str(p.relative_to(root)): None if p.is_dir() else p.read_bytes() for p in sorted(root.rglob("*"))}


def refused(result, fragment: str) -> str:
    return one_line_error(result, fragment, notes_allowed=True)


def random_image(channels: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(channels, 19, 23, generator=torch.Generator().manual_seed(seed))


def deep_picture(channels: int = 1) -> np.ndarray:
    """A smooth (H, W[, 3]) uint16 picture using far more than 256 levels."""
    picture = smooth_picture(24, 24, channels).astype(np.uint16) * 250
    return picture + np.arange(24, dtype=np.uint16).reshape(24, 1, *([1] if channels > 1 else [])) * 5


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_sixteen_bits_round_trip(tmp_path, channels, suffix):
    image = random_image(channels)
    path = write_image(tmp_path / f"x{suffix}", image, bits=16)
    back = read_image(path)
    assert back.shape == image.shape and bit_depth(path) == 16
    assert float((back - image).abs().max()) <= 0.5 * LEVEL + 1e-7
    assert len(torch.unique(back)) > 256
    shallow = read_image(write_image(tmp_path / f"y{suffix}", image))  # the 8-bit default: half an 8-bit level
    assert bit_depth(tmp_path / f"y{suffix}") == 8 and len(torch.unique(shallow)) <= 256
    assert float((shallow - image).abs().max()) <= 0.5 / 255 + 1e-7


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torchvision 0.29's note on its image decoders
def test_the_png_encoder_matches_other_decoders(tmp_path):
    """Our 16-bit PNGs as Pillow (grey) and torchvision's libpng (colour) read them; alpha kept as a channel."""
    from torchvision.io import ImageReadMode, decode_png, read_file

    grey = (np.random.default_rng(0).random((7, 9)) * 65535).astype(np.uint16)
    (tmp_path / "g.png").write_bytes(encode_png16(grey))
    assert Image.open(tmp_path / "g.png").mode == "I;16"
    assert (np.asarray(Image.open(tmp_path / "g.png")) == grey).all()
    rgba = (np.random.default_rng(1).random((7, 9, 4)) * 65535).astype(np.uint16)
    (tmp_path / "c.png").write_bytes(encode_png16(rgba))
    decoded = decode_png(read_file(str(tmp_path / "c.png")), ImageReadMode.UNCHANGED)
    assert (decoded.to(torch.int32).permute(1, 2, 0).numpy() == rgba).all()


def test_a_sixteen_bit_colour_png_is_read_at_full_depth(tmp_path):
    picture = deep_picture(3)
    (tmp_path / "c.png").write_bytes(encode_png16(picture))
    image = read_image(tmp_path / "c.png")
    assert np.abs(image.permute(1, 2, 0).numpy() * 65535 - picture).max() < 0.01
    grey = read_image(tmp_path / "c.png", channels=1)
    assert grey.shape == (1, 24, 24)


def test_bit_depth_from_the_header(tmp_path):
    Image.fromarray(smooth_picture(8, 8)).save(tmp_path / "8.png")
    Image.fromarray(smooth_picture(8, 8, 3)).save(tmp_path / "8.jpg")
    Image.fromarray(deep_picture()).save(tmp_path / "16.png")
    tifffile.imwrite(tmp_path / "16.tif", deep_picture(3), photometric="rgb")
    tifffile.imwrite(tmp_path / "32.tif", np.full((8, 8), 0.5, np.float32))
    (tmp_path / "text.png").write_text("not an image")
    assert [bit_depth(tmp_path / name) for name in ("8.png", "8.jpg", "16.png", "16.tif", "32.tif", "text.png")] == \
        [8, 8, 16, 16, 32, 8]


def test_sixteen_bits_need_png_or_tiff():
    with pytest.raises(InputError, match="JPEG holds 8 bits a sample"):
        write_image("x.jpg", random_image(1), bits=16)
    with pytest.raises(InputError, match="--bits takes 8 or 16"):
        write_image("x.png", random_image(1), bits=12)


@pytest.fixture
def captured(monkeypatch) -> list:
    """Every reconstruction the CLI runs (reconstruct is wrapped, not changed)."""
    import scoreinv.solve.reconstruct as module

    real, results = module.reconstruct, []

    def capture(*args, **kwargs):
        results.append(real(*args, **kwargs))
        return results[-1]

    monkeypatch.setattr(module, "reconstruct", capture)
    return results


@pytest.fixture
def deep_scene(tmp_path) -> dict:
    """A 16-bit grey and a 16-bit colour PNG (24x24) and a mask; returns the solve commands for each."""
    Image.fromarray(deep_picture()).save(tmp_path / "grey16.png")
    (tmp_path / "colour16.png").write_bytes(encode_png16(deep_picture(3)))
    known = np.full((24, 24), 255, np.uint8)
    known[5:12, 6:15] = 0
    Image.fromarray(known).save(tmp_path / "mask.png")
    return {"grey16.png": "gray", "colour16.png": "color"}


def solve_args(tiny_priors, name: str, kind: str) -> list:
    return ["solve", "--task", "inpaint", name, "--mask", "mask.png", "--prior", tiny_priors[kind], "--steps", "2",
            "--quiet"]


@pytest.mark.parametrize("name,suffix", [("grey16.png", ".png"), ("grey16.png", ".tif"), ("colour16.png", ".png"),
                                         ("colour16.png", ".tif")])
def test_a_sixteen_bit_input_restored_at_sixteen_bits(cli, tmp_path, tiny_priors, deep_scene, captured, name, suffix):
    ok(cli(*solve_args(tiny_priors, name, deep_scene[name]), "--bits", "16", "-o", f"out{suffix}",
           "--std-map", f"std{suffix}", "--samples", "2"))
    from scoreinv.io.figures import std_map

    restored, mean = read_image(tmp_path / f"out{suffix}"), captured[-1].mean[0].clamp(0, 1)
    assert bit_depth(tmp_path / f"out{suffix}") == 16 and bit_depth(tmp_path / f"std{suffix}") == 16
    assert len(torch.unique(restored)) > 256
    assert restored.shape == mean.shape and float((restored - mean).abs().max()) <= LEVEL
    spread, expected = read_image(tmp_path / f"std{suffix}"), std_map(captured[-1].std[0])[0]
    assert float((spread - expected).abs().max()) <= LEVEL
    assert float((spread * 255 - (spread * 255).round()).abs().max()) > 0.01  # finer than 8-bit levels
    record = json.loads((tmp_path / "out.json").read_text())
    assert record["bits"] == 16


def test_the_default_is_8_bits_with_a_note_and_auto_follows_the_input(cli, tmp_path, tiny_priors, deep_scene):
    result = ok(cli(*solve_args(tiny_priors, "grey16.png", "gray"), "-o", "default.png"))
    assert "has more than 8 bits a sample; the outputs have 8" in result.stderr
    assert bit_depth(tmp_path / "default.png") == 8
    ok(cli(*solve_args(tiny_priors, "grey16.png", "gray"), "-o", "auto.png", "--bits", "auto"))
    assert bit_depth(tmp_path / "auto.png") == 16
    result = ok(cli(*solve_args(tiny_priors, "grey16.png", "gray"), "-o", "auto.jpg", "--bits", "auto"))
    assert "auto.jpg is JPEG: written with 8" in result.stderr
    Image.fromarray(smooth_picture(24, 24)).save(tmp_path / "grey8.png")
    ok(cli(*solve_args(tiny_priors, "grey8.png", "gray"), "-o", "eight.png", "--bits", "auto"))
    assert bit_depth(tmp_path / "eight.png") == 8        # an 8-bit input stays 8-bit under auto


@pytest.mark.parametrize("outputs,fragment", [(["-o", "out.jpg"], "-o out.jpg: JPEG holds 8 bits a sample"),
                                              (["-o", "out.png", "--std-map", "std.bmp", "--samples", "2"],
                                               "--std-map std.bmp: BMP holds 8 bits a sample")])
def test_sixteen_bits_into_jpeg_or_bmp_is_refused_before_any_work(cli, tmp_path, tiny_priors, deep_scene, captured,
                                                                   outputs, fragment):
    before = snapshot(tmp_path)
    refused(cli(*solve_args(tiny_priors, "grey16.png", "gray"), "--bits", "16", *outputs), fragment)
    assert captured == [] and snapshot(tmp_path) == before


def test_a_folder_at_sixteen_bits(cli, tmp_path, tiny_priors, deep_scene):
    (tmp_path / "in").mkdir()
    for index in range(2):
        Image.fromarray(deep_picture() + index).save(tmp_path / "in" / f"s{index}.png")
    before = snapshot(tmp_path)
    refused(cli(*solve_args(tiny_priors, "in", "gray"), "-o", "out/{stem}.jpg", "--bits", "16"), "JPEG holds 8 bits")
    assert snapshot(tmp_path) == before
    ok(cli(*solve_args(tiny_priors, "in", "gray"), "-o", "out/{stem}.tif", "--bits", "16"))
    assert [bit_depth(tmp_path / "out" / f"s{i}.tif") for i in range(2)] == [16, 16]
