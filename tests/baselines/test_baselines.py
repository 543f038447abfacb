"""Classical baselines on small synthetic problems: each beats the trivial reconstruction; solver sanity checks."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import operators as O
from scoreinv.baselines import (BASELINES, baselines_for, blockmatching, deconvolution, inpainting, tomography,
                                upsampling)
from scoreinv.baselines.tv import gradient, gradient_adjoint, total_variation, tv_objective, tv_solve
from scoreinv.errors import InputError
from scoreinv.metrics.quality import psnr


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def camera(size: int = 64, dtype=torch.float32) -> torch.Tensor:
    """skimage's camera man, area-resized to size², as (1, 1, size, size) in [0, 1]."""
    import skimage.data
    import skimage.transform

    image = skimage.transform.resize(skimage.data.camera() / 255.0, (size, size), anti_aliasing=True)
    return torch.tensor(np.clip(image, 0, 1), dtype=dtype)[None, None]


def gaussian_noise(shape, sigma: float, seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    return sigma * torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(dtype)


def db(x, ref) -> float:
    return float(psnr(x[0], ref[0]))


# The table


def test_table_covers_every_task_with_uniform_callables():
    bm3d = ["bm3d"] if blockmatching.available() else []  # optional: listed only when installed
    assert {task: [name for name, _ in entries] for task, entries in BASELINES.items()} == {
        "inpaint": ["biharmonic", "harmonic"], "deblur": ["wiener", "tv"] + bm3d, "sr": ["bicubic"],
        "ct": ["fbp", "cgls", "sirt", "tv"]}
    assert baselines_for("ct") is BASELINES["ct"]
    with pytest.raises(InputError, match="no baselines"):
        baselines_for("denoise-3d")


# Inpainting


@pytest.mark.parametrize("name", [name for name, _ in BASELINES["inpaint"]])
def test_inpainting_keeps_known_pixels_and_beats_the_masked_image(name):
    x = camera(48)
    op = O.Mask.random(x.shape, missing=0.5, generator=torch.Generator().manual_seed(0))
    y = op.A(x)
    fn = dict(BASELINES["inpaint"])[name]
    out = fn(y, op, sigma_y=0.0)
    known = op.mask.expand_as(x).bool()
    assert out.shape == x.shape and out.dtype == x.dtype
    assert torch.equal(out[known], y[known])
    assert db(out, x) > db(y, x) + 10
    assert 0 <= float(out.min()) and float(out.max()) <= 1


def test_biharmonic_per_channel_colour_batch():
    x = torch.cat([camera(32).expand(1, 3, -1, -1) * torch.tensor([1.0, 0.8, 0.6]).view(1, 3, 1, 1),
                   camera(32).flip(-1).expand(1, 3, -1, -1)])
    mask = (torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(1)) > 0.4).float()
    out = inpainting.biharmonic(x * mask, mask)
    assert out.shape == x.shape
    assert float(psnr(out, x).min()) > float(psnr(x * mask, x).max()) + 8


@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_biharmonic_laplacian_is_symmetric(dtype, tolerance):
    """The mirrored-edge Laplacian that the conjugate gradients use is its own adjoint: ⟨Δa, b⟩ = ⟨a, Δb⟩."""
    g = torch.Generator().manual_seed(0)
    a, b = (torch.randn(2, 3, 17, 23, generator=g, dtype=torch.float64).to(dtype) for _ in range(2))
    left, right = float((inpainting._laplacian(a) * b).sum()), float((a * inpainting._laplacian(b)).sum())
    assert abs(left - right) <= tolerance * float(inpainting._laplacian(a).norm() * b.norm())


def test_biharmonic_of_small_holes_matches_the_direct_solve():
    """Random missing pixels: the conjugate-gradient fill agrees with scikit-image's sparse direct solve (they differ
    only in the stencil at the image edges) and keeps the known pixels."""
    x = torch.cat([camera(96), camera(96).flip(-1)])
    mask = (torch.rand(2, 1, 96, 96, generator=torch.Generator().manual_seed(3)) > 0.7).float()
    y = x * mask
    fast, direct = inpainting.biharmonic(y, mask), inpainting._biharmonic_direct(y, mask.bool().expand_as(y))
    assert float(psnr(fast, direct).min()) > 60
    assert torch.equal(fast[mask.bool()], y[mask.bool()])


def test_biharmonic_large_holes_and_unconverged_solves_use_the_direct_solve(monkeypatch):
    x = camera(64)
    box = torch.ones(1, 1, 64, 64)
    box[..., 16:48, 16:48] = 0
    direct = inpainting._biharmonic_direct(x * box, box.bool())
    assert torch.equal(inpainting.biharmonic(x * box, box), direct)
    mask = (torch.rand(1, 1, 64, 64, generator=torch.Generator().manual_seed(4)) > 0.7).float()
    monkeypatch.setattr(inpainting, "CG_ITERATIONS", 1)
    assert torch.equal(inpainting.biharmonic(x * mask, mask), inpainting._biharmonic_direct(x * mask, mask.bool()))


