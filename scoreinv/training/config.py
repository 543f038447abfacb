"""A training run's configuration, and the one a resumed run continues with."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from scoreinv.errors import InputError
from scoreinv.sampling.schedules import SIGMA_MIN
from scoreinv.training.checkpoints import CHECKPOINT


@dataclass
class TrainConfig:
    """Every knob of a training run (stored in the checkpoint and the model card)."""

    data: list
    name: str
    channels: int = 1
    kind: str = "natural"          # "natural" or "ct"
    crop: int = 64                 # patch side, pixels
    batch: int = 16                # patches per step and process
    steps: int = 40000
    lr: float = 4e-4
    warmup: int = 1000             # linear warm-up steps, then cosine decay to 5 % at ``steps``
    ema: float = 0.999
    base: int = 32
    mults: tuple = (1, 2, 4, 8)
    blocks: int = 1
    unshuffle: int = 1             # pixel-unshuffle factor of the network's stem (1: none)
    precision: str = "auto"        # autocast dtype of the network: "bf16", "fp16", "fp32", or "auto" (bf16 where native)
    sigma_min: float = SIGMA_MIN
    p_mean: float = -1.9           # log-normal part of the σ distribution, ln([0, 1] units)
    p_std: float = 1.2
    uniform_fraction: float = 0.2  # share of σ drawn log-uniformly over [σ_min, σ_max]
    seed: int = 0
    out: str = "runs"
    checkpoint_minutes: float = 5.0
    checkpoint_steps: int = 0      # also checkpoint every N steps (0: off)
    device: str = "auto"
    threads: int = 0               # torch intra-op threads (0: torch's default)
    init_from: str = ""            # start from this run's checkpoint.pt (its EMA weights and data statistics)
    extra: dict = field(default_factory=dict)

    @property
    def run_dir(self) -> Path:
        return Path(self.out) / self.name


def resumed_config(out: str, name: str, *, steps: int | None = None) -> TrainConfig:
    """The configuration stored in run ``out/name``'s checkpoint (optionally with more ``steps``)."""
    path = Path(out) / name / CHECKPOINT
    if not path.exists():
        raise InputError(f"{path}: nothing to resume; drop --resume to start a new run")
    stored = torch.load(path, map_location="cpu", weights_only=True)["config"]
    config = TrainConfig(**{**stored, "mults": tuple(stored["mults"])})
    if steps is not None:
        config.steps = steps
    return config
