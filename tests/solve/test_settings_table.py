"""The table of default settings: every row is usable, and the rule picks the row from the operator."""
from __future__ import annotations

import pytest
import torch

import operators as ops
from scoreinv.problems.tasks import TASKS
from scoreinv.sampling.methods import METHODS
from scoreinv.solve.rows import largest_hole_radius, lost_frequencies, row_of
from scoreinv.solve.settings import ROWS, SAMPLE_ROWS

from conftest import SHARED, needs_kernels

ROW = {"inpaint-random": "inpaint-random", "inpaint-box": "inpaint-box", "deblur-gauss": "deblur-lowpass",
       "deblur-motion": "deblur", "sr4": "sr", "ct-sparse": "ct-sparse", "ct-limited": "ct-limited"}


def test_every_row_is_usable():
    assert set(ROW) == set(TASKS) and set(ROW.values()) | {"other"} == set(ROWS)
    for entry in ROWS.values():
        row = entry.settings
        assert entry.why and entry.tuned_on
        assert row.method in METHODS
        assert row.warm_start in {"baseline", "harmonic", "dagger", "fbp", "adjoint", "none"}  # no estimate rows
        assert row.steps >= 1 and 0 < row.sigma_end < row.sigma_start and 0 <= row.eta <= 1 and row.prior_weight > 0


def test_largest_hole_radius_of_a_box_and_of_scattered_pixels():
    mask = torch.ones(1, 1, 40, 50)
    mask[..., 10:30, 5:35] = 0  # a 20 x 30 hole: radius 10
    assert largest_hole_radius(mask) == 10
    scattered = torch.ones(1, 1, 40, 50)
    scattered[..., ::2, ::2] = 0
    assert largest_hole_radius(scattered) == 1


@pytest.mark.parametrize("name", [pytest.param(name, marks=needs_kernels) if name == "deblur-motion" else name
                                  for name in sorted(TASKS)])
def test_each_benchmark_task_maps_to_its_row(name):
    task = TASKS[name]
    shape = (1, 1, 64, 64)
    assert row_of(task.build(shape, 0, torch.Generator().manual_seed(0))) == ROW[name]


def test_lost_frequencies_separates_wide_gaussians_from_motion_blur():
    assert lost_frequencies(ops.gaussian_kernel(3.0, 25)) > 0.8
    assert lost_frequencies(ops.gaussian_kernel(1.0, 7)) < 0.1                # a mild blur keeps most
    assert lost_frequencies(torch.ones(1, 1)) == 0.0                      # the identity loses nothing
    assert lost_frequencies(ops.motion_kernel(21, 30.0)) < 0.5
    # per channel: a frequency is lost only where every channel loses it
    mixed = torch.stack([ops.gaussian_kernel(3.0, 25), torch.nn.functional.pad(torch.ones(1, 1), (12, 12, 12, 12))])
    assert lost_frequencies(mixed) == 0.0
    assert row_of(ops.Blur(ops.gaussian_kernel(3.0, 25))) == "deblur-lowpass"
    assert row_of(ops.Blur(ops.motion_kernel(21, 30.0))) == "deblur"


@needs_kernels
def test_the_levin_motion_kernels_lose_almost_no_frequency():
    assert all(lost_frequencies(kernel) < 0.05 for kernel in ops.levin_kernels(SHARED))


def test_an_unknown_operator_uses_the_other_row():
    composed = ops.Mask.random((1, 1, 32, 32), missing=0.5) @ ops.Blur(ops.gaussian_kernel(1.0, 5))
    assert row_of(composed) == "other"


def test_a_subclass_keeps_its_family_and_so_its_row():
    class MyBlur(ops.Blur):
        pass

    assert row_of(MyBlur(ops.motion_kernel(21, 30.0))) == "deblur"
    assert row_of(MyBlur(ops.gaussian_kernel(3.0, 25))) == "deblur-lowpass"


def test_several_samples_of_a_deterministic_row_differ(tiny_priors):
    from scoreinv.priors.registry import load_prior
    from scoreinv.solve.reconstruct import reconstruct

    prior = load_prior(str(tiny_priors["gray"]), device="cpu", precision="fp32")
    operator = ops.Mask.random((1, 1, 16, 16), missing=0.5, generator=torch.Generator().manual_seed(0))
    y = operator.A(torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(1)))
    assert ROWS[row_of(operator)].settings.eta == 0
    one = reconstruct(y, operator, prior=prior, steps=4, device="cpu", n_samples=1)
    again = reconstruct(y, operator, prior=prior, steps=4, device="cpu", n_samples=1)
    assert one.settings["eta"] == 0 and torch.equal(one.mean, again.mean)     # a seed reproduces its result
    four = reconstruct(y, operator, prior=prior, steps=4, device="cpu", n_samples=4)
    assert four.settings["eta"] == 1.0 and float(four.std[operator.mask < 0.5].min()) > 0


def test_both_orders_of_plug_and_play_share_a_rows_eta(tiny_priors):
    """method="hqs" under a plug-and-play row keeps its η (0: deterministic), re-noises fully with several
    samples, and under a row of another method gets the ancestral default η = 1."""
    from scoreinv.priors.registry import load_prior
    from scoreinv.solve.reconstruct import reconstruct

    prior = load_prior(str(tiny_priors["gray"]), device="cpu", precision="fp32")
    operator = ops.Mask.random((1, 1, 16, 16), missing=0.5, generator=torch.Generator().manual_seed(0))
    y = operator.A(torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(1)))
    assert ROWS[row_of(operator)].settings.method == "pnp" and ROWS[row_of(operator)].settings.eta == 0
    one = reconstruct(y, operator, prior=prior, method="hqs", steps=4, device="cpu")
    two = reconstruct(y, operator, prior=prior, method="hqs", steps=4, n_samples=2, device="cpu")
    drawn = reconstruct(y, operator, prior=prior, method="hqs", steps=4, target="sample", device="cpu")
    assert (one.settings["eta"], two.settings["eta"], drawn.settings["eta"]) == (0.0, 1.0, 1.0)
    assert float(two.std[operator.mask < 0.5].min()) > 0


