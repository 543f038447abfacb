"""Device selection shared by training, sampling and benchmarks."""
from __future__ import annotations

import torch

from scoreinv.errors import InputError


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


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` multiplies bfloat16 natively: a CUDA GPU with bf16 support, or a CPU with AVX-512 BF16 or
    AMX, where oneDNN runs bf16 convolutions faster than float32; elsewhere bf16 is emulated and much slower (see
    docs/performance.md)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    try:  # private helpers of torch.cpu; a torch without them gets the safe answer
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:
        return False


def inference_precision(device: torch.device) -> str:
    """The network arithmetic ``load_prior`` uses by default: fp16 on CUDA, bf16 on a CPU that has it natively
    (:func:`native_bf16`), float32 on other CPUs."""
    return "fp16" if device.type == "cuda" else training_precision(device)


def training_precision(device: torch.device) -> str:
    """The autocast dtype ``scoreinv train`` uses by default: bf16 where the device has it natively, else fp32."""
    return "bf16" if native_bf16(device) else "fp32"
