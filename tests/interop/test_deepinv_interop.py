"""DeepInverse physics in ``reconstruct`` (family, row, noise, same result as our operator), our operators as its
physics, DeepInverse denoisers as priors and ours as its denoisers, and ``reconstruct`` as its reconstructor."""
from __future__ import annotations

import warnings

import pytest
import torch

deepinv = pytest.importorskip("deepinv", reason="DeepInverse not installed (pip install 'scoreinv[deepinv]')")

import operators as O  # noqa: E402
from scoreinv import reconstruct  # noqa: E402
from scoreinv.interop.deepinv import (  # noqa: E402
    DeepinvPrior, PhysicsOperator, as_deepinv_denoiser, as_physics, from_deepinv_denoiser, from_physics)
from scoreinv.interop.deepinv_solver import reconstruct_solver, solver  # noqa: E402
from scoreinv.priors.registry import load_prior  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")
P = deepinv.physics


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def priors(tiny_priors):
    return {kind: load_prior(str(path), device="cpu", precision="fp32") for kind, path in tiny_priors.items()}


def picture(shape=(1, 1, 16, 16), seed: int = 1) -> torch.Tensor:
    return torch.rand(shape, generator=gen(seed))


def tiny_drunet(channels: int = 1):
    return deepinv.models.DRUNet(in_channels=channels, out_channels=channels, nc=(8, 8, 8, 8), nb=1, pretrained=None)


# Our operators through as_physics

@pytest.mark.parametrize("make,shape,kind", [
    (lambda: O.Mask.random((16, 16), generator=gen()), (1, 1, 16, 16), "gray"),
    (lambda: O.Blur.motion(5, 30.0, noise=O.GaussianNoise(0.02)), (1, 1, 16, 16), "gray"),
    (lambda: O.Downsample(2, noise=O.GaussianNoise(0.01)), (1, 3, 16, 16), "color"),
    (lambda: O.ParallelBeamCT.sparse_view((16, 16), 8, noise=O.GaussianNoise(0.1)), (1, 1, 16, 16), "ct"),
    (lambda: O.Blur.gaussian(1.0) @ O.Mask.box((16, 16)), (1, 1, 16, 16), "gray"),
])
def test_reconstruct_through_as_physics_equals_reconstruct_with_the_operator(priors, make, shape, kind):
    operator = make()
    y = operator.measure(picture(shape), generator=gen(2))
    ours = reconstruct(y, operator, prior=priors[kind], steps=2, seed=3, device="cpu")
    theirs = reconstruct(y, as_physics(operator), prior=priors[kind], steps=2, seed=3, device="cpu")
    assert torch.equal(ours.mean, theirs.mean)
    assert ours.settings["defaults_row"] == theirs.settings["defaults_row"]
    assert ours.settings["sigma_y"] == theirs.settings["sigma_y"]


# DeepInverse's physics in reconstruct

def test_deepinv_physics_get_their_familys_row():
    box = torch.ones(1, 1, 32, 32)
    box[..., 6:26, 6:26] = 0  # a 20-pixel hole: radius 10 > 8
    cases = [
        (P.Inpainting(img_size=(1, 32, 32), mask=0.3, rng=gen()), "inpaint", "inpaint-random"),
        (P.Inpainting(img_size=(1, 32, 32), mask=box), "inpaint", "inpaint-box"),
        (P.BlurFFT(img_size=(1, 32, 32), filter=P.functional.gaussian_blur(sigma=(3.0, 3.0))), "deblur",
         "deblur-lowpass"),
        (P.Blur(filter=torch.as_tensor(O.motion_kernel(9, 30.0)).float()[None, None], padding="circular"),
         "deblur", "deblur"),
        (P.Downsampling(img_size=(1, 32, 32), filter="bicubic", factor=2), "sr", "sr"),
        (P.Tomography(angles=20, img_width=32, normalize=False), "ct", "ct-sparse"),
        (P.Tomography(angles=torch.linspace(0, 90, 30), img_width=32, normalize=False), "ct", "ct-limited"),
        (P.Downsampling(img_size=(1, 32, 32), filter="bicubic", factor=2, padding="valid"), "other", "other"),
        (P.Upsampling(img_size=(1, 32, 32), filter="bicubic", factor=2), "other", "other"),
        (P.Denoising(P.GaussianNoise(0.1)), "other", "other"),
    ]
    from scoreinv.solve.rows import row_of

    for physics, family, row in cases:
        operator = from_physics(physics)
        assert isinstance(operator, PhysicsOperator) and isinstance(operator, O.LinearOperator)
        assert (operator.family, row_of(operator)) == (family, row), type(physics).__name__


