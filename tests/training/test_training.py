"""Training end to end on a tiny U-Net and a few generated pictures: kill -9 then --resume continues exactly, the
DistributedDataParallel path on CPU (2 processes, gloo), the refusal of the shared test sets, and one-line errors."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import skimage.io
import torch
import torch.distributed as dist

from scoreinv.errors import InputError
from scoreinv.io.paths import shared_dir
from scoreinv.model.network import UNet
from scoreinv.priors.cards import export_prior
from scoreinv.training.checkpoints import CHECKPOINT, grow_into
from scoreinv.training.config import TrainConfig, resumed_config
from scoreinv.training.loop import train
from scoreinv.training.patches import refuse_test_set

from cli_checks import one_line_error
from conftest import smooth_picture

# A U-Net of 79k parameters on 16 px crops: about 60 steps a second on one thread
TINY = ["--base", "8", "--mults", "1,2", "--crop", "16", "--batch", "4", "--threads", "1", "--quiet"]
STEPS = 200
SHARED_TEST_SETS = ["set12", "bsd68", "cbsd68", "ct/test"]


def tiny_config(data: Path, name: str, out: Path, *, steps: int, checkpoint_steps: int = 0) -> TrainConfig:
    """The configuration that the TINY command-line options give."""
    return TrainConfig(data=[str(data)], name=name, base=8, mults=(1, 2), crop=16, batch=4, steps=steps,
                       out=str(out), checkpoint_steps=checkpoint_steps, threads=1)


def child_env() -> dict:
    """The environment of training subprocesses: one thread each (two shared cores)."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def train_module(*args) -> list[str]:
    """The command line of ``python -m scoreinv train ARGS``."""
    return [sys.executable, "-m", "scoreinv", "train", *[str(a) for a in args]]


def load_checkpoint(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def log_records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]



@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """A folder of four small generated grey PNGs (never the shared test sets)."""
    folder = tmp_path_factory.mktemp("train-data")
    for i in range(4):
        skimage.io.imsave(str(folder / f"picture{i}.png"), smooth_picture(40, 48, 1, seed=i), check_contrast=False)
    return folder




# kill -9 and --resume

