"""DeepInverse's own physics checks (deepinv/tests/test_physics.py) on every one of our operators, wrapped by
``as_physics``: adjointness, the automatic adjoint, the norm, the pseudo-inverse, prox_l2, autograd, clone and
deepcopy, state_dict, device and dtype."""
from __future__ import annotations

import copy
import math
import warnings

import pytest
import torch

deepinv = pytest.importorskip("deepinv", reason="DeepInverse not installed (pip install 'scoreinv[deepinv]')")

import operators as O  # noqa: E402
from conftest import HAS_KERNELS  # noqa: E402
from scoreinv.interop.deepinv import OperatorPhysics, as_physics, from_physics  # noqa: E402
from test_operators import CASES as OPERATOR_CASES  # noqa: E402
from test_operators import NEEDS_SHARED  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# The operators of tests/test_operators.py (every class operators/__init__.py exports, its constructors and
# compositions with @), plus the boundary variants that list leaves out and small CT and composition cases
EXTRA_CASES = {
    "blur-gaussian-valid": (lambda: O.Blur.gaussian(1.5, boundary="valid"), (2, 1, 24, 20)),
    "blur-motion-zero": (lambda: O.Blur.motion(7, 45.0, boundary="zero"), (2, 1, 24, 20)),
    "blur-motion-valid-color": (lambda: O.Blur.motion(5, 100.0, boundary="valid"), (1, 3, 20, 24)),
    "ct-sparse-small": (lambda: O.ParallelBeamCT.sparse_view((16, 16), 8), (1, 1, 16, 16)),
    "ct-limited-small": (lambda: O.ParallelBeamCT.limited_angle((16, 16), 90.0, 12), (1, 1, 16, 16)),
    "down@mask": (lambda: O.Downsample(2) @ O.Mask.random((16, 24), generator=gen(1)), (1, 2, 16, 24)),
    "mask@ct-blur": (lambda: O.ParallelBeamCT.sparse_view((16, 16), 6) @ O.Blur.gaussian(1.0, boundary="zero"),
                     (1, 1, 16, 16)),
}
CASES = {**OPERATOR_CASES, **EXTRA_CASES}
NAMES = [pytest.param(name, marks=pytest.mark.skipif(not HAS_KERNELS, reason="needs the shared Levin kernels"))
         if name in NEEDS_SHARED else name for name in CASES]


def build(name: str, dtype: torch.dtype = torch.float32):
    """(our operator, its physics, a random input x of the case's shape)."""
    factory, shape = CASES[name]
    operator = factory()
    x = torch.randn(shape, generator=gen(7), dtype=torch.float64).to(dtype)
    return operator, as_physics(operator), x


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


@pytest.mark.parametrize("name", NAMES)
def test_adjointness(name):
    """deepinv's test_operators_adjointness: its Monte Carlo adjointness test, and A_adjoint against the automatic
    adjoint (torch.func.vjp of A)."""
    _, physics, x = build(name)
    assert float(physics.adjointness_test(x, num_samples=x.shape[0])) < 1e-3
    y = physics.A(x)
    automatic = deepinv.physics.adjoint_function(physics.A, x.shape, x.device, x.dtype)
    assert rel(automatic(y), physics.A_adjoint(y)) < 1e-4


@pytest.mark.parametrize("name", NAMES)
def test_norm(name):
    """deepinv's test_operators_norm: its power method's ‖AᵀA‖ against our ‖A‖²."""
    operator, physics, x = build(name)
    sqnorm = float(physics.compute_sqnorm(x, max_iter=1000, tol=1e-6, verbose=False))
    ours = operator.norm(tuple(x.shape)) ** 2
    assert sqnorm == pytest.approx(ours, rel=1e-2)
    norm = float(physics.compute_norm(x, max_iter=1000, tol=1e-6, squared=False, verbose=False))
    assert norm == pytest.approx(math.sqrt(ours), rel=1e-2)


@pytest.mark.parametrize("name", NAMES)
def test_pseudo_inverse(name):
    """deepinv's test_pseudo_inverse (r in the range of Aᵀ, A_dagger(A r) ≈ r with its solver arguments), and
    A(A_dagger(y)) ≈ y for y in the range of A."""
    _, physics, x = build(name, torch.float64)
    r = physics.A_adjoint(physics.A(x))
    y = physics.A(r)
    assert rel(physics.A_dagger(y, solver="lsqr", tol=1e-4, max_iter=50, verbose=True), r) < 0.05
    y = physics.A(x)
    assert rel(physics.A(physics.A_dagger(y)), y) < 1e-2


@pytest.mark.parametrize("name", NAMES)
def test_prox_l2_matches_deepinvs_solver(name):
    """prox_l2 (our closed form or CG) equals DeepInverse's generic least-squares prox on the same A and Aᵀ: the
    two libraries' γ conventions agree."""
    _, physics, x = build(name, torch.float64)
    z = torch.randn(x.shape, generator=gen(3), dtype=x.dtype)
    y = physics.A(x)
    for gamma in (0.3, 4.0):
        ours = physics.prox_l2(z, y, gamma)
        theirs = deepinv.physics.LinearPhysics.prox_l2(physics, z, y, gamma, solver="CG", max_iter=500, tol=1e-10)
        assert rel(ours, theirs) < 1e-3