def test_inpainting_physics_reconstructs_as_our_mask(priors):
    ours = O.Mask.random((16, 16), missing=0.6, generator=gen(4))
    physics = P.Inpainting(img_size=(1, 16, 16), mask=ours.mask[0].clone())
    x = picture()
    for sigma_y in (0.0, 0.03):
        mine = reconstruct(ours.A(x), ours, prior=priors["gray"], steps=2, seed=1, sigma_y=sigma_y, device="cpu")
        theirs = reconstruct(physics.A(x), physics, prior=priors["gray"], steps=2, seed=1, sigma_y=sigma_y,
                             device="cpu")
        assert theirs.settings["defaults_row"] == mine.settings["defaults_row"] == "inpaint-random"
        assert torch.allclose(theirs.mean, mine.mean, atol=1e-5)


def test_blurfft_physics_reconstructs_as_our_circular_blur(priors):
    kernel = O.gaussian_kernel(1.2)
    ours = O.Blur(kernel, noise=O.GaussianNoise(0.02))
    physics = P.BlurFFT(img_size=(1, 16, 16), filter=torch.as_tensor(kernel).float()[None, None],
                        noise_model=P.GaussianNoise(0.02))
    x = picture()
    assert torch.allclose(physics.A(x), ours.A(x), atol=1e-6)
    mine = reconstruct(ours.A(x), ours, prior=priors["gray"], steps=2, seed=1, device="cpu")
    theirs = reconstruct(physics.A(x), physics, prior=priors["gray"], steps=2, seed=1, device="cpu")
    assert theirs.settings["defaults_row"] == mine.settings["defaults_row"]
    assert theirs.settings["sigma_y"] == pytest.approx(0.02)
    assert float((theirs.mean - mine.mean).abs().max()) < 1e-3  # float32 round-off of two closed forms


@pytest.mark.parametrize("physics,kind", [
    (lambda: P.Downsampling(img_size=(1, 16, 16), filter="bicubic", factor=2, noise_model=P.GaussianNoise(0.01)),
     "gray"),
    (lambda: P.Blur(filter=P.functional.gaussian_blur(sigma=(1.0, 1.0)), padding="reflect"), "gray"),
    (lambda: P.Tomography(angles=10, img_width=16, normalize=True, noise_model=P.GaussianNoise(0.01)), "ct"),
    (lambda: P.CompressedSensing(m=128, img_size=(1, 16, 16), rng=gen()), "gray"),
])
def test_any_linear_physics_reconstructs(priors, physics, kind):
    physics = physics()
    y = physics(picture())
    result = reconstruct(y, physics, prior=priors[kind], steps=2, device="cpu")
    assert result.mean.shape == (1, 1, 16, 16) and torch.isfinite(result.mean).all()
    assert 0 <= float(result.mean.min()) and float(result.mean.max()) <= 1


def test_the_physics_noise_level_and_solver_settings():
    physics = P.Blur(filter=P.functional.gaussian_blur(sigma=(1.0, 1.0)), padding="replicate",
                     noise_model=P.GaussianNoise(0.05), max_iter=17, tol=1e-3)
    operator = from_physics(physics)
    assert operator.noise.sigma == pytest.approx(0.05) and operator.boundary == "replicate"
    z = picture()
    operator.prox_l2(z, physics.A(z), 0.5, max_iter=5)
    operator.A_dagger(physics.A(z), tol=1e-6)
    assert (physics.max_iter, physics.tol, physics.solver) == (17, 1e-3, "lsqr")  # restored
    ct = from_physics(P.Tomography(angles=8, img_width=16, normalize=False, noise_model=P.GaussianNoise(2.0)))
    assert ct.noise.sigma == pytest.approx(2.0)  # in sinogram units, beyond our GaussianNoise's [0, 1]
    assert from_physics(P.Inpainting(img_size=(1, 8, 8), mask=0.5)).noise.sigma == 0.0


def test_a_nonlinear_physics_is_refused_in_one_line():
    with pytest.raises(TypeError, match="LinearPhysics"):
        reconstruct(torch.rand(1, 1, 8, 8), P.Physics(A=lambda x: x ** 2), steps=2, device="cpu")


def test_a_users_own_linear_physics_is_recognised(priors):
    class Shift(P.LinearPhysics):  # defined here, not in deepinv: found through its base classes
        def A(self, x, **kwargs):
            return torch.roll(x, 1, dims=-1)

        def A_adjoint(self, y, **kwargs):
            return torch.roll(y, -1, dims=-1)

    result = reconstruct(picture(), Shift(), prior=priors["gray"], steps=2, device="cpu")
    assert result.settings["task_family"] == "other" and torch.isfinite(result.mean).all()


# Denoisers

