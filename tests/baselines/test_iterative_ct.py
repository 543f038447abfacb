"""CGLS and box-constrained SIRT for CT: they beat FBP on sparse views and stop by the discrepancy principle."""
from __future__ import annotations

import math

import pytest
import torch

import operators as O
from scoreinv.baselines import BASELINES, tomography
from scoreinv.metrics.quality import psnr

SIGMA = 0.05


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def sparse_view():
    """A 64² phantom of ellipses (air around, soft tissue, a denser insert), 16 noisy views over 180°."""
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 64), torch.linspace(-1, 1, 64), indexing="ij")
    phantom = 0.33 * ((xx / 0.75) ** 2 + (yy / 0.9) ** 2 < 1).float()
    phantom += 0.3 * (((xx - 0.2) / 0.2) ** 2 + ((yy + 0.1) / 0.35) ** 2 < 1).float()
    phantom += 0.25 * ((xx + 0.3) ** 2 + (yy - 0.35) ** 2 < 0.03).float()
    x = phantom[None, None]
    op = O.ParallelBeamCT.sparse_view((64, 64), 16, noise=O.GaussianNoise(SIGMA))
    y = op.noise.sample(op.A(x), generator=torch.Generator().manual_seed(0))
    return x, op, y


def db(x, ref) -> float:
    return float(psnr(x[0], ref[0]))


def residual(x, op, y) -> float:
    return float((op.A(x.to(y.dtype)) - y).norm())


def test_ct_table_lists_the_iterations():
    assert [name for name, _ in BASELINES["ct"]] == ["fbp", "cgls", "sirt", "tv"]


def test_cgls_beats_fbp_and_stops_at_the_discrepancy(sparse_view):
    x, op, y = sparse_view
    target = tomography.DISCREPANCY_TAU * SIGMA * math.sqrt(y[0].numel())
    iterate, steps = tomography.cgls_iterate(y, op, sigma_y=SIGMA)
    k = int(steps[0])
    assert 1 < k < tomography.CGLS_MAX_ITER
    assert residual(iterate, op, y) <= target  # the rule holds where it stopped ...
    before, _ = tomography.cgls_iterate(y, op, sigma_y=SIGMA, max_iterations=k - 1)
    assert residual(before, op, y) > target  # ... and not one iteration earlier: the first such k
    out = tomography.cgls(y, op, sigma_y=SIGMA)
    assert out.shape == x.shape and 0 <= float(out.min()) and float(out.max()) <= 1
    assert db(out, x) > db(tomography.fbp(y, op), x) + 2


def test_cgls_run_long_fits_noise_free_data():
    op = O.ParallelBeamCT((12, 12), range(0, 180, 3))  # 60 views of a 12² image: overdetermined
    x = torch.rand(1, 1, 12, 12, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    y = op.A(x)
    iterate, steps = tomography.cgls_iterate(y, op, sigma_y=1e-12, max_iterations=300)
    assert residual(iterate, op, y) < 1e-6 * float(y.norm())


def test_cgls_stops_each_image_of_a_batch_on_its_own(sparse_view):
    x, op, y = sparse_view
    other = op.noise.sample(op.A(x.flip(-1) * 0.5), generator=torch.Generator().manual_seed(1))
    alone = [tomography.cgls_iterate(v, op, sigma_y=SIGMA) for v in (y, other)]
    together, steps = tomography.cgls_iterate(torch.cat([y, other]), op, sigma_y=SIGMA)
    assert [int(s[0]) for _, s in alone] == steps.tolist() and steps[0] != steps[1]
    assert torch.allclose(together, torch.cat([a for a, _ in alone]), atol=1e-5)


def test_sirt_keeps_the_box_beats_fbp_and_stops_at_the_discrepancy(sparse_view):
    x, op, y = sparse_view
    target = tomography.DISCREPANCY_TAU * SIGMA * math.sqrt(y[0].numel())
    out, steps = tomography.sirt_iterate(y, op, sigma_y=SIGMA, max_iterations=2000)
    assert 1 < int(steps[0]) < 2000 and residual(out, op, y) <= target
    assert 0 <= float(out.min()) and float(out.max()) <= 1
    assert db(out, x) > db(tomography.fbp(y, op), x) + 2
    capped, steps = tomography.sirt_iterate(y, op, sigma_y=SIGMA, max_iterations=3)
    assert int(steps[0]) == 3 and residual(capped, op, y) > target


def test_stopping_rule_takes_a_positive_tau(sparse_view):
    _, op, y = sparse_view
    for fn in (tomography.cgls, tomography.sirt):
        with pytest.raises(ValueError, match="tau"):
            fn(y, op, sigma_y=SIGMA, tau=0.0)