def test_the_rows_prior_weight_reaches_plug_and_play(tiny_priors):
    from scoreinv.errors import InputError
    from scoreinv.priors.registry import load_prior
    from scoreinv.solve.reconstruct import reconstruct

    prior = load_prior(str(tiny_priors["gray"]), device="cpu", precision="fp32")
    operator = ops.Blur(ops.motion_kernel(5, 0.0), noise=ops.GaussianNoise(0.01))
    y = operator.A(torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(0)))
    run = reconstruct(y, operator, prior=prior, steps=4, device="cpu")
    assert run.settings["prior_weight"] == ROWS[row_of(operator)].settings.prior_weight
    same = reconstruct(y, operator, prior=prior, steps=4, device="cpu", prior_weight=run.settings["prior_weight"])
    assert torch.equal(same.mean, run.mean)
    other = reconstruct(y, operator, prior=prior, steps=4, device="cpu", prior_weight=5.0)
    assert other.settings["prior_weight"] == 5.0 and not torch.allclose(other.mean, run.mean)
    with pytest.raises(InputError, match="prior_weight"):
        reconstruct(y, operator, prior=prior, steps=4, device="cpu", prior_weight=0.0)


def test_ct_rows_budget_their_conjugate_gradients(tiny_priors):
    from scoreinv.errors import InputError
    from scoreinv.priors.registry import load_prior
    from scoreinv.solve.reconstruct import reconstruct

    prior = load_prior(str(tiny_priors["ct"]), device="cpu", precision="fp32")
    operator = ops.ParallelBeamCT.limited_angle((16, 16), 90.0, 12, noise=ops.GaussianNoise(0.1))
    y = operator.A(torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(0)))
    assert ROWS["ct-limited"].settings.cg_effort > 0 and ROWS["ct-sparse"].settings.cg_effort > 0
    run = reconstruct(y, operator, prior=prior, steps=3, device="cpu")
    row = ROWS["ct-limited"].settings
    assert (run.settings["defaults_row"], run.settings["cg_effort"]) == ("ct-limited", row.cg_effort)
    more = reconstruct(y, operator, prior=prior, steps=3, device="cpu", cg_effort=50.0)
    assert more.settings["cg_effort"] == 50.0 and not torch.allclose(more.mean, run.mean)
    with pytest.raises(InputError, match="cg_effort"):
        reconstruct(y, operator, prior=prior, steps=3, device="cpu", cg_effort=-1.0)


def test_no_row_was_tuned_on_a_reported_test_set():
    from scoreinv.bench.tune import REPORTED_SETS

    from scoreinv.solve.settings import TARGETS

    named = {(target, name): entry.tuned_on for target, rows in TARGETS.items() for name, entry in rows.items()
             if set(part.strip() for part in entry.tuned_on.split(",")) & set(REPORTED_SETS)}
    assert named == {} and set(TARGETS) == {"estimate", "sample"}


def test_a_rows_grey_prior_was_chosen_on_validation_images_for_a_row_and_target_that_exist():
    from scoreinv.bench.tune import REPORTED_SETS
    from scoreinv.priors.registry import list_priors
    from scoreinv.solve.row_priors import GREY_ROW_PRIORS
    from scoreinv.solve.settings import TARGETS

    shipped = {card["name"]: card for card in list_priors()}
    for (target, row), (prior, tuned_on, why) in GREY_ROW_PRIORS.items():
        assert row in TARGETS[target] and why
        assert tuned_on and tuned_on not in REPORTED_SETS
        assert shipped[prior]["channels"] == 1 and shipped[prior]["kind"] == "natural"


def test_the_concepts_page_lists_each_rows_method_and_steps():
    import re
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "concepts.md").read_text()
    listed = dict(re.findall(r"^\| `([a-z-]+)` \|.*\| ([a-z]+, \d+) \|$", page, flags=re.M))
    assert listed == {name: f"{row.settings.method}, {row.settings.steps}" for name, row in ROWS.items()}


@pytest.mark.parametrize("name", [pytest.param(name, marks=needs_kernels) if name == "deblur-motion" else name
                                  for name in sorted(TASKS)])
def test_a_draw_of_each_sample_row_costs_at_most_100_nfe_its_warm_start_included(name, tiny_priors):
    from scoreinv import reconstruct

    task = TASKS[name]
    operator = task.build((1, 1, 64, 64), 0, torch.Generator().manual_seed(0))
    x = torch.rand(1, 1, 64, 64, generator=torch.Generator().manual_seed(1))
    y = operator.A(x)
    prior = tiny_priors["ct" if task.family == "ct" else "gray"]
    result = reconstruct(y, operator, prior=str(prior), target="sample", sigma_y=0.01, device="cpu")
    row = SAMPLE_ROWS[row_of(operator)].settings
    assert result.nfe <= 100 and result.settings["warm_start"] == row.warm_start
    assert (result.settings["warm_start_nfe"] > 0) == (row.warm_start == "estimate")
