"""Device selection shared by training, sampling and benchmarks."""
from __future__ import annotations

import torch

from .imageio import InputError


def resolve_device(device: str | None) -> torch.device:
    """"auto"/None → CUDA if available else CPU; otherwise the named device, with a clear error if absent."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except RuntimeError:
        raise InputError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda was asked for but no CUDA device is available; use --device cpu")
    return device
