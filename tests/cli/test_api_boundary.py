"""The Python API's boundary against hostile values: measurements of the wrong type or scale, devices this torch
lacks, damaged priors; each refused with one line."""
from __future__ import annotations

import pytest
import torch

import operators as ops
from scoreinv import reconstruct
from scoreinv.errors import InputError
from scoreinv.priors.registry import load_prior


@pytest.fixture
def prior(tiny_priors):
    return load_prior(str(tiny_priors["gray"]), device="cpu", precision="fp32")


def inpainting(sigma_y: float = 0.0):
    operator = ops.Mask.random((1, 1, 12, 12), missing=0.5, generator=torch.Generator().manual_seed(0),
                               noise=ops.GaussianNoise(sigma_y))
    x = torch.rand(1, 1, 12, 12, generator=torch.Generator().manual_seed(1))
    return operator, x


def refused(call, fragment: str) -> str:
    with pytest.raises(InputError) as error:
        call()
    message = str(error.value)
    assert "\n" not in message and fragment in message, message
    return message


@pytest.mark.parametrize("make,fragment", [
    (lambda y: (y * 255).to(torch.uint8), "y is uint8; pass real floats in [0, 1], e.g. y.float() / 255"),
    (lambda y: (y * 65535).to(torch.int32), "y is int32; pass real floats in [0, 1], e.g. y.float() / 65535"),
    (lambda y: y > 0.5, "y is bool"),
    (lambda y: y.to(torch.complex64), "y is complex64"),
    (lambda y: y * 255, "if it holds 0-255 values, pass y / 255"),
    (lambda y: y * 65535, "pass y / 65535"),
    (lambda y: y * 2 - 1, "if it is in [-1, 1], pass (y + 1) / 2"),
    (lambda y: y * 1e7, "scale it to [0, 1]"),
])
def test_measurements_of_another_type_or_scale(prior, make, fragment):
    operator, x = inpainting()
    y = make(operator.A(x))
    refused(lambda: reconstruct(y, operator, prior=prior, steps=2, device="cpu"), fragment)


def test_noise_widens_the_band_and_ct_is_exempt(prior, tiny_priors):
    operator, x = inpainting(sigma_y=0.2)
    noisy = operator.A(x) + 0.2 * torch.randn(1, 1, 12, 12, generator=torch.Generator().manual_seed(2))
    assert reconstruct(noisy * operator.mask, operator, prior=prior, steps=2, device="cpu").mean.shape == x.shape
    ct = ops.ParallelBeamCT((12, 12), [0.0, 45.0, 90.0, 135.0])
    sinogram = ct.A(x)
    assert float(sinogram.max()) > 2  # line integrals: not [0, 1] units
    ct_prior = load_prior(str(tiny_priors["ct"]), device="cpu", precision="fp32")
    assert reconstruct(sinogram, ct, prior=ct_prior, steps=2, device="cpu").mean.shape == x.shape


@pytest.mark.parametrize("device", ["meta", "mps", "cuda:7", "cpu:3", "potato", ""])
def test_devices_this_torch_lacks(prior, device):
    from scoreinv.model.devices import available_devices

    operator, x = inpainting()
    message = refused(lambda: reconstruct(operator.A(x), operator, prior=prior, steps=2, device=device), "cpu")
    assert ", ".join(available_devices()) in message
    if device not in ("potato", ""):
        assert f"device {device!r} is not available here" in message


def test_damaged_priors_are_refused_at_load(tmp_path, monkeypatch):
    from conftest import TINY_STATS
    from scoreinv.model.network import UNet
    from scoreinv.priors.cards import write_prior

    net = UNet(channels=1, base=8, mults=(1, 2), blocks=1)
    card = {"kind": "natural", "channels": 1, "data": "damaged (tests)", "steps": 0}
    weights = {**net.state_dict(), "head.bias": torch.full_like(net.state_dict()["head.bias"], float("inf"))}
    write_prior(tmp_path / "inf.pt", weights=weights, net_config=net.config, stats=TINY_STATS, card=card)
    refused(lambda: load_prior(str(tmp_path / "inf.pt"), device="cpu"), "hold NaN or infinite values (first: "
                                                                        "head.bias)")
    write_prior(tmp_path / "flat.pt", weights=net.state_dict(), net_config=net.config,
                stats={**TINY_STATS, "sigma_data": 0.0}, card=card)
    refused(lambda: load_prior(str(tmp_path / "flat.pt"), device="cpu"), "noise statistics are not usable")
    write_prior(tmp_path / "good.pt", weights=net.state_dict(), net_config=net.config, stats=TINY_STATS, card=card)
    assert load_prior(str(tmp_path / "good.pt"), device="cpu").name == "good"
    monkeypatch.setattr(UNet, "forward", lambda self, x, c_noise: x * float("nan"))
    refused(lambda: load_prior(str(tmp_path / "good.pt"), device="cpu"), "first call D(x, sigma=0.002)")


@pytest.mark.parametrize("seed", [2 ** 64, -2 ** 63 - 1, 1.5, True, "0"])
def test_seeds_beyond_64_bits_or_not_whole_are_refused(prior, seed):
    operator, x = inpainting()
    refused(lambda: reconstruct(operator.A(x), operator, prior=prior, steps=2, device="cpu", seed=seed), "seed")


def test_the_sample_command_refuses_a_seed_beyond_64_bits(cli, tiny_prior, tmp_path):
    result = cli("sample", "--prior", tiny_prior, "-o", "s.png", "--seed", str(2 ** 64))
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert lines[-1].startswith("Error: Invalid value for '--seed'") and not (tmp_path / "s.png").exists()
