"""Shared fixtures: tiny randomly initialised priors and small test pictures (tests never need trained weights)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import operators as ops
from scoreinv.io.paths import shared_dir

# Two shared CPU cores: one thread avoids oversubscription stalls (a run with 2 threads next to a busy process
# can be 100x slower)
torch.set_num_threads(1)

# ../shared beside the checkout (or SCOREINV_SHARED): tests that need its data skip with these reasons without it
SHARED = shared_dir()


def _has_kernels() -> bool:
    """Whether the operators package finds the Levin kernels by itself (it reads SCOREINV_SHARED strictly)."""
    try:
        ops.levin_kernels()
    except ValueError:
        return False
    return SHARED is not None


HAS_KERNELS = _has_kernels()
needs_shared = pytest.mark.skipif(SHARED is None, reason="needs the shared data folder (../shared)")
needs_kernels = pytest.mark.skipif(not HAS_KERNELS, reason="shared kernels not found under ../shared/data/kernels "
                                                           "(set SCOREINV_SHARED)")

TINY_STATS = {"data_mean": 0.5, "sigma_data": 0.25, "sigma_min": 0.002, "sigma_max": 10.0}


def write_tiny_prior(path: Path, *, channels: int = 1, kind: str = "natural", seed: int = 0) -> Path:
    """A randomly initialised U-Net (base 8, two levels) written as a prior NAME.pt + NAME.json + NAME.md."""
    from scoreinv.model.network import UNet
    from scoreinv.priors.cards import write_prior

    torch.manual_seed(seed)
    net = UNet(channels=channels, base=8, mults=(1, 2), blocks=1)
    card = {"kind": kind, "channels": channels, "data": "random init (tests)", "steps": 0, "wall_clock_hours": 0.0}
    return write_prior(Path(path), weights=net.state_dict(), net_config=net.config, stats=TINY_STATS, card=card)


@pytest.fixture(scope="session")
def tiny_priors(tmp_path_factory) -> dict:
    """Paths of tiny priors: {"gray": …, "color": …, "ct": …} (each a NAME.pt with its card), in one folder."""
    folder = tmp_path_factory.mktemp("priors")
    return {"gray": write_tiny_prior(folder / "tiny-gray.pt", channels=1),
            "color": write_tiny_prior(folder / "tiny-color.pt", channels=3),
            "ct": write_tiny_prior(folder / "tiny-ct.pt", channels=1, kind="ct")}


@pytest.fixture
def tiny_prior(tiny_priors) -> Path:
    """The grey tiny prior."""
    return tiny_priors["gray"]


def smooth_picture(height: int = 32, width: int = 48, channels: int = 1, seed: int = 0) -> np.ndarray:
    """A smooth uint8 test picture (H, W) or (H, W, 3): a few random sinusoids, values spread over 0–255."""
    rng = np.random.default_rng(seed)
    v, u = np.mgrid[0:height, 0:width] / max(height, width)
    planes = []
    for _ in range(channels):
        f = rng.uniform(1, 4, size=(3, 2))
        p = rng.uniform(0, 2 * np.pi, size=3)
        plane = sum(np.sin(2 * np.pi * (f[i, 0] * v + f[i, 1] * u) + p[i]) for i in range(3))
        planes.append((plane - plane.min()) / (np.ptp(plane) + 1e-12))
    image = np.stack(planes, -1) if channels > 1 else planes[0]
    return np.round(image * 255).astype(np.uint8)


@pytest.fixture
def write_picture(tmp_path):
    """write_picture(name, height=32, width=48, channels=1) → path of a smooth PNG in tmp_path."""
    import skimage.io

    def write(name: str = "picture.png", height: int = 32, width: int = 48, channels: int = 1, seed: int = 0) -> Path:
        path = tmp_path / name
        skimage.io.imsave(str(path), smooth_picture(height, width, channels, seed), check_contrast=False)
        return path

    return write


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """cli(*args, env=None) runs ``scoreinv ARGS`` in-process from tmp_path and returns click's Result."""
    from click.testing import CliRunner

    from scoreinv.cli import main

    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    return lambda *args, env=None: runner.invoke(main, [str(a) for a in args], env=env)


@pytest.fixture
def one_torch_thread():
    """torch on one thread for the test, restored after it (timings and CG iterates that do not depend on the
    machine's core count)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
