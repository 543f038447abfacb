"""``reconstruct`` called directly: what it keeps, what it counts, what it records, and that seeds reproduce."""
from __future__ import annotations

import pytest
import torch

import operators as ops
from scoreinv import reconstruct
from scoreinv.errors import InputError
from scoreinv.priors.registry import load_prior
from scoreinv.sampling.methods import METHODS


@pytest.fixture
def prior(tiny_priors):
    return load_prior(str(tiny_priors["gray"]), device="cpu", precision="fp32")


def problem(sigma_y: float = 0.0):
    operator = ops.Mask.random((1, 1, 16, 16), missing=0.5, generator=torch.Generator().manual_seed(0),
                               noise=ops.GaussianNoise(sigma_y))
    x = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    return operator, x, operator.A(x)


@pytest.mark.parametrize("method", ["pnp", "dc", "gibbs"])
def test_noiseless_observed_pixels_are_kept(prior, method):
    operator, x, y = problem()
    result = reconstruct(y, operator, prior=prior, method=method, steps=5, device="cpu")
    known = operator.mask > 0.5
    assert torch.allclose(result.mean[known], x[known], atol=1e-5)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_each_method_spends_what_its_record_says_and_no_more(prior, method):
    operator, _, y = problem(0.05)
    result = reconstruct(y, operator, prior=prior, method=method, steps=12, device="cpu")
    record = METHODS[method]
    assert result.nfe == record.nfe(result.settings["n_levels"]) <= 12
    assert result.settings["method"] == method and result.settings["nfe_per_sample"] == result.nfe


def test_the_sample_target_uses_its_rows_and_an_unknown_target_is_refused(prior):
    operator, _, y = problem(0.05)
    result = reconstruct(y, operator, prior=prior, target="sample", n_samples=2, steps=8, device="cpu")
    assert result.settings["target"] == "sample" and result.settings["method"] == "gibbs"
    low, high = result.interval(0.9)
    assert bool((low <= result.mean).all() and (result.mean <= high).all()) and bool((high > low).any())
    with pytest.raises(InputError, match="target"):
        reconstruct(y, operator, prior=prior, target="posterior", device="cpu")
    with pytest.raises(InputError, match="n_samples >= 2"):
        reconstruct(y, operator, prior=prior, steps=2, device="cpu").interval()


def test_a_seed_reproduces_and_another_seed_differs(prior):
    operator, _, y = problem(0.05)
    runs = [reconstruct(y, operator, prior=prior, n_samples=2, steps=4, device="cpu", seed=s) for s in (3, 3, 4)]
    assert torch.equal(runs[0].samples, runs[1].samples) and not torch.equal(runs[0].samples, runs[2].samples)
    assert runs[0].std is not None and runs[0].samples.shape == (2, 1, 1, 16, 16)


def test_the_record_says_what_ran(prior):
    operator, _, y = problem(0.02)
    result = reconstruct(y, operator, prior=prior, steps=4, device="cpu", eta=0.3, sigma_start=0.2)
    settings = result.settings
    assert settings["defaults_row"] == "inpaint-random" and settings["task_family"] == "inpaint"
    assert settings["eta"] == 0.3 and settings["sigma_start"] == pytest.approx(0.2)
    assert settings["sigma_y"] == pytest.approx(0.02) and settings["prior"] == prior.name
    assert settings["self_ensemble"] is bool(prior.dihedral) and "[0, 1]" in settings["convention"]


@pytest.mark.parametrize("knobs,fragment", [
    ({"method": "nope"}, "unknown method"), ({"steps": 0}, "steps"), ({"eta": 5.0}, "eta"),
    ({"eta": float("nan")}, "eta"), ({"sigma_start": -1.0}, "sigma_start"), ({"n_samples": 2.5}, "n_samples"),
    ({"prior_weight": float("inf")}, "prior_weight"), ({"sigma_y": float("nan")}, "sigma_y"),
    ({"sigma_end": 0.5, "sigma_start": 0.1}, "sigma_end"), ({"warm_start": "x"}, "warm start"),
])
def test_bad_knobs_are_refused_in_one_line(prior, knobs, fragment):
    operator, _, y = problem()
    with pytest.raises(InputError, match=fragment) as error:
        reconstruct(y, operator, prior=prior, device="cpu", **knobs)
    assert "\n" not in str(error.value)


def test_an_operator_without_the_interface_is_a_type_error(prior):
    _, _, y = problem()
    with pytest.raises(TypeError, match="lacks"):
        reconstruct(y, object(), prior=prior, device="cpu")
    with pytest.raises(TypeError, match="lacks"):
        reconstruct(y, None, prior=prior, device="cpu")


def test_a_prior_of_the_wrong_channel_count_is_refused(tiny_priors):
    colour = load_prior(str(tiny_priors["color"]), device="cpu")
    operator, _, y = problem()
    with pytest.raises(InputError, match="3-channel"):
        reconstruct(y, operator, prior=colour, device="cpu")


def test_a_deepinv_physics_is_accepted_or_refused_in_one_line(prior):
    dinv = pytest.importorskip("deepinv", reason="needs deepinv (pip install scoreinv[deepinv])")
    physics = dinv.physics.Inpainting(img_size=(1, 16, 16), mask=0.5)
    y = physics(torch.rand(1, 1, 16, 16))
    try:
        result = reconstruct(y, physics, prior=prior, steps=3, device="cpu")
    except TypeError as error:
        assert "\n" not in str(error) and "DeepInverse" in str(error)
    else:
        assert result.mean.shape == (1, 1, 16, 16)
