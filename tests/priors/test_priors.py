"""Priors: export a training checkpoint with its model card, load it (any image size), the denoiser/score contract,
damaged files as one-line errors, ``scoreinv priors`` and the SCOREINV_PRETRAINED folder."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import skimage.io
import torch

from scoreinv import load_prior
from scoreinv.errors import InputError
from scoreinv.model.denoiser import Denoiser
from scoreinv.model.devices import inference_precision, training_precision
from scoreinv.priors.cards import export_prior
from scoreinv.priors.registry import list_priors
from scoreinv.training.checkpoints import CHECKPOINT
from scoreinv.training.config import TrainConfig
from scoreinv.training.loop import train
from scoreinv.training.patches import AUGMENTATION

from cli_checks import one_line_error
from conftest import TINY_STATS, smooth_picture, write_tiny_prior

CARD_FIELDS = {"name", "file", "sha256", "bytes", "parameters", "net_config", "kind", "channels", "data", "crop",
               "batch", "world_size", "steps", "wall_clock_hours", "device", "sigma_min", "sigma_max", "data_mean",
               "sigma_data", "final_loss", "training_precision"}



def copy_prior(source: Path, folder: Path, name: str | None = None) -> Path:
    """Copy NAME.pt, NAME.json and NAME.md into ``folder`` (optionally renamed, the card following); the copy's .pt."""
    folder.mkdir(parents=True, exist_ok=True)
    name = name or source.stem
    for suffix in (".pt", ".json", ".md"):
        shutil.copy(source.with_suffix(suffix), folder / f"{name}{suffix}")
    card_path = folder / f"{name}.json"
    card = json.loads(card_path.read_text())
    card_path.write_text(json.dumps({**card, "name": name, "file": f"{name}.pt"}))
    return folder / f"{name}.pt"


@pytest.fixture(scope="module")
def run_checkpoint(tmp_path_factory) -> Path:
    """The checkpoint of a 3-step training run of a tiny U-Net on generated pictures."""
    root = tmp_path_factory.mktemp("export")
    data = root / "data"
    data.mkdir()
    for i in range(3):
        skimage.io.imsave(str(data / f"p{i}.png"), smooth_picture(40, 48, 1, seed=i), check_contrast=False)
    config = TrainConfig(data=[str(data)], name="run", base=8, mults=(1, 2), crop=16, batch=4, steps=3,
                         out=str(root / "runs"), threads=1)
    return train(config, progress=False)


@pytest.fixture(scope="module")
def exported(run_checkpoint, tmp_path_factory) -> Path:
    """The prior ``mine.pt`` (+ card) exported from :func:`run_checkpoint`."""
    folder = tmp_path_factory.mktemp("exported")
    return export_prior(run_checkpoint, "mine", out=folder, data_description="three generated pictures")




# Export and the model card

def test_export_writes_weights_card_and_markdown(run_checkpoint, exported):
    card = json.loads(exported.with_suffix(".json").read_text())
    assert CARD_FIELDS <= set(card)
    assert card["name"] == "mine" and card["file"] == "mine.pt"
    assert card["sha256"] == hashlib.sha256(exported.read_bytes()).hexdigest()
    assert card["bytes"] == exported.stat().st_size
    state = torch.load(run_checkpoint, map_location="cpu", weights_only=True)
    assert card["steps"] == 3 and card["world_size"] == 1 and card["crop"] == 16 and card["channels"] == 1
    assert card["parameters"] == state["parameters"] and card["sigma_max"] == state["stats"]["sigma_max"]
    markdown = exported.with_suffix(".md").read_text()
    assert markdown.startswith("# Prior `mine`") and card["sha256"] in markdown
    assert "three generated pictures" in markdown
    assert card["augmentation"] == AUGMENTATION and AUGMENTATION in markdown


def test_card_records_the_precision_training_ran_in(run_checkpoint, exported):
    card = json.loads(exported.with_suffix(".json").read_text())
    state = torch.load(run_checkpoint, map_location="cpu", weights_only=True)
    assert state["config"]["precision"] == "auto"  # the default, resolved on each machine that trains
    assert card["training_precision"] == state["precision"] == training_precision(torch.device("cpu"))


