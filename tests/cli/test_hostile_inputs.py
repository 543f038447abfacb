"""A table of hostile inputs: each is refused with a non-zero exit and one line, no traceback, and leaves the
folder of inputs and outputs exactly as it was (listing, bytes, mtimes; no temporaries).

Classes: silently wrong pictures (mode, range and shape traps), overwrites (outputs naming inputs or a prior's
files, by name, symlink or hard link), half-written sets (full disks, diverged runs, Ctrl-C), tracebacks (devices,
non-finite numbers, huge seeds, damaged priors) and unclear limits (the pixel limit, option ranges).
"""
from __future__ import annotations

import errno
import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cli_checks import make_reconstruct_diverge
from conftest import smooth_picture
from hostile_scene import GREY_PRIOR, STEPS, build_scene, refused, snapshot, write_priors

SOLVE = ["solve", "--task", "inpaint", "clean.png", "--mask", "mask.png", "--prior", GREY_PRIOR, *STEPS]
SIMULATE = ["solve", "--task", "inpaint", "--simulate", "clean.png", "--prior", GREY_PRIOR, *STEPS]
DEBLUR = ["solve", "--task", "deblur", "clean.png", "--prior", GREY_PRIOR, *STEPS]
CT = ["solve", "--task", "ct", "sino.npy", "--size", "12", "--prior", "p/ct.pt", *STEPS]
LIKELIHOOD = ["likelihood", "clean.png", "--prior", GREY_PRIOR, "--steps", "1"]
SHIPPED = {"SCOREINV_PRETRAINED": "p"}


# Inputs made for one row (each writes into the current folder, before the snapshot)

def cmyk_jpeg(root):
    rgb = smooth_picture(16, 16, 3).astype(np.float64)
    k = 255 - rgb.max(-1)
    cmy = [(255 - rgb[..., i] - k) * 255 / np.maximum(255 - k, 1) for i in range(3)]
    planes = np.stack([*cmy, k], -1).round().astype(np.uint8)
    Image.frombytes("CMYK", (16, 16), planes.tobytes()).save(root / "cmyk.jpg", quality=95)


def tiffs(root):
    grey = smooth_picture(16, 16).astype(np.float32) / 255
    Image.fromarray((grey * 1e6).astype(np.int32)).save(root / "wide.tif")
    Image.fromarray(grey * 255).save(root / "loud.tif")
    nan = grey.copy()
    nan[3, 3] = np.nan
    Image.fromarray(nan).save(root / "nan.tif")


def damaged_files(root):
    (root / "cut.png").write_bytes((root / "clean.png").read_bytes()[:60])
    (root / "empty.png").write_bytes(b"")
    (root / "text.png").write_text("not an image")
    (root / "adir").mkdir()


def odd_masks(root):
    Image.fromarray(np.full((20, 24), 255, np.uint8)).save(root / "mask20.png")
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(root / "black.png")
    opaque = np.concatenate([smooth_picture(16, 16, 3), np.full((16, 16, 1), 255, np.uint8)], -1)
    Image.fromarray(opaque).save(root / "opaque.png")


def bad_operator_files(root):
    kernel = np.ones((3, 3))
    kernel[1, 1] = np.nan
    np.save(root / "nan-kernel.npy", kernel)
    np.savetxt(root / "nan-angles.txt", [0.0, np.nan, 45.0, 67.5, 90.0, 112.5, 135.0, 157.5])
    sinogram = np.load(root / "sino.npy")
    sinogram[2, 2] = np.inf
    np.save(root / "inf-sino.npy", sinogram)


def big_kernel(root):
    Image.fromarray(np.full((20, 20), 9, np.uint8)).save(root / "bigkernel.png")


def links(root):
    (root / "link.png").symlink_to("clean.png")
    os.link(root / "clean.png", root / "hard.png")
    (root / "card.json").symlink_to("p/natural-gray.json")