@pytest.mark.slow
def test_kill_9_then_resume_matches_an_uninterrupted_run(data_dir, tmp_path):
    out = tmp_path / "runs"
    straight = train(tiny_config(data_dir, "straight", out, steps=STEPS), progress=False)

    # Interrupted: SIGKILL as soon as the first checkpoint (every 2 steps) is on disk
    checkpoint = out / "killed" / CHECKPOINT
    args = ["--name", "killed", "--out", out, "--steps", STEPS, "--checkpoint-steps", 2, *TINY]
    process = subprocess.Popen(train_module(data_dir, *args), env=child_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL, f"training ended before the kill:\n{stderr}"
    assert checkpoint.exists(), "no checkpoint within 60 s"
    killed_at = load_checkpoint(checkpoint)["step"]
    assert 0 < killed_at < STEPS and killed_at % 2 == 0

    resumed = subprocess.run(train_module("--name", "killed", "--out", out, "--resume", "--quiet"), env=child_env(),
                             capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.strip() == f"checkpoint: {checkpoint}"

    # Exact continuation: weights, EMA, optimiser state and the logged loss are those of the uninterrupted run
    a, b = load_checkpoint(straight), load_checkpoint(checkpoint)
    assert a["step"] == b["step"] == STEPS
    for key in ("net", "ema"):
        assert a[key].keys() == b[key].keys()
        assert all(torch.equal(a[key][k], b[key][k]) for k in a[key]), f"{key} differs after resume"
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert b["running_loss"] == a["running_loss"]
    assert [row[:3] for row in b["history"]] == [row[:3] for row in a["history"]]  # step, loss, PSNR
    assert b["elapsed_seconds"] > 0

    # The log continues where the checkpoint was: start at 0, resume at the killed step, then steps to STEPS
    records = log_records(out / "killed")
    assert [(r.get("event"), r["step"]) for r in records if "event" in r] == [("start", 0), ("resume", killed_at)]
    steps = [r["step"] for r in records]
    assert steps == sorted(steps) and steps[-1] == STEPS
    assert records[-1]["loss"] == a["running_loss"]


def test_resume_may_grow_steps(data_dir, tmp_path):
    out = tmp_path / "runs"
    train(tiny_config(data_dir, "grow", out, steps=3), progress=False)
    config = resumed_config(str(out), "grow", steps=5)
    train(config, resume=True, progress=False)
    state = load_checkpoint(config.run_dir / CHECKPOINT)
    assert state["step"] == 5 and state["config"]["steps"] == 5 and state["world_size"] == 1
    assert [r["step"] for r in log_records(config.run_dir) if "event" in r] == [0, 3]


# Starting from a trained run, with more residual blocks (function-preserving growth)

def test_grown_network_computes_what_the_trained_one_did():
    torch.manual_seed(0)
    small = UNet(base=8, mults=(1, 2), blocks=1)
    with torch.no_grad():  # trained-looking weights: no zero convolution left
        for p in small.parameters():
            p.add_(0.1 * torch.randn_like(p))
    big = UNet(base=8, mults=(1, 2), blocks=3)
    grow_into(big, small.state_dict())
    x, c_noise = torch.randn(2, 1, 20, 24), torch.tensor([-1.0, 0.2])
    with torch.no_grad():
        torch.testing.assert_close(big(x, c_noise), small(x, c_noise), rtol=0, atol=1e-6)
    assert sum(p.numel() for p in big.parameters()) > sum(p.numel() for p in small.parameters())


def test_growth_refuses_a_network_of_another_width():
    with pytest.raises(InputError, match="does not fit"):
        grow_into(UNet(base=16, mults=(1, 2), blocks=2), UNet(base=8, mults=(1, 2), blocks=1).state_dict())


def test_init_from_starts_a_deeper_run_from_the_trained_weights(data_dir, tmp_path):
    out = tmp_path / "runs"
    train(tiny_config(data_dir, "small", out, steps=3), progress=False)
    source = load_checkpoint(out / "small" / CHECKPOINT)
    config = tiny_config(data_dir, "deep", out, steps=1)
    config.blocks, config.init_from, config.lr = 2, str(out / "small"), 0.0  # lr 0: the weights stay as loaded
    train(config, progress=False)
    deep = load_checkpoint(out / "deep" / CHECKPOINT)
    assert deep["stats"] == source["stats"] and deep["config"]["init_from"] == str(out / "small")
    for key, value in source["ema"].items():
        torch.testing.assert_close(deep["net"][key], value)
    assert len(deep["net"]) > len(source["ema"])
    card = json.loads(export_prior(out / "deep" / CHECKPOINT, "deep", out=tmp_path / "priors",
                                   data_description="generated").with_suffix(".json").read_text())
    assert card["init_from"].startswith(f"{out / 'small'}: step 3,") and card["steps"] == 1


def test_init_from_an_exported_prior_continues_its_weights(data_dir, tmp_path):
    out = tmp_path / "runs"
    train(tiny_config(data_dir, "small", out, steps=3), progress=False)
    exported = export_prior(out / "small" / CHECKPOINT, "small", out=tmp_path / "priors", data_description="generated")
    source = torch.load(exported, map_location="cpu", weights_only=True)
    config = tiny_config(data_dir, "again", out, steps=1)
    config.init_from, config.lr = str(exported), 0.0
    train(config, progress=False)
    again = load_checkpoint(out / "again" / CHECKPOINT)
    for key, value in source["weights"].items():
        torch.testing.assert_close(again["net"][key], value.float())
    assert again["stats"]["sigma_data"] == source["stats"]["sigma_data"]
    card = json.loads(export_prior(out / "again" / CHECKPOINT, "again", out=tmp_path / "priors",
                                   data_description="generated").with_suffix(".json").read_text())
    assert card["init_from"].startswith("exported prior small: step 3,")


def test_init_from_a_missing_run_is_one_line(cli, data_dir, tmp_path):
    result = cli("train", data_dir, "--name", "x", "--out", tmp_path, "--blocks", "2",
                 "--init-from", tmp_path / "nothing", *TINY)
    one_line_error(result, "no training checkpoint")
    assert not (tmp_path / "x" / CHECKPOINT).exists()


# DistributedDataParallel on CPU

@pytest.mark.slow
@pytest.mark.skipif(not (dist.is_available() and dist.is_gloo_available()), reason="needs torch.distributed with gloo")
def test_ddp_two_cpu_processes_with_gloo(data_dir, tmp_path):
    out = tmp_path / "runs"
    # --standalone: a local rendezvous on a free port that torchrun picks itself
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "scoreinv", "train", str(data_dir), "--name", "ddp", "--out", str(out), "--steps", "4", *TINY]
    result = subprocess.run(command, env=child_env(), capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = out / "ddp" / CHECKPOINT
    assert result.stdout.count("checkpoint:") == 1  # only rank 0 reports and writes
    assert sorted(p.name for p in (out / "ddp").iterdir()) == [CHECKPOINT, "log.jsonl"]
    state = load_checkpoint(checkpoint)
    assert state["world_size"] == 2 and state["step"] == 4
    assert not any(k.startswith("module.") for k in state["net"])  # the bare network, loadable without DDP
    assert all(torch.isfinite(v).all() for v in state["net"].values())
    starts = [r for r in log_records(out / "ddp") if r.get("event") == "start"]
    assert len(starts) == 1 and starts[0]["world_size"] == 2


# Test sets are refused

@pytest.mark.parametrize("name", SHARED_TEST_SETS)
def test_training_refuses_a_folder_named_like_a_test_set(cli, tmp_path, name):
    folder = tmp_path / "copy" / name
    folder.mkdir(parents=True)
    skimage.io.imsave(str(folder / "a.png"), smooth_picture(40, 48), check_contrast=False)
    one_line_error(cli("train", folder, "--name", "x", "--out", tmp_path / "runs", *TINY), "test set")
    assert not (tmp_path / "runs" / "x" / CHECKPOINT).exists()


@pytest.mark.skipif(shared_dir() is None, reason="needs the shared data folder (../shared)")
@pytest.mark.parametrize("name", SHARED_TEST_SETS)
def test_training_refuses_the_shared_test_sets(cli, tmp_path, name):
    folder = shared_dir() / "data" / name
    one_line_error(cli("train", folder, "--name", "x", "--out", tmp_path / "runs", *TINY), "test set")
    # also when a test set is only one of several folders
    one_line_error(cli("train", shared_dir() / "data" / "bsds500" / "train", folder, "--name", "x", "--out",
                       tmp_path / "runs", *TINY), "test set")


def test_training_folders_are_not_refused_for_their_name_alone(tmp_path):
    for name in ("bsds500/test", "ct/train", "set12-like", "test"):
        folder = tmp_path / name
        folder.mkdir(parents=True)
        refuse_test_set(folder)  # no error
    (tmp_path / "ct" / "test").mkdir()
    with pytest.raises(InputError, match="test set"):
        refuse_test_set(tmp_path / "ct" / "test")


# One-line errors

def test_resume_without_a_checkpoint_is_one_line(cli, tmp_path):
    one_line_error(cli("train", "--name", "nothing", "--out", tmp_path / "runs", "--resume"), "nothing to resume")
    with pytest.raises(InputError, match="nothing to resume"):
        train(tiny_config(tmp_path, "nothing", tmp_path / "runs", steps=1), resume=True, progress=False)


def test_a_duplicate_name_is_one_line(cli, data_dir, tmp_path):
    out = tmp_path / "runs"
    train(tiny_config(data_dir, "taken", out, steps=1), progress=False)
    before = (out / "taken" / CHECKPOINT).read_bytes()
    one_line_error(cli("train", data_dir, "--name", "taken", "--out", out, "--steps", 2, *TINY),
                   "a run of this name exists", "--resume")
    assert (out / "taken" / CHECKPOINT).read_bytes() == before  # untouched


@pytest.mark.parametrize("args,fragment", [
    ([], "give at least one DATA folder"),
    (["{data}", "--mults", "1,x"], "--mults"),
    (["{data}", "--crop", "64"], "smaller than the 64px crop"),
    (["{missing}"], "no such folder"),
])
def test_bad_training_input_is_one_line(cli, data_dir, tmp_path, args, fragment):
    args = [a.format(data=data_dir, missing=tmp_path / "missing") for a in args]
    one_line_error(cli("train", *args, "--name", "bad", "--out", tmp_path / "runs", "--quiet"), fragment)


# A pixel-unshuffle stem (--unshuffle 2: the U-Net at half the resolution)

def test_unshuffle_network_takes_any_size_for_a_quarter_of_the_flops():
    from torch.utils.flop_counter import FlopCounterMode
    torch.manual_seed(0)
    plain, stem = UNet(base=8, mults=(1, 2), blocks=1), UNet(base=8, mults=(1, 2), blocks=1, unshuffle=2)
    for p in stem.parameters():
        torch.nn.init.normal_(p, std=0.1)  # the zero-initialised head would hide a wrong shape
    x = torch.randn(2, 1, 37, 22)
    y = stem(x, torch.zeros(2))
    assert y.shape == x.shape and torch.isfinite(y).all() and stem.factor == 4 and stem.config["unshuffle"] == 2
    assert "unshuffle" not in plain.config  # cards of priors without the stem stay as they were
    flops = []
    for net in (plain, stem):
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            net(torch.randn(1, 1, 64, 64), torch.zeros(1))
        flops.append(counter.get_total_flops())
    assert 0.2 < flops[1] / flops[0] < 0.3


def test_unshuffle_run_trains_resumes_and_exports(cli, data_dir, tmp_path):
    out = tmp_path / "runs"
    result = cli("train", data_dir, "--name", "u2", "--out", out, "--steps", "3", "--unshuffle", "2", *TINY)
    assert result.exit_code == 0, result.output
    config = resumed_config(str(out), "u2", steps=5)
    assert config.unshuffle == 2
    train(config, resume=True, progress=False)
    state = load_checkpoint(out / "u2" / CHECKPOINT)
    assert state["step"] == 5 and state["net_config"]["unshuffle"] == 2
    from scoreinv.priors.registry import load_prior
    path = export_prior(out / "u2" / CHECKPOINT, "u2", out=tmp_path / "priors", data_description="generated")
    prior = load_prior(str(path), device="cpu", precision="fp32")
    assert prior.net.unshuffle == 2
    assert "pixel-unshuffle ×2 stem" in json.loads(path.with_suffix(".json").read_text())["architecture"]
    net = UNet(**{**state["net_config"], "mults": tuple(state["net_config"]["mults"])})
    net.load_state_dict({k: v.half().float() for k, v in state["ema"].items()})
    x, c = torch.rand(1, 1, 24, 24), torch.full((1,), 0.3)
    torch.testing.assert_close(prior.net(x, c), net(x, c), rtol=1e-4, atol=1e-5)