def test_a_deepinv_drunet_is_a_prior(priors):
    operator = O.Mask.random((16, 16), generator=gen())
    y = operator.A(picture())
    result = reconstruct(y, operator, prior=tiny_drunet(), steps=2, device="cpu")
    assert result.mean.shape == (1, 1, 16, 16) and torch.isfinite(result.mean).all()
    assert 0 <= float(result.mean.min()) and float(result.mean.max()) <= 1
    assert result.settings["prior"] == "DRUNet" and result.settings["self_ensemble"] is False
    physics = P.Inpainting(img_size=(1, 16, 16), mask=0.5, rng=gen())
    dncnn = deepinv.models.DnCNN(in_channels=1, out_channels=1, depth=3, nf=8, pretrained=None)
    result = reconstruct(physics.A(picture()), physics, prior=dncnn, steps=2, device="cpu")
    assert torch.isfinite(result.mean).all() and result.settings["prior"] == "DnCNN"


def test_from_deepinv_denoiser_declares_what_it_assumes():
    prior = from_deepinv_denoiser(tiny_drunet(3), sigma_max=0.3, channels=3, name="drunet-tiny")
    assert isinstance(prior, DeepinvPrior)
    assert (prior.sigma_min, prior.sigma_max, prior.channels, prior.name) == (1 / 255, 0.3, 3, "drunet-tiny")
    from scoreinv.model.contract import Prior, missing_attributes

    assert isinstance(prior, Prior) and missing_attributes(prior) == []
    x = picture((2, 3, 16, 16))
    assert torch.equal(prior(x, 0.1), prior.model(x, 0.1))
    assert prior(x, torch.tensor([0.1, 0.2])).shape == x.shape
    for bad in ({"sigma_min": 0.0}, {"sigma_min": 0.5, "sigma_max": 0.2}, {"data_mean": 2.0}, {"channels": 0}):
        with pytest.raises(ValueError):
            from_deepinv_denoiser(tiny_drunet(), **bad)
    with pytest.raises(TypeError):
        from_deepinv_denoiser("not a model")
    with pytest.raises(Exception, match="3-channel"):
        reconstruct(torch.rand(1, 1, 8, 8), O.Mask.box((8, 8)), prior=prior, steps=2, device="cpu")


def test_our_prior_as_a_deepinv_denoiser_gives_the_same_output(priors):
    prior = priors["gray"]
    denoiser = as_deepinv_denoiser(prior)
    assert isinstance(denoiser, deepinv.models.Denoiser)
    x = picture((2, 1, 16, 16))
    with torch.no_grad():
        assert torch.equal(denoiser(x, 0.1), prior(x, 0.1))
        sigma = torch.tensor([0.05, 0.2])
        assert torch.equal(denoiser(x, sigma), prior(x, sigma))
        assert torch.equal(denoiser(x, sigma[:, None, None, None]), prior(x, sigma))
        assert torch.equal(denoiser(x, torch.tensor(0.1)), prior(x, 0.1))
        assert denoiser(x.double(), 0.1).dtype == torch.float64
    assert from_deepinv_denoiser(denoiser) is prior
    operator = O.Blur.gaussian(1.0, noise=O.GaussianNoise(0.02))
    y = operator.measure(picture(), generator=gen())
    assert torch.equal(reconstruct(y, operator, prior=denoiser, steps=2, device="cpu").mean,
                       reconstruct(y, operator, prior=prior, steps=2, device="cpu").mean)


def test_our_prior_drives_deepinvs_own_algorithms(priors):
    physics = as_physics(O.Mask.random((16, 16), generator=gen(), noise=O.GaussianNoise(0.05)))
    x = picture()
    y = physics(x)
    model = deepinv.optim.DPIR(sigma=0.05, denoiser=as_deepinv_denoiser(priors["gray"]), device="cpu")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimate = model(y, physics)
    assert estimate.shape == x.shape and torch.isfinite(estimate).all()


# reconstruct as a DeepInverse reconstructor

def test_solver_is_a_reconstructor_that_equals_reconstruct(tiny_priors, priors):
    physics = P.Inpainting(img_size=(1, 16, 16), mask=0.5, rng=gen())
    y = physics.A(picture())
    run = solver(prior=str(tiny_priors["gray"]), steps=2, seed=4, device="cpu")
    assert isinstance(run, deepinv.models.Reconstructor) and run.settings["steps"] == 2
    expected = reconstruct(y, physics, prior=priors["gray"], steps=2, seed=4, device="cpu").mean
    assert torch.allclose(run(y, physics), expected) and torch.allclose(run(y, physics), expected)
    assert torch.allclose(reconstruct_solver(y, physics, prior=priors["gray"], steps=2, seed=4, device="cpu"),
                          expected)
    assert run(y.double(), physics).dtype == torch.float64
    with pytest.raises(TypeError):
        solver(steps=2, unknown=1)
