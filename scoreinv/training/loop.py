"""Denoising score matching over many noise levels (NCSN / NCSNv2, with EDM preconditioning and weighting).

Run ``scoreinv train DATA_DIR --name NAME`` on one machine, or
``torchrun --nproc_per_node N -m scoreinv train DATA_DIR --name NAME`` for DistributedDataParallel (gloo on
CPU, NCCL on CUDA). A checkpoint holding the network, its EMA, the optimiser, the step and the timing is
written atomically every few minutes and at exit; ``--resume`` continues exactly, because every step's
random numbers come from a generator seeded by (seed, rank, step).
"""
from __future__ import annotations

import copy
import json
import math
import os
import signal
import time
from dataclasses import asdict
from pathlib import Path

import torch
import torch.distributed as dist

from scoreinv.errors import InputError
from scoreinv.io.progress import Progress
from scoreinv.model.denoiser import Denoiser
from scoreinv.model.devices import resolve_device, training_precision
from scoreinv.model.network import UNet, parameter_count
from scoreinv.sampling.schedules import max_pairwise_distance
from scoreinv.training.checkpoints import CHECKPOINT, _load_checkpoint, grow_into
from scoreinv.training.config import TrainConfig
from scoreinv.training.patches import load_training_images, random_patches


def data_statistics(images: list[torch.Tensor], *, crop: int, generator: torch.Generator) -> dict:
    """Pixel mean and standard deviation, and NCSNv2's σ_max, from 1000 random training patches."""
    patches = random_patches(images, batch=1000, crop=crop, generator=generator)
    return {"data_mean": float(patches.mean()), "sigma_data": float(patches.std()),
            "sigma_max": max_pairwise_distance(patches)}


def sample_sigmas(n: int, config: TrainConfig, sigma_max: float, generator: torch.Generator) -> torch.Tensor:
    """Training noise levels: log-normal (EDM) around the levels that matter most, mixed with log-uniform over
    [σ_min, σ_max] so that every level a sampler visits is trained (NCSN's range)."""
    log_normal = config.p_mean + config.p_std * torch.randn(n, generator=generator)
    lo, hi = math.log(config.sigma_min), math.log(sigma_max)
    log_uniform = lo + (hi - lo) * torch.rand(n, generator=generator)
    pick = torch.rand(n, generator=generator) < config.uniform_fraction
    return torch.where(pick, log_uniform, log_normal).clamp(lo, hi).exp()


def loss_weight(sigma: torch.Tensor, sigma_data: float) -> torch.Tensor:
    """λ(σ) = (σ² + σ_d²) / (σ σ_d)²: EDM's per-σ weight, which gives the network's target unit variance."""
    return (sigma ** 2 + sigma_data ** 2) / (sigma * sigma_data) ** 2


def learning_rate(step: int, config: TrainConfig) -> float:
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = min(1.0, (step - config.warmup) / max(1, config.steps - config.warmup))
    return config.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))


def step_generator(seed: int, rank: int, step: int) -> torch.Generator:
    """The random numbers of one step depend on (seed, rank, step) only: resuming reproduces them exactly."""
    return torch.Generator().manual_seed((seed * 1_000_003 + rank) * 1_000_000_007 + step)


@torch.no_grad()
def validation_psnr(denoiser: Denoiser, val: torch.Tensor, sigma: float) -> float:
    """Mean PSNR (dB) of one denoiser call on fixed noisy validation crops (B, C, H, W) in [0, 1]."""
    noise = torch.randn(val.shape, generator=torch.Generator().manual_seed(1234)).to(val.device)
    out = denoiser(val + sigma * noise, sigma).clamp(0, 1)
    mse = (out - val).pow(2).flatten(1).mean(1)
    return float((10 * torch.log10(1 / mse)).mean())