@pytest.mark.parametrize("name", NAMES)
def test_autograd(name):
    """deepinv's test_operators_differentiability and test_adjoint_autograd: the vjp of A is A_adjoint (autograd
    and torch.func), and differentiating the automatic adjoint gives A back."""
    _, physics, x = build(name, torch.float64)
    x = x.requires_grad_(True)
    y = physics.A(x)
    v = torch.randn(y.shape, generator=gen(5), dtype=y.dtype)
    (grad,) = torch.autograd.grad(y, x, v)
    assert torch.isfinite(grad).all() and rel(grad, physics.A_adjoint(v)) < 1e-10
    _, vjp = torch.func.vjp(physics.A, x.detach())
    assert rel(vjp(v)[0], physics.A_adjoint(v)) < 1e-10

    y = physics.A(x.detach()).requires_grad_(True)
    automatic = deepinv.physics.adjoint_function(physics.A, x.shape, x.device, x.dtype)
    z = torch.randn(x.shape, generator=gen(6), dtype=x.dtype)
    (z * automatic(y)).sum().backward()
    assert rel(y.grad, physics.A(z)) < 1e-10


@pytest.mark.parametrize("name", NAMES)
def test_clone_and_deepcopy(name):
    """deepinv's test_clone (a dummy parameter; clone keeps the type, reallocates parameters and buffers) and the
    same outputs from clone() and copy.deepcopy, also after the operator has been used (caches filled)."""
    _, physics, x = build(name)
    y = physics.A(x)
    physics.A_dagger(y)
    physics.register_parameter("dummy", torch.nn.Parameter(torch.randn(x.shape[1:], generator=gen(0))))
    twin = physics.clone()
    assert type(twin) is type(physics) and isinstance(twin, OperatorPhysics)
    assert {n for n, _ in twin.named_parameters()} == {n for n, _ in physics.named_parameters()}
    for n, p in physics.named_parameters():
        assert p.data_ptr() != twin.get_parameter(n).data_ptr()
    assert {n for n, _ in twin.named_buffers()} == {n for n, _ in physics.named_buffers()}
    for n, b in physics.named_buffers():
        assert b.data_ptr() != twin.get_buffer(n).data_ptr()
    for other in (twin, copy.deepcopy(physics)):
        assert torch.equal(other.A(x), y)
        assert torch.allclose(other.A_adjoint(y), physics.A_adjoint(y), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_state_dict(name):
    """deepinv's test_physics_state_dict: every tensor attribute is in the state dict, and a fresh physics that
    loads it measures the same."""
    _, physics, x = build(name)
    state = physics.state_dict()
    tensors = {n for n, _ in physics.named_buffers() if n != "_device_holder"}  # deepinv's, not persistent
    tensors |= {n for n, _ in physics.named_parameters()}
    assert set(state) == tensors
    fresh = as_physics(CASES[name][0]())
    fresh.load_state_dict(state)
    assert torch.allclose(fresh(x), physics(x))


@pytest.mark.parametrize("name", NAMES)
def test_device_and_dtype(name):
    """deepinv's test_device_consistency on the CPU (``.to('cpu')`` measures the same), and float32 / float64
    inputs give outputs of their own dtype that agree."""
    _, physics, x = build(name, torch.float64)
    y64 = physics.A(x)
    moved = physics.to("cpu")
    assert torch.equal(moved.A(x), y64) and y64.dtype == torch.float64
    y32 = physics.A(x.float())
    assert y32.dtype == torch.float32 and rel(y32.double(), y64) < 1e-4
    assert physics.A_adjoint(y32).dtype == torch.float32 and physics.A_dagger(y32).dtype == torch.float32
    if torch.cuda.is_available():
        assert rel(physics.to("cuda").A(x.cuda()).cpu(), y64) < 1e-5


def test_noise_maps_to_deepinvs_gaussian_noise():
    physics = as_physics(O.Blur.gaussian(1.0, noise=O.GaussianNoise(0.05)))
    assert isinstance(physics.noise_model, deepinv.physics.GaussianNoise)
    assert float(physics.noise_model.sigma) == pytest.approx(0.05)
    assert isinstance(as_physics(O.Mask.box((8, 8))).noise_model, deepinv.physics.ZeroNoise)
    poisson = as_physics(O.ParallelBeamCT.sparse_view((8, 8), 4, noise=O.PoissonNoise(1e4)))
    y = poisson(torch.rand(1, 1, 8, 8))
    assert y.shape == (1, 1, 4, 12) and torch.isfinite(y).all()


def test_as_physics_round_trips_and_refuses_what_is_not_an_operator():
    operator = O.Downsample(2)
    assert from_physics(as_physics(operator)) is operator
    with pytest.raises(TypeError, match="LinearOperator"):
        as_physics(lambda x: x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        composed = as_physics(O.Blur.gaussian(1.0)) * as_physics(O.Downsample(2))
    x = torch.rand(1, 1, 16, 16)
    # DeepInverse's A1 * A2 is A1 ∘ A2, our A1 @ A2
    assert torch.allclose(composed.A(x), (O.Blur.gaussian(1.0) @ O.Downsample(2)).A(x), atol=1e-6)