def png_header(root, name="bomb.png", width=100_000, height=100_000):
    """A PNG whose header declares width x height pixels, with almost no data (a decompression bomb's shape)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    (root / name).write_bytes(b"\x89PNG\r\n\x1a\n" + body)


def damaged_priors(root):
    from scoreinv.model.network import UNet
    from scoreinv.priors.cards import write_prior
    from conftest import TINY_STATS

    net = UNet(channels=1, base=8, mults=(1, 2), blocks=1)
    weights = net.state_dict()
    weights["stem.weight"] = weights["stem.weight"].clone().fill_(float("nan"))
    card = {"kind": "natural", "channels": 1, "data": "damaged (tests)", "steps": 0}
    (root / "bad").mkdir()
    write_prior(root / "bad" / "nan.pt", weights=weights, net_config=net.config, stats=TINY_STATS, card=card)
    write_prior(root / "bad" / "cut.pt", weights=net.state_dict(), net_config=net.config, stats=TINY_STATS,
                card=card)
    cut = root / "bad" / "cut.pt"
    cut.write_bytes(cut.read_bytes()[:500])
    from scoreinv.priors.registry import sha256

    record = json.loads((root / "bad" / "cut.json").read_text())
    (root / "bad" / "cut.json").write_text(json.dumps({**record, "sha256": sha256(cut)}))
    (root / "bad" / "swapped.pt").write_bytes((root / "p" / "natural-gray.pt").read_bytes())
    swapped = {**json.loads((root / "p" / "natural-color.json").read_text()), "file": "swapped.pt"}
    (root / "bad" / "swapped.json").write_text(json.dumps(swapped))
    (root / "bad" / "junk.pt").write_bytes(b"weights")
    (root / "bad" / "junk.json").write_text("{not json")


# Faults injected for one row

def full_disk(code):
    def patch(monkeypatch):
        def save(self, fp, *args, **kwargs):
            Path(fp).write_bytes(b"\x89PNG partial")
            raise OSError(code, os.strerror(code))

        monkeypatch.setattr(Image.Image, "save", save)
    return patch


def interrupt_solving(monkeypatch):
    import scoreinv.solve.reconstruct as module

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(module, "reconstruct", interrupted)


def interrupt_renaming(monkeypatch):
    import scoreinv.io.output_set as module

    calls = []

    def rename(source, target):
        calls.append(target)
        if len(calls) == 2:
            raise KeyboardInterrupt
        os.replace(source, target)

    monkeypatch.setattr(module, "rename", rename)


def infinite_first_call(monkeypatch):
    from scoreinv.model.network import UNet

    monkeypatch.setattr(UNet, "forward", lambda self, x, c_noise: torch.full_like(x, float("inf")))


R = pytest.param
ROWS = [
    # silently wrong pictures
    R(["solve", "--task", "inpaint", "cmyk.jpg", "--prior", "p/natural-color.pt", *STEPS],
      "inpainting needs a mask", cmyk_jpeg, None, id="cmyk-k-channel-is-not-alpha"),
    R(["solve", "--task", "sr", "wide.tif", "--prior", GREY_PRIOR, *STEPS], "beyond 16 bits", tiffs, None,
      id="int32-beyond-16-bits"),
    R(["solve", "--task", "sr", "loud.tif", "--prior", GREY_PRIOR, *STEPS], "must lie in [0, 1]", tiffs, None,
      id="float-tiff-0-255"),
    R(["solve", "--task", "sr", "nan.tif", "--prior", GREY_PRIOR, *STEPS], "NaN or infinite", tiffs, None,
      id="float-tiff-nan"),
    R([*SIMULATE[:4], "cut.png", *SIMULATE[5:]], "not a readable image", damaged_files, None, id="truncated-png"),
    R([*SIMULATE[:4], "empty.png", *SIMULATE[5:]], "not a readable image", damaged_files, None, id="empty-file"),
    R([*SIMULATE[:4], "text.png", *SIMULATE[5:]], "not a readable image", damaged_files, None, id="text-as-png"),
    R([*SIMULATE[:4], "adir", *SIMULATE[5:]], "is a folder", damaged_files, None, id="input-is-a-folder"),
    R([*SOLVE[:5], "mask20.png", *SOLVE[6:]], "mask is 20x24 but", odd_masks, None, id="mask-wrong-size"),
    R([*SOLVE[:5], "black.png", *SOLVE[6:]], "hides every pixel", odd_masks, None, id="mask-hides-all"),
    R(["solve", "--task", "inpaint", "opaque.png", "--prior", "p/natural-color.pt", *STEPS], "hides no pixel",
      odd_masks, None, id="alpha-fully-opaque"),
    R([*DEBLUR, "--kernel", "nan-kernel.npy"], "NaN or infinite", bad_operator_files, None, id="kernel-nan"),
    R([*DEBLUR, "--kernel", "text.png"], "not a readable image", damaged_files, None, id="kernel-not-an-image"),
    R([*DEBLUR, "--kernel", "gaussian:9"], "larger than", None, None, id="kernel-larger-than-image"),
    R([*CT, "--angles", "nan-angles.txt"], "NaN or infinite", bad_operator_files, None, id="angles-nan"),
    R([*CT[:3], "inf-sino.npy", *CT[4:]], "NaN or infinite", bad_operator_files, None, id="sinogram-inf"),
    R([*CT, "--angles", "5"], "8 angle rows", None, None, id="angles-count-mismatch"),
    # overwrites
    R([*SOLVE, "-o", "clean.png"], "is the input file", None, None, id="o-is-input"),
    R([*SOLVE, "--figure", "mask.png"], "is the --mask file", None, None, id="figure-is-mask"),
    R([*DEBLUR, "--kernel", "kernel.png", "--std-map", "kernel.png", "--samples", "2"], "is the --kernel file",
      None, None, id="std-map-is-kernel"),
    R([*CT, "--angles", "angles.txt", "--json", "angles.txt"], "is the --angles file", None, None,
      id="json-is-angles"),
    R([*CT, "-o", "sino.png", "--json", "sino.npy"], "is the input file", None, None, id="json-is-sinogram"),
    R([*SOLVE, "-o", "link.png"], "is the input file", links, None, id="o-symlink-to-input"),
    R([*SOLVE, "-o", "hard.png"], "is the input file", links, None, id="o-hard-link-of-input"),
    R([*SOLVE, "-o", "p/natural-gray.png"], "the JSON sidecar p/natural-gray.json is the model card of prior",
      None, None, id="default-sidecar-is-prior-card"),
    R(["solve", "--task", "inpaint", "clean.png", "--mask", "mask.png", *STEPS, "-o", "p/natural-gray.png"],
      "is the model card of prior natural-gray", None, SHIPPED, id="default-sidecar-is-default-prior-card"),
    R([*SOLVE, "--json", "p/natural-gray.md"], "is the Markdown card of prior", None, None, id="json-is-md-card"),
    R([*SOLVE, "--json", "p/natural-gray.pt"], "is the weights of prior", None, None, id="json-is-weights"),
    R([*SOLVE, "--json", "card.json"], "is the model card of prior", links, None, id="json-symlink-to-card"),
    R([*SOLVE, "-o", "a.png", "--figure", "a.png"], "both name", None, None, id="two-outputs-one-name"),
    R([*SOLVE, "-o", "a.png", "--json", "a.png"], "both name", None, None, id="json-is-output"),
    R([*SOLVE, "-o", "out.txt"], "use an image file name", None, None, id="o-no-image-suffix"),
    R([*SOLVE, "-o", "adir"], "is a directory", damaged_files, None, id="o-is-a-folder"),
    R([*SOLVE, "-o", "adir.png/x.png"], "does not exist", None, None, id="o-folder-missing"),
    R([*SOLVE, "-o", "/sys/out.png"], "cannot write in folder /sys", None, None, id="o-folder-not-writable"),
    R([*LIKELIHOOD, "--json", "clean.png"], "is the input image", None, None, id="likelihood-json-is-image"),
    R([*LIKELIHOOD, "--json", "p/natural-gray.json"], "is the model card", None, None,
      id="likelihood-json-is-card"),
    # half-written sets
    R([*SOLVE, "-o", "out.png", "--std-map", "std.png", "--samples", "2"], "no space left on device (ENOSPC); "
      "nothing was written", None, full_disk(errno.ENOSPC), id="disk-full"),
    R([*SOLVE, "-o", "out.png"], "(EFBIG); nothing was written", None, full_disk(errno.EFBIG), id="file-too-big"),
    R([*SOLVE, "-o", "out.png", "--figure", "fig.png"], "diverged); nothing was written", None,
      make_reconstruct_diverge, id="sampler-diverged"),
    R([*SOLVE, "-o", "out.png"], "interrupted (Ctrl-C)", None, interrupt_solving, id="ctrl-c-while-solving"),
    R([*SOLVE, "-o", "out.png", "--figure", "fig.png"], "interrupted while writing", None, interrupt_renaming,
      id="ctrl-c-while-renaming"),
    # tracebacks
    R([*SOLVE, "--device", "mps"], "device 'mps' is not available here", None, None, id="device-mps"),
    R([*SOLVE, "--device", "meta"], "device 'meta' is not available here", None, None, id="device-meta"),
    R([*SOLVE, "--device", "cuda:7"], "device 'cuda:7' is not available here", None, None, id="device-cuda"),
    R([*SOLVE, "--device", "gpu please"], "unknown device 'gpu please'", None, None, id="device-garbage"),
    R([*LIKELIHOOD, "--device", "meta"], "not available here", None, None, id="likelihood-device-meta"),
    R([*SOLVE, "--seed", str(2**64)], "'--seed'", None, None, id="seed-beyond-64-bits"),
    R([*SOLVE, "--seed", str(-2**63 - 1)], "'--seed'", None, None, id="seed-below-int64"),
    R([*LIKELIHOOD, "--seed", str(2**70)], "'--seed'", None, None, id="likelihood-seed-huge"),
    R([*SOLVE, "--eta", "nan"], "'nan' is not a finite number", None, None, id="eta-nan"),
    R([*SOLVE, "--prior-weight", "inf"], "'inf' is not a finite number", None, None, id="prior-weight-inf"),
    R([*CT, "--cg-effort", "-inf"], "'-inf' is not a finite number", None, None, id="cg-effort-minus-inf"),
    R([*SOLVE, "--noise", "nan"], "'nan' is not a finite number", None, None, id="noise-nan"),
    R([*SIMULATE, "--missing", "infinity"], "is not a finite number", None, None, id="missing-inf"),
    R(["train", "p", "--name", "r", "--lr", "nan"], "'nan' is not a finite number", None, None, id="train-lr-nan"),
    R(["train", "p", "--name", "r", "--checkpoint-minutes", "inf"], "not a finite number", None, None,
      id="train-checkpoint-minutes-inf"),
    R(["train", "p", "--name", "r", "--seed", str(2**64)], "'--seed'", None, None, id="train-seed-huge"),
    R(["train", "p", "--name", "r", "--out", "clean.png/runs"], "clean.png is a file, not a folder", None, None,
      id="train-out-under-a-file"),
    R([*SOLVE[:7], "bad/nan.pt", *SOLVE[8:]], "weight tensor(s) hold NaN or infinite values", damaged_priors,
      None, id="prior-nan-weights-consistent-card"),
    R([*SOLVE[:7], "bad/cut.pt", *SOLVE[8:]], "cannot be read as a scoreinv prior", damaged_priors, None,
      id="prior-truncated-consistent-card"),
    R([*SOLVE[:7], "bad/swapped.pt", *SOLVE[8:]], "sha256 does not match", damaged_priors, None,
      id="prior-weights-swapped"),
    R([*SOLVE[:7], "bad/junk.pt", *SOLVE[8:]], "junk.json", damaged_priors, None, id="prior-card-not-json"),
    R(SOLVE, "first call D(x, sigma=", None, infinite_first_call, id="prior-first-call-infinite"),
    # unclear limits
    R([*SIMULATE[:4], "bomb.png", *SIMULATE[5:]], "100000x100000 (HxW) = 10000 megapixels, above the limit of "
      "64 megapixels; raise it with --max-pixels 10000000000", png_header, None, id="header-bomb"),
    R([*SOLVE, "--max-pixels", "200"], "clean.png: 16x16 (HxW) = 256 pixels, above the limit of 200 pixels; raise it "
      "with --max-pixels 256", None, None, id="input-above-max-pixels"),
    R([*SOLVE[:5], "mask20.png", *SOLVE[6:], "--max-pixels", "300"], "mask20.png: 20x24 (HxW) = 480 pixels", odd_masks,
      None, id="mask-above-max-pixels"),
    R([*DEBLUR, "--kernel", "bigkernel.png", "--max-pixels", "300"], "bigkernel.png: 20x20 (HxW) = 400 pixels",
      big_kernel, None, id="kernel-above-max-pixels"),
    R([*LIKELIHOOD, "--max-pixels", "10"], "above the limit of 10 pixels", None, None,
      id="likelihood-above-max-pixels"),
    R([*SOLVE, "--max-pixels", "0"], "'--max-pixels'", None, None, id="max-pixels-zero"),
    R([*SOLVE, "--steps", "0"], "'--steps'", None, None, id="steps-zero"),
    R([*SOLVE, "--eta", "1.5"], "'1.5' is not in [0, 1]", None, None, id="eta-out-of-range"),
]


@pytest.fixture(scope="module")
def priors(tmp_path_factory):
    return write_priors(tmp_path_factory.mktemp("shipped"))


@pytest.mark.parametrize("args,fragment,setup,extra", ROWS)
def test_hostile_input_is_refused_and_changes_nothing(cli, tmp_path, monkeypatch, priors, args, fragment, setup,
                                                      extra):
    build_scene(tmp_path, priors)
    if setup is not None:
        setup(tmp_path)
    env = extra if isinstance(extra, dict) else None
    if callable(extra):
        extra(monkeypatch)
    before = snapshot(tmp_path)
    result = cli(*args, env=env)
    refused(result, fragment)
    assert snapshot(tmp_path) == before


def test_the_table_covers_enough_rows():
    assert len(ROWS) >= 40