def train(config: TrainConfig, *, resume: bool = False, progress: bool = True) -> Path | None:
    """Train (or resume) a prior; returns the checkpoint path (None on ranks other than 0)."""
    rank, world = _init_distributed()
    device = resolve_device(config.device)
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    if config.threads:
        torch.set_num_threads(config.threads)
    run_dir = config.run_dir
    checkpoint_path = run_dir / CHECKPOINT
    if resume and not checkpoint_path.exists():
        raise InputError(f"{checkpoint_path}: nothing to resume; drop --resume to start a new run")
    if not resume and checkpoint_path.exists():
        raise InputError(f"{checkpoint_path}: a run of this name exists; pass --resume or choose another --name")

    # Data, held in memory
    state = torch.load(checkpoint_path, map_location="cpu", weights_only=True) if resume else None
    source = _load_checkpoint(config.init_from) if config.init_from and state is None else None
    images = load_training_images(config.data, channels=config.channels, kind=config.kind, crop=config.crop)
    if state is not None or source is not None:
        stats = (state or source)["stats"]
    else:
        stats = data_statistics(images, crop=config.crop, generator=torch.Generator().manual_seed(config.seed))
    val = random_patches(images, batch=8, crop=min(96, config.crop * 2, *_min_side(images)),
                         generator=torch.Generator().manual_seed(config.seed + 99)).to(device)
    val_sigma = 0.05 if config.kind == "ct" else 25 / 255

    # Model, EMA and optimiser
    torch.manual_seed(config.seed)  # the initial weights; every later random number comes from step_generator
    net = UNet(channels=config.channels, base=config.base, mults=tuple(config.mults), blocks=config.blocks,
               unshuffle=config.unshuffle)
    if source is not None:
        grow_into(net, source["ema"])
    net = net.to(device, memory_format=torch.channels_last)  # oneDNN's fast layout on CPU
    ema = copy.deepcopy(net).requires_grad_(False)
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.lr, betas=(0.9, 0.99), weight_decay=1e-4)
    step, elapsed, history = 0, 0.0, []
    if state is not None:
        net.load_state_dict(state["net"])
        ema.load_state_dict(state["ema"])
        optimiser.load_state_dict(state["optimizer"])
        step, elapsed, history = state["step"], state["elapsed_seconds"], state["history"]
    trained = net
    if world > 1:
        trained = torch.nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    precision = training_precision(device) if config.precision == "auto" else config.precision
    denoiser = Denoiser(trained, data_mean=stats["data_mean"], sigma_data=stats["sigma_data"],
                        sigma_min=config.sigma_min, sigma_max=stats["sigma_max"], precision=precision)
    ema_denoiser = Denoiser(ema, data_mean=stats["data_mean"], sigma_data=stats["sigma_data"],
                            sigma_min=config.sigma_min, sigma_max=stats["sigma_max"], precision=precision)

    def save() -> None:
        if rank != 0:
            return
        run_dir.mkdir(parents=True, exist_ok=True)
        payload = {"net": net.state_dict(), "ema": ema.state_dict(), "optimizer": optimiser.state_dict(),
                   "step": step, "elapsed_seconds": elapsed + time.monotonic() - started, "history": history,
                   "running_loss": running,
                   "stats": stats, "config": _plain(asdict(config)), "net_config": _plain(net.config),
                   "parameters": parameter_count(net), "device": device.type, "world_size": world,
                   "precision": precision}
        tmp = checkpoint_path.with_suffix(".tmp")
        torch.save(payload, tmp)
        os.replace(tmp, checkpoint_path)

    stop = {"now": False}

    def on_signal(signum, frame):  # noqa: ARG001 - finish the step, checkpoint, exit
        stop["now"] = True

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    if rank == 0:
        run_dir.mkdir(parents=True, exist_ok=True)
        _log(run_dir, {"event": "resume" if resume else "start", "step": step, "world_size": world,
                       "device": str(device), "precision": precision, "parameters": parameter_count(net), **stats})
    bar = Progress(config.steps, desc=config.name, enabled=progress and rank == 0, start=step, every=60)
    started = last_save = time.monotonic()
    running = state.get("running_loss") if state is not None else None  # the logged loss curve continues
    try:
        while step < config.steps and not stop["now"]:
            # One step of denoising score matching
            g = step_generator(config.seed, rank, step)
            x0 = random_patches(images, batch=config.batch, crop=config.crop, generator=g).to(device)
            sigma = sample_sigmas(config.batch, config, stats["sigma_max"], g).to(device)
            noise = torch.randn(x0.shape, generator=g).to(device)
            denoised = denoiser(x0 + sigma.reshape(-1, 1, 1, 1) * noise, sigma)
            weights = loss_weight(sigma, stats["sigma_data"]).reshape(-1, 1, 1, 1)
            loss = (weights * (denoised - x0) ** 2).mean()
            if not torch.isfinite(loss):
                raise RuntimeError(f"loss became {float(loss)} at step {step}; lower --lr and --resume")
            for group in optimiser.param_groups:
                group["lr"] = learning_rate(step, config)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimiser.step()

            # EMA of the weights (ramped up over the first steps)
            decay = min(config.ema, (1 + step) / (10 + step))
            with torch.no_grad():
                for p_ema, p in zip(ema.parameters(), net.parameters()):
                    p_ema.lerp_(p, 1 - decay)
            step += 1

            # Logging and checkpoints
            value = loss.item()
            running = value if running is None else 0.98 * running + 0.02 * value
            bar.update(1, loss=running)
            if rank == 0 and (step % 500 == 0 or step == config.steps):
                psnr = validation_psnr(ema_denoiser, val, val_sigma)
                history.append([step, running, psnr, elapsed + time.monotonic() - started])
                _log(run_dir, {"step": step, "loss": running, "val_psnr": psnr,
                               "hours": (elapsed + time.monotonic() - started) / 3600})
            due = time.monotonic() - last_save > 60 * config.checkpoint_minutes
            if due or (config.checkpoint_steps and step % config.checkpoint_steps == 0):
                save()
                last_save = time.monotonic()
    finally:
        save()
        bar.close()
        for s, handler in previous.items():
            signal.signal(s, handler)
        if world > 1:
            dist.destroy_process_group()
    return checkpoint_path if rank == 0 else None


def _init_distributed() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", 1))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), dist.get_world_size()) if world > 1 else (0, 1)


def _min_side(images: list[torch.Tensor]) -> list[int]:
    return [min(min(image.shape[-2:]) for image in images)]


def _log(run_dir: Path, record: dict) -> None:
    with open(run_dir / "log.jsonl", "a") as f:
        f.write(json.dumps({"time": time.time(), **record}) + "\n")


def _plain(value):
    """Tuples and paths as lists and strings, so the checkpoint loads with ``weights_only=True``."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
