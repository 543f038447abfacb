"""Every script of examples/ runs end to end (its main() with a tiny random prior and tiny sizes)."""
from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

from conftest import needs_kernels, needs_shared

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
needs_deepinv = pytest.mark.skipif(importlib.util.find_spec("deepinv") is None,
                                   reason="DeepInverse not installed (pip install 'scoreinv[deepinv]')")


def load(name: str):
    """An example as a module, the way ``python examples/NAME.py`` sees it (examples/ first on the path)."""
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name,prior,args", [
    ("inpaint_skimage", "gray", ["--size", "32"]),
    pytest.param("deblur_levin", "gray", ["--size", "32"], marks=needs_kernels),
    ("superresolution_x4", "color", ["--size", "32"]),
    pytest.param("ct_sparse_view", "ct", ["--size", "32", "--views", "8"], marks=needs_shared),
    ("custom_operator", "gray", ["--size", "16"]),
    pytest.param("deepinv_interop", "gray", ["--size", "16"], marks=needs_deepinv),
])
def test_example_runs(tiny_priors, tmp_path, capsys, name, prior, args):
    scores = load(name).main([*args, "--prior", str(tiny_priors[prior]), "--steps", "2", "--device", "cpu",
                              "--out", str(tmp_path)])
    assert "score prior" in scores and all(math.isfinite(v) for v in scores.values())
    assert (tmp_path / f"{name}.png").is_file()
    assert "dB" in capsys.readouterr().out


def test_gallery_runs(tiny_priors, tmp_path, capsys):
    out = tmp_path / "gallery.png"
    load("gallery").main(["--size", "32", "--steps", "2", "--samples", "2", "--prior", str(tiny_priors["gray"]),
                          "--ct-prior", str(tiny_priors["ct"]), "--out", str(out)])
    assert out.is_file() and out.stat().st_size > 0
    assert "dB" in capsys.readouterr().out


def test_every_example_is_tested():
    tested = {"inpaint_skimage", "deblur_levin", "superresolution_x4", "ct_sparse_view", "custom_operator", "gallery",
              "deepinv_interop"}
    assert {path.stem for path in EXAMPLES.glob("*.py") if not path.stem.startswith("_")} == tested
