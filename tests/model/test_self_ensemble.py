"""The dihedral self-ensemble: each call maps back exactly, eight calls average a pattern over the group, it leaves
an equivariant prior's reconstruction unchanged, and reconstruct() turns it on only for priors trained with it."""
from __future__ import annotations

import json

import pytest
import skimage.io
import torch
from click.testing import CliRunner

import operators as ops
from scoreinv import load_prior
from scoreinv.cli import main
from scoreinv.model.gaussian import GaussianDenoiser, smooth_covariance
from scoreinv.model.network import UNet
from scoreinv.model.wrappers import DihedralCycle
from scoreinv.priors.cards import write_prior
from scoreinv.sampling import plug_and_play
from scoreinv.sampling.guidance import PlugAndPlay
from scoreinv.sampling.schedules import karras_sigmas
from scoreinv import reconstruct
from scoreinv.training.patches import AUGMENTATION

from conftest import TINY_STATS, smooth_picture


def ramp(x, sigma):  # noqa: ARG001 - a denoiser that is not equivariant: adds 0 → 1 along the last axis
    return x + torch.linspace(0, 1, x.shape[-1], dtype=x.dtype)


@pytest.mark.parametrize("shape", [(2, 3, 5, 5), (1, 1, 4, 7)])
def test_each_call_maps_back_to_the_input_geometry(shape):
    x = torch.rand(shape, generator=torch.Generator().manual_seed(0))
    cycle = DihedralCycle(lambda t, sigma: t.clone())
    for _ in range(9):
        assert torch.equal(cycle(x, 0.1), x)
    assert cycle.calls == 9


def test_eight_calls_visit_the_eight_transforms():
    x = torch.zeros(1, 1, 6, 6)
    cycle = DihedralCycle(ramp)
    outputs = [cycle(x, 0.1) for _ in range(9)]
    assert torch.equal(outputs[8], outputs[0]) and torch.equal(outputs[0], ramp(x, 0.1))
    # the ramp seen through the group runs along both axes in both directions: four distinct maps, twice each
    distinct = {tuple(o.flatten().tolist()) for o in outputs[:8]}
    assert len(distinct) == 4
    # their average is flat: the group average of a pattern is invariant to the group
    assert torch.allclose(torch.stack(outputs[:8]).mean(0), torch.full_like(x, 0.5), atol=1e-6)


def test_an_equivariant_prior_gives_the_same_reconstruction():
    """A squared-exponential Gaussian prior on a square grid is invariant to flips and 90° rotations, so cycling
    it changes nothing but rounding."""
    prior = GaussianDenoiser(torch.full((1, 4, 4), 0.5), smooth_covariance(4, 4))
    g = torch.Generator().manual_seed(1)
    operator = ops.Mask.random((1, 1, 4, 4), missing=0.5, generator=g).double()
    y = operator.A(0.5 + 0.2 * torch.randn(1, 1, 4, 4, generator=g, dtype=torch.float64))
    sigmas = karras_sigmas(20, sigma_max=1.0, sigma_min=0.005)
    guidance = PlugAndPlay(operator, y, sigma_y=0.0, x_shape=(1, 1, 4, 4))
    start = torch.full((1, 1, 4, 4), 0.5, dtype=torch.float64)
    plain = plug_and_play(prior, start, sigmas, guidance=guidance)
    cycled = plug_and_play(DihedralCycle(prior), start, sigmas, guidance=guidance)
    assert torch.allclose(plain, cycled, atol=1e-10)


@pytest.fixture(scope="module")
def priors(tmp_path_factory):
    """A tiny prior of random weights (its zero-initialised output layers randomised too, so that it is not
    equivariant) without an augmentation record, and the same weights with one."""
    folder = tmp_path_factory.mktemp("self-ensemble")
    torch.manual_seed(3)
    net = UNet(channels=1, base=8, mults=(1, 2), blocks=1)
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.normal_(0, 0.1)
    paths = {}
    for name in ("plain", "augmented"):
        card = {"kind": "natural", "channels": 1, "data": "random weights (tests)", "steps": 0}
        if name == "augmented":
            card["augmentation"] = AUGMENTATION
        paths[name] = write_prior(folder / f"{name}.pt", weights=net.state_dict(), net_config=net.config,
                                  stats=TINY_STATS, card=card)
    return paths


def test_reconstruct_cycles_only_priors_trained_with_the_augmentation(priors):
    plain, augmented = (load_prior(str(priors[k]), device="cpu", precision="fp32") for k in ("plain", "augmented"))
    assert not plain.dihedral and augmented.dihedral
    operator = ops.Mask.random((1, 1, 16, 16), missing=0.5, generator=torch.Generator().manual_seed(0))
    y = operator.A(torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(1)))
    run = {name: reconstruct(y, operator, prior=prior, steps=6, device="cpu")
           for name, prior in (("plain", plain), ("augmented", augmented))}
    assert run["plain"].settings["self_ensemble"] is False and run["augmented"].settings["self_ensemble"] is True
    # a random network is not equivariant, so cycling it changes the result; the switch overrides the card
    assert not torch.allclose(run["plain"].mean, run["augmented"].mean)
    forced = reconstruct(y, operator, prior=plain, steps=6, device="cpu", self_ensemble=True)
    assert torch.equal(forced.mean, run["augmented"].mean) and forced.nfe == run["plain"].nfe == 6
    off = reconstruct(y, operator, prior=augmented, steps=6, device="cpu", self_ensemble=False)
    assert torch.equal(off.mean, run["plain"].mean)
    # each call starts its own cycle: the same seed gives the same picture
    again = reconstruct(y, operator, prior=augmented, steps=6, device="cpu")
    assert torch.equal(again.mean, run["augmented"].mean)


def test_shipped_priors_are_cycled():
    for name in ("natural-gray", "natural-color", "ct"):
        assert load_prior(name, device="cpu").dihedral, name


def test_solve_switch_reaches_the_record(priors, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    skimage.io.imsave("picture.png", smooth_picture(32, 32, 1, seed=0), check_contrast=False)
    runner = CliRunner()
    for flag, name, expected in (("--no-self-ensemble", "off", False), ("--self-ensemble", "on", True)):
        result = runner.invoke(main, ["solve", "--task", "inpaint", "--simulate", "picture.png", "--prior",
                                      str(priors["augmented"]), "--steps", "3", "--quiet", flag, "-o", f"{name}.png"])
        assert result.exit_code == 0, result.output
        assert json.loads((tmp_path / f"{name}.json").read_text())["settings"]["self_ensemble"] is expected
