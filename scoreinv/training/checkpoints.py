"""Training checkpoints: where a run keeps one, loading it, and growing a trained network into a deeper one."""
from __future__ import annotations

from pathlib import Path

import torch

from scoreinv.errors import InputError
from scoreinv.model.network import ResBlock, UNet

CHECKPOINT = "checkpoint.pt"


def grow_into(net: UNet, weights: dict) -> None:
    """Load a trained network's ``weights`` into ``net``, which may have more residual blocks a level.

    Blocks ``net`` has and ``weights`` lacks keep their initialisation: their last convolution is zero, so with equal
    widths they are the identity and the grown network computes exactly what the trained one did (function-preserving
    growth, as in Net2Net, Chen et al. 2016). Anything else that does not match is an error.
    """
    own = net.state_dict()
    unknown = sorted(k for k in weights if k not in own or own[k].shape != weights[k].shape)
    if unknown:
        raise InputError(f"--init-from: the trained network does not fit this one ({unknown[0]}); "
                         "use the same --base, --mults and --channels")
    blocks = {k.rsplit(".", 2)[0] for k in own if k not in weights}
    for prefix in blocks:
        block = net.get_submodule(prefix)
        if not isinstance(block, ResBlock) or not isinstance(block.skip, torch.nn.Identity):
            raise InputError(f"--init-from: {prefix} is new but is not an identity residual block")
    net.load_state_dict({**own, **weights})


def checkpoint_file(path: str) -> Path:
    """A run's checkpoint: ``path`` itself, or ``path/checkpoint.pt`` when ``path`` is a run folder."""
    path = Path(path)
    return path / CHECKPOINT if path.is_dir() else path


def _load_checkpoint(path: str) -> dict:
    """What ``--init-from`` starts from: a run's checkpoint, or an exported prior (NAME.pt, e.g. a shipped one, so
    that a later session can continue a prior whose run folder is gone); its EMA weights and data statistics."""
    checkpoint = checkpoint_file(path)
    if not checkpoint.exists():
        raise InputError(f"{checkpoint}: no training checkpoint or exported prior to start from (--init-from)")
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    if "ema" not in state and "weights" in state:  # an exported prior: float16 EMA weights
        stats = {k: state["stats"][k] for k in ("data_mean", "sigma_data", "sigma_max")}
        return {"ema": {k: v.float() for k, v in state["weights"].items()}, "stats": stats}
    return state