def test_harmonic_fill_solves_laplace_without_overshoot():
    """Harmonic inpainting: Δx = 0 on the missing pixels (residual at float64 round-off), values within the known
    range (the maximum principle; the biharmonic fill of a large hole may leave it), known pixels unchanged, and a
    linear ramp with mirrored edges along the other axis is filled exactly."""
    x = camera(64, dtype=torch.float64)
    box = torch.ones(1, 1, 64, 64, dtype=torch.float64)
    box[..., 12:52, 12:52] = 0
    out = inpainting.harmonic(x * box, box)
    hole = box == 0
    assert float(inpainting._laplacian(out)[hole].abs().max()) < 1e-6
    known = x[~hole]
    assert float(known.min()) - 1e-9 <= float(out[hole].min()) and float(out[hole].max()) <= float(known.max()) + 1e-9
    assert torch.equal(out[~hole], x[~hole])
    ramp = torch.linspace(0.1, 0.9, 64, dtype=torch.float64).view(1, 1, 1, 64).expand(1, 1, 64, 64)
    assert torch.allclose(inpainting.harmonic(ramp * box, box), ramp, atol=1e-6)


def test_harmonic_warm_start_is_the_harmonic_fill_and_needs_a_mask():
    from scoreinv.solve.warm_start import initial_estimate

    x = camera(32)
    op = O.Mask.random(x.shape, missing=0.6, generator=torch.Generator().manual_seed(5))
    start = initial_estimate(op, op.A(x), "harmonic", x.shape, family="inpaint")
    assert torch.equal(start, inpainting.harmonic(op.A(x), op.mask))
    blur = O.Blur(O.gaussian_kernel(1.0, 5))
    with pytest.raises(InputError, match="harmonic"):
        initial_estimate(blur, blur.A(x), "harmonic", x.shape, family="deblur")


# Deconvolution


def test_wiener_beats_the_blurred_image():
    x = camera(64)
    op = O.Blur(O.gaussian_kernel(1.5, 13), noise=O.GaussianNoise(0.01))
    y = op.A(x) + gaussian_noise(x.shape, 0.01)
    out = deconvolution.wiener_baseline(y, op, sigma_y=0.01)
    assert db(out, x) > db(y.clamp(0, 1), x) + 1.5


def test_wiener_with_tiny_noise_nearly_inverts_a_well_conditioned_kernel():
    x = camera(64, dtype=torch.float64)
    kernel = torch.tensor([0.1, 0.8, 0.1], dtype=torch.float64)
    kernel = kernel[:, None] * kernel[None, :]  # transfer function ≥ 0.36
    y = O.Blur(kernel).A(x)
    out = deconvolution.wiener(y, kernel, sigma_y=1e-6)
    assert db(out, x) > 80


def test_wiener_kernel_convention_matches_the_blur_operator():
    x = camera(40)
    kernel = O.motion_kernel(9, 30.0)  # asymmetric: catches a flip or a shift
    op = O.Blur(kernel)
    y = op.A(x) + gaussian_noise(x.shape, 0.005)
    by_kernel = deconvolution.wiener(y, kernel, sigma_y=0.005)
    by_operator = deconvolution.wiener_baseline(y, op, sigma_y=0.005)
    assert torch.allclose(by_kernel, by_operator, atol=1e-5)


@pytest.mark.parametrize("boundary", ["zero", "valid"])
def test_wiener_for_non_circular_blur(boundary):
    x = camera(48)
    op = O.Blur(O.motion_kernel(7, 45.0), boundary=boundary)
    y = op.A(x) + gaussian_noise(op.output_shape(x.shape), 0.005)
    out = deconvolution.wiener_baseline(y, op, sigma_y=0.005)
    assert out.shape == x.shape
    assert db(out, x) > db(deconvolution.full_size(y, op).clamp(0, 1), x) + 3


def test_tv_deconvolution_beats_the_blurred_image():
    x = camera(64)
    op = O.Blur(O.gaussian_kernel(1.5, 13))
    y = op.A(x) + gaussian_noise(x.shape, 0.02)
    out = deconvolution.tv(y, op, sigma_y=0.02, iterations=150)
    assert db(out, x) > db(y.clamp(0, 1), x) + 1.5
    assert 0 <= float(out.min()) and float(out.max()) <= 1


# Super-resolution


def test_bicubic_upsamples_and_beats_pixel_replication():
    x = camera(64)
    op = O.Downsample(4, filter="box")
    y = op.A(x) + gaussian_noise((1, 1, 16, 16), 0.01)
    (_, fn), = BASELINES["sr"]
    out = fn(y, op, sigma_y=0.01)
    replicated = op.A_adjoint(y) * 16
    assert out.shape == x.shape
    assert db(out, x) > db(replicated.clamp(0, 1), x) + 0.5
    with pytest.raises(ValueError, match="positive integer"):
        upsampling.bicubic(y, 1.5)


# Tomography