def test_export_command_without_measuring(cli, run_checkpoint, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    result = cli("export", run_checkpoint.parent, "--name", "cli-prior", "--out", out, "--data-description",
                 "generated", "--no-measure")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["cli-prior.json", "cli-prior.md", "cli-prior.pt"]
    assert load_prior(str(out / "cli-prior.pt"), device="cpu").name == "cli-prior"


def test_export_of_a_missing_run_is_one_line(cli, tmp_path):
    (tmp_path / "empty-run").mkdir()
    result = cli("export", tmp_path / "empty-run", "--name", "x", "--out", tmp_path, "--data-description", "d",
                 "--no-measure")
    one_line_error(result, CHECKPOINT)


# Loading

def test_load_prior_gives_the_ema_weights(run_checkpoint, exported):
    denoiser = load_prior(str(exported), device="cpu")
    assert isinstance(denoiser, Denoiser) and denoiser.name == "mine" and denoiser.card["steps"] == 3
    assert denoiser.precision == inference_precision(torch.device("cpu"))
    assert not denoiser.training and denoiser.channels == 1
    assert denoiser.dihedral  # trained on flipped and rotated patches, says its card
    assert not any(p.requires_grad for p in denoiser.parameters())
    state = torch.load(run_checkpoint, map_location="cpu", weights_only=True)
    loaded = denoiser.net.state_dict()
    assert all(torch.equal(loaded[k], v.half().float()) for k, v in state["ema"].items())
    assert denoiser.sigma_max == pytest.approx(state["stats"]["sigma_max"])
    assert denoiser.sigma_min == pytest.approx(state["config"]["sigma_min"])
    # also by the card's path
    assert load_prior(str(exported.with_suffix(".json")), device="cpu", precision="fp32").precision == "fp32"


@pytest.mark.parametrize("avx512_bf16,amx,expected", [(False, False, "fp32"), (True, False, "bf16"),
                                                       (False, True, "bf16")])
def test_cpu_precision_is_bf16_only_where_the_processor_has_it(exported, monkeypatch, avx512_bf16, amx, expected):
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    assert load_prior(str(exported), device="cpu").precision == expected
    assert load_prior(str(exported), device="cpu", precision="bf16").precision == "bf16"  # asked for, given


@pytest.mark.parametrize("capability,isa,expected", [("AVX2", None, "fp32"), ("AVX512", "AVX2", "fp32"),
                                                     ("AVX512", "avx512_core", "fp32"),
                                                     ("AVX512", "AVX512_CORE_BF16", "bf16"), ("AVX512", None, "bf16")])
def test_bf16_is_not_native_where_torch_or_onednn_is_capped_below_avx512(exported, monkeypatch, capability, isa,
                                                                         expected):
    # a bf16 CPU told (ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA) to stay at AVX2 emulates bf16: float32 is faster
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    if isa is None:
        monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    else:
        monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", isa)
    assert load_prior(str(exported), device="cpu").precision == expected


def test_cpu_precision_without_torch_s_capability_helpers_is_fp32(exported, monkeypatch):
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported")
    assert load_prior(str(exported), device="cpu").precision == "fp32"


@pytest.mark.parametrize("height,width", [(37, 53), (16, 16), (5, 3), (1, 1)])
def test_denoiser_runs_on_odd_sizes(exported, tiny_priors, height, width):
    for path, channels in ((exported, 1), (tiny_priors["color"], 3)):
        denoiser = load_prior(str(path), device="cpu")
        x = torch.rand(2, channels, height, width)
        with torch.no_grad():
            out = denoiser(x, torch.tensor([0.05, 0.5]))
        assert out.shape == x.shape and out.dtype == torch.float32 and torch.isfinite(out).all()


class _Zero(torch.nn.Module):
    """F ≡ 0: the preconditioned denoiser is then the exact posterior mean for N(μ, σ_d² I) data."""

    def __init__(self):
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))

    def forward(self, x, c_noise):
        return torch.zeros_like(x)


