"""The speed candidates of issue #21 keep the denoiser's contract and stay close to float32 within what their
arithmetic explains; the benchmark runs them interleaved round-robin and renders its table (no timing asserts)."""
from __future__ import annotations

import types

import pytest
import torch

from scoreinv.bench import candidate_priors as cp
from scoreinv.bench import candidates as bench
from scoreinv.priors.registry import load_prior

SHAPE = (2, 1, 36, 44)  # not a multiple of the tiny U-Net's factor: the padding paths run too
SIGMAS = torch.tensor([0.05, 0.3])


@pytest.fixture(scope="module")
def prior(tiny_priors):
    """The tiny grey prior in float32 with every weight random (its zero-initialised output convolutions would
    make all candidates agree trivially)."""
    denoiser = load_prior(str(tiny_priors["gray"]), device="cpu", precision="fp32")
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in denoiser.net.parameters():
            parameter.copy_(0.15 * torch.randn(parameter.shape, generator=generator))
    return denoiser


def noisy(seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    clean = torch.rand(SHAPE, generator=generator) * 0.6 + 0.2
    return clean + SIGMAS.reshape(-1, 1, 1, 1) * torch.randn(SHAPE, generator=generator)


def relative_error(candidate, reference, x) -> float:
    """‖D_c(x) − D_ref(x)‖ / ‖D_ref(x) − x‖: the error as a share of the denoising change (the network's part)."""
    with torch.no_grad():
        want, got = reference(x, SIGMAS), candidate(x, SIGMAS)
    assert got.shape == x.shape and got.dtype == torch.float32 and bool(got.isfinite().all())
    return float((got - want).norm() / (want - x).norm())


def test_every_variant_keeps_the_prior_contract(prior):
    crops = torch.rand(3, 1, 32, 32, generator=torch.Generator().manual_seed(2))
    variants = [cp.fp32(prior), cp.bf16_autocast(prior), cp.bf16_weights(prior),
                cp.layout(prior, torch.channels_last), cp.layout(prior, torch.contiguous_format),
                cp.dynamic_int8(prior), cp.static_int8(prior, crops)]
    for made in variants:
        for name in ("sigma_min", "sigma_max", "sigma_data", "data_mean", "channels", "dihedral", "name", "card"):
            assert getattr(made, name) == getattr(prior, name), name
        assert relative_error(made, prior, noisy()) < 0.5  # same shape, dtype, finite; closeness: tests below


def test_layouts_and_fp32_match_float32_to_rounding(prior):
    # the same float32 arithmetic in another summation order: rounding only (float32's unit roundoff is 6e-8;
    # measured 1e-7 here, so 1e-5 leaves room for other kernels)
    x = noisy()
    for made in (cp.fp32(prior), cp.layout(prior, torch.channels_last), cp.layout(prior, torch.contiguous_format)):
        assert relative_error(made, prior, x) < 1e-5


def test_bf16_variants_are_within_bfloat16_rounding(prior):
    # bf16 keeps 8 significant bits (unit roundoff 2^-9 ≈ 0.2 %); errors of a few layers add up to a few 0.1 %
    # (0.1 % under autocast, 0.8 % with every layer in bf16 here), and 3 % leaves a margin of four
    x = noisy(1)
    for made in (cp.bf16_autocast(prior), cp.bf16_weights(prior)):
        assert 0 < relative_error(made, prior, x) < 3e-2


def test_int8_variants_are_within_their_quantisation_error(prior):
    x = noisy(2)
    # dynamic: only the Linear layers (embedding, FiLM) in 8 bits, per-tensor: about 2^-8 of their range (0.2 %
    # measured), so 2 %
    assert relative_error(cp.dynamic_int8(prior), prior, x) < 2e-2
    # static: every convolution's input on a 256-level grid fitted to calibration crops at the tested noise levels,
    # its weights per channel on another: each layer adds about 2^-8 of its range (0.8 % in all here), so 5 %
    crops = (torch.rand(4, 1, 32, 32, generator=torch.Generator().manual_seed(3)) * 0.6 + 0.2)
    made = cp.static_int8(prior, crops, sigmas=(0.05, 0.3))
    assert relative_error(made, prior, x) < 5e-2


@pytest.mark.slow
def test_compiled_network_matches_eager(prior):
    # inductor fuses and reorders float32 element-wise work (GroupNorm's reductions too): rounding only, as for the
    # layouts, with a wider margin for its reordered reductions
    made, seconds = cp.compiled(prior, SHAPE)
    assert seconds > 0
    assert relative_error(made, prior, noisy(3)) < 1e-4


def test_flop_shares_and_next_prior_designs(prior):
    shares = cp.flop_shares(prior, (1, 1, 32, 32))
    assert shares["conv"] + shares["linear"] == shares["total"] and 0 < shares["linear"] < shares["conv"]
    rows = cp.unshuffle_flops(prior.net.config, (1, 1, 64, 64))
    assert rows[0]["design"] == "shipped U-Net"
    same_widths = rows[1]["gflop"] / rows[0]["gflop"]
    assert 0.2 < same_widths < 0.3  # a quarter of the pixels (the stem's four channels add a little)


def test_candidates_run_interleaved_round_robin(tiny_prior, monkeypatch):
    assert bench.round_robin(["a", "b", "c"], 2) == [(0, "a"), (0, "b"), (0, "c"), (1, "a"), (1, "b"), (1, "c")]
    order = []

    def fake_reconstruct(y, operator, *, prior, steps=None, **options):
        if steps != 2:  # the warm-up calls ask for two steps
            order.append(prior.tag)
        return types.SimpleNamespace(mean=torch.full((1, 1, 512, 512), 0.5), nfe=steps or 24,
                                     settings={"steps": steps or 24})

    def tagged(tag):
        def build(base, context):
            made = cp.variant(base)
            made.tag = tag
            return made, f"built {tag}"
        return build

    def broken(base, context):
        raise RuntimeError("cannot build\nsecond line")

    monkeypatch.setattr("scoreinv.solve.reconstruct.reconstruct", fake_reconstruct)
    candidates = [bench.Candidate("default", tagged("A")), bench.Candidate("fewer", tagged("B"), {"steps": 12}),
                  bench.Candidate("broken", broken), bench.Candidate("other", tagged("C"))]
    report = bench.run(candidates, repeats=3, prior=str(tiny_prior))
    assert order == ["A", "B", "C"] * 3
    rows = {row["name"]: row for row in report["rows"]}
    assert rows["broken"]["error"] == "RuntimeError: cannot build" and not rows["broken"]["seconds"]
    assert len(rows["fewer"]["seconds"]) == 3 and rows["fewer"]["nfe"] == 12

    text = bench.markdown(report)
    table = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| ---")]
    assert table[0].startswith("| candidate | seconds (median) | ratio to default | PSNR (dB) | ΔPSNR (dB) | NFE |")
    assert [line.split(" | ")[0] for line in table[1:]] == ["| default", "| fewer", "| broken", "| other",
                                                            "| design"] + ["| shipped U-Net"] + [
        f"| unshuffle ×2, {what}" for what in ("same widths", "base ×1.5", "base ×2", "one level fewer")]
    assert "failed: RuntimeError: cannot build |" in text and "| default |" in text and "1.000" in text


def test_holds_needs_ten_percent_and_at_most_five_hundredths_of_a_db():
    def row(name, seconds, psnr):
        return {"name": name, "seconds": seconds, "psnr": [psnr] * len(seconds), "nfe": 24, "error": None,
                "note": ""}

    report = {"rows": [row("default", [10.0, 20.0], 30.0), row("fast", [8.0, 18.0], 29.96),
                       row("lossy", [5.0, 10.0], 29.9), row("slow", [9.5, 19.5], 30.1)]}
    verdict = {r["name"]: (r["holds"], round(r["ratio"], 2)) for r in bench.summary(report)}
    assert verdict == {"default": (False, 1.0), "fast": (True, 0.85), "lossy": (False, 0.5),
                       "slow": (False, 0.96)}