@pytest.fixture(scope="module")
def ct_problem():
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 48), torch.linspace(-1, 1, 48), indexing="ij")
    phantom = 0.3 * ((xx / 0.8) ** 2 + (yy / 0.9) ** 2 < 1).float()
    phantom += 0.4 * (((xx - 0.2) / 0.25) ** 2 + ((yy + 0.1) / 0.4) ** 2 < 1).float()
    phantom += 0.2 * ((xx + 0.35) ** 2 + (yy - 0.3) ** 2 < 0.04).float()
    x = phantom[None, None]
    op = O.ParallelBeamCT.sparse_view((48, 48), 24, noise=O.GaussianNoise(0.05))
    y = op.A(x) + gaussian_noise(op.output_shape(x.shape), 0.05)
    return x, op, y


def test_fbp_and_tv_ct_beat_the_scaled_back_projection(ct_problem):
    x, op, y = ct_problem
    back = op.A_adjoint(y)
    best_scale = float((back * x).sum() / back.pow(2).sum())  # the most favourable scaling of Aᵀy
    trivial = db((best_scale * back).clamp(0, 1), x)
    fbp = tomography.fbp(y, op, sigma_y=0.05)
    tv = tomography.tv(y, op, sigma_y=0.05, iterations=100)
    assert fbp.shape == tv.shape == x.shape
    assert db(fbp, x) > trivial + 3
    assert db(tv, x) > db(fbp, x) + 3


def test_photon_noise_sets_the_effective_sigma():
    op = O.ParallelBeamCT.sparse_view((16, 16), 8, noise=O.PoissonNoise(1e4, scale=0.05))
    y = torch.zeros(1, 1, 8, op.detectors)
    assert tomography.effective_sigma(y, op, sigma_y=123.0) == pytest.approx(op.noise.sigma)
    gaussian = O.ParallelBeamCT.sparse_view((16, 16), 8, noise=O.GaussianNoise(0.1))
    assert tomography.effective_sigma(y, gaussian, sigma_y=0.1) == 0.1


# The generic TV solver


def test_gradient_adjoint_is_exact():
    g = torch.Generator().manual_seed(0)
    u, p = torch.randn(2, 3, 7, 9, generator=g), torch.randn(2, 3, 2, 7, 9, generator=g)
    assert float((gradient(u) * p).sum()) == pytest.approx(float((u * gradient_adjoint(p)).sum()), rel=1e-5)
    assert torch.allclose(total_variation(torch.ones(2, 1, 5, 5)), torch.zeros(2))


def test_tv_solver_decreases_its_objective():
    x = camera(32, dtype=torch.float64)
    op = O.Blur(O.gaussian_kernel(1.0, 7))
    y = op.A(x) + gaussian_noise(x.shape, 0.02, dtype=torch.float64)
    objectives = [float(tv_objective(tv_solve(y, op, weight=0.01, iterations=n, x0=y), y, op, weight=0.01))
                  for n in (5, 20, 80, 320)]
    assert all(a > b for a, b in zip(objectives, objectives[1:]))
    assert objectives[-1] < float(tv_objective(y, y, op, weight=0.01))


def test_tv_solver_without_regularisation_solves_least_squares():
    x = camera(16, dtype=torch.float64)
    kernel = torch.tensor([0.1, 0.8, 0.1], dtype=torch.float64)
    op = O.Blur(kernel[:, None] * kernel[None, :])  # invertible: A⁻¹y is the least-squares solution
    y = op.A(x) + gaussian_noise(x.shape, 0.01, dtype=torch.float64)
    exact = op.A_dagger(y, eps=0.0)
    out = tv_solve(y, op, weight=0.0, iterations=400, constraint="none", balance=1.0)
    assert float((out - exact).abs().max()) < 1e-3


def test_tv_solver_matches_rof_denoising_of_scikit_image():
    from skimage.restoration import denoise_tv_chambolle

    x = camera(24, dtype=torch.float64)
    y = x + gaussian_noise(x.shape, 0.1, dtype=torch.float64)
    reference = denoise_tv_chambolle(y[0, 0].numpy(), weight=0.1, eps=1e-10, max_num_iter=5000)
    out = tv_solve(y, O.Identity(), weight=0.1, iterations=600, x0=y, constraint="none", balance=3.0)
    assert float((out[0, 0] - torch.from_numpy(reference)).abs().max()) < 2e-3


def test_tv_solver_constraints_and_errors():
    x = camera(16)
    op = O.Blur(O.gaussian_kernel(1.0, 5))
    y = op.A(x) + gaussian_noise(x.shape, 0.2)
    boxed = tv_solve(y, op, weight=0.01, iterations=20)
    nonneg = tv_solve(y, op, weight=0.01, iterations=20, constraint="nonneg")
    assert 0 <= float(boxed.min()) and float(boxed.max()) <= 1 and float(nonneg.min()) >= 0
    with pytest.raises(ValueError, match="constraint"):
        tv_solve(y, op, weight=0.01, constraint="positive")
    with pytest.raises(ValueError, match="balance"):
        tv_solve(y, op, weight=0.01, balance=0.0)