@pytest.mark.parametrize("sigma", [0.01, 0.1, 1.0, torch.tensor([0.02, 0.3, 2.0])])
def test_score_of_a_gaussian_oracle_is_the_gaussian_score(sigma):
    # for data N(μ, σ_d² I), p_σ is N(μ, (σ_d² + σ²) I): its score is −(x − μ) / (σ_d² + σ²); with F ≡ 0 the EDM
    # preconditioning gives D = μ + c_skip (x − μ), the exact E[x₀ | x], so Tweedie's score must match it
    mean, sd = 0.4, 0.25
    denoiser = Denoiser(_Zero(), data_mean=mean, sigma_data=sd).double()
    x = torch.rand(3, 1, 9, 11, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    s = torch.as_tensor(sigma, dtype=torch.float64).reshape(-1, 1, 1, 1)
    with torch.no_grad():
        assert torch.allclose(denoiser.score(x, sigma), -(x - mean) / (sd ** 2 + s ** 2), rtol=1e-6, atol=0)


def test_tiny_prior_statistics_reach_the_denoiser(tiny_prior):
    denoiser = load_prior(str(tiny_prior), device="cpu")
    for key, value in TINY_STATS.items():
        assert getattr(denoiser, key) == pytest.approx(value)


# Damaged or missing files

def test_tampered_weights_give_a_sha256_error(exported, tmp_path):
    weights = copy_prior(exported, tmp_path, "tampered")
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit of one byte
    weights.write_bytes(bytes(data))
    with pytest.raises(InputError, match="sha256 does not match") as error:
        load_prior(str(weights), device="cpu")
    assert str(weights) in str(error.value) and "\n" not in str(error.value)


def test_truncated_weights_give_a_one_line_error(exported, tmp_path):
    weights = copy_prior(exported, tmp_path, "truncated")
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(InputError, match="sha256 does not match"):
        load_prior(str(weights), device="cpu")
    # a card that agrees with the truncated file: the file itself cannot be read
    card_path = weights.with_suffix(".json")
    card = json.loads(card_path.read_text())
    card_path.write_text(json.dumps({**card, "sha256": hashlib.sha256(weights.read_bytes()).hexdigest()}))
    with pytest.raises(InputError, match="cannot be read as a scoreinv prior") as error:
        load_prior(str(weights), device="cpu")
    assert "\n" not in str(error.value)


def test_a_foreign_file_with_a_matching_card_cannot_be_read(exported, run_checkpoint, tmp_path):
    weights = copy_prior(exported, tmp_path, "foreign")
    shutil.copy(run_checkpoint, weights)  # a training checkpoint is not a prior
    card_path = weights.with_suffix(".json")
    card = json.loads(card_path.read_text())
    card_path.write_text(json.dumps({**card, "sha256": hashlib.sha256(weights.read_bytes()).hexdigest()}))
    with pytest.raises(InputError, match="cannot be read as a scoreinv prior"):
        load_prior(str(weights), device="cpu")


def test_tampered_weights_are_one_line_on_the_command_line(cli, exported, tmp_path):
    weights = copy_prior(exported, tmp_path / "priors", "tampered")
    weights.write_bytes(weights.read_bytes()[:-10])
    one_line_error(cli("sample", "--prior", weights, "-n", 1, "--size", 16, "--steps", 2, "--quiet",
                       "-o", tmp_path / "s.png"), "sha256")
    assert not (tmp_path / "s.png").exists()


def test_missing_card_missing_weights_and_unknown_names(exported, tmp_path, monkeypatch):
    weights = copy_prior(exported, tmp_path / "no-card", "lonely")
    weights.with_suffix(".json").unlink()
    with pytest.raises(InputError, match="model card missing"):
        load_prior(str(weights), device="cpu")

    monkeypatch.setenv("SCOREINV_PRETRAINED", str(tmp_path / "shipped"))
    weights = copy_prior(exported, tmp_path / "shipped", "no-weights")
    weights.unlink()
    with pytest.raises(InputError, match="weights file of prior 'no-weights' is missing"):
        load_prior("no-weights", device="cpu")
    with pytest.raises(InputError, match=r"no prior named 'nonesuch' \(shipped: no-weights\)"):
        load_prior("nonesuch", device="cpu")
    with pytest.raises(InputError, match="no such prior file"):
        load_prior(str(tmp_path / "elsewhere" / "typo.pt"), device="cpu")


@pytest.mark.parametrize("text,fragment", [("{not json", "not valid JSON"), ('{"name": "x"}', "lacks file, sha256"),
                                           ("[]", "lacks file, name, sha256")])
def test_a_broken_card_is_one_line(exported, tmp_path, text, fragment):
    weights = copy_prior(exported, tmp_path, "broken")
    weights.with_suffix(".json").write_text(text)
    with pytest.raises(InputError, match=fragment):
        load_prior(str(weights), device="cpu")


# Listing and SCOREINV_PRETRAINED

def test_scoreinv_priors_lists_the_folder(cli, exported, tiny_priors, tmp_path):
    folder = tmp_path / "shipped"
    copy_prior(exported, folder)
    copy_prior(tiny_priors["color"], folder)
    env = {"SCOREINV_PRETRAINED": str(folder)}
    result = cli("priors", env=env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:2] == ["name", "ch"]
    assert [line.split()[0] for line in lines[1:]] == ["mine", "tiny-color"]
    assert lines[2].split()[1] == "3"
    listed = json.loads(cli("priors", "--json", env=env).output)
    assert [card["name"] for card in listed] == ["mine", "tiny-color"]
    assert listed[0]["sha256"] == json.loads(exported.with_suffix(".json").read_text())["sha256"]

    (tmp_path / "empty").mkdir()
    result = cli("priors", env={"SCOREINV_PRETRAINED": str(tmp_path / "empty")})
    assert result.exit_code == 0 and "no priors shipped" in result.output


def test_scoreinv_pretrained_makes_names_resolve_there(tmp_path, monkeypatch):
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    write_tiny_prior(folder / "natural-gray.pt", seed=1)
    write_tiny_prior(folder / "natural-color.pt", channels=3, seed=2)
    monkeypatch.setenv("SCOREINV_PRETRAINED", str(folder))
    assert [card["name"] for card in list_priors()] == ["natural-color", "natural-gray"]
    gray = load_prior(device="cpu")  # the default name
    assert gray.name == "natural-gray" and gray.channels == 1
    assert load_prior("natural-color", device="cpu").channels == 3
    # the default prior of reconstruct() is found there too
    import operators as ops
    from scoreinv import reconstruct

    operator = ops.Downsample(2)
    result = reconstruct(operator.A(torch.rand(1, 1, 16, 16)), operator, target="sample", steps=4, device="cpu")
    assert result.settings["prior"] == "natural-gray"  # the sr draws run the image type's default
    assert result.settings["prior_sha256"] == gray.card["sha256"]
    assert result.settings["precision"] == gray.precision  # the network arithmetic is part of the record


def test_a_row_that_names_a_grey_prior_runs_it_by_default(tmp_path, monkeypatch):
    """Scattered missing pixels and a large hole run their rows' grey prior for each target; colour images and a
    named prior do not."""
    import operators as ops
    from scoreinv import reconstruct
    from scoreinv.solve.row_priors import GREY_ROW_PRIORS

    folder = tmp_path / "shipped"
    folder.mkdir()
    for i, name in enumerate(["natural-gray", "natural-color", *sorted({p for p, _, _ in GREY_ROW_PRIORS.values()})]):
        write_tiny_prior(folder / f"{name}.pt", channels=3 if name == "natural-color" else 1, seed=i)
    monkeypatch.setenv("SCOREINV_PRETRAINED", str(folder))
    scattered = ops.Mask.random((1, 1, 32, 32), missing=0.5, generator=torch.Generator().manual_seed(0))
    hole = ops.Mask.box((1, 1, 32, 32), size=24)
    x = torch.rand(1, 1, 32, 32)

    def prior_of(operator, image, **options):
        return reconstruct(operator.A(image), operator, steps=2, device="cpu", **options).settings["prior"]

    assert prior_of(scattered, x) == GREY_ROW_PRIORS["estimate", "inpaint-random"][0] != "natural-gray"
    assert prior_of(scattered, x, target="sample") == GREY_ROW_PRIORS["sample", "inpaint-random"][0] != "natural-gray"
    assert prior_of(hole, x) == GREY_ROW_PRIORS["estimate", "inpaint-box"][0]
    assert prior_of(hole, x, target="sample") == GREY_ROW_PRIORS["sample", "inpaint-box"][0] != "natural-gray"
    assert prior_of(ops.Mask(scattered.mask.expand(1, 3, 32, 32)), x.expand(1, 3, 32, 32)) == "natural-color"
    assert prior_of(scattered, x, prior="natural-gray") == "natural-gray"
