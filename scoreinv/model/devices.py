"""Device selection shared by training, sampling and benchmarks."""
from __future__ import annotations

import os

import torch

from scoreinv.errors import InputError


def resolve_device(device) -> torch.device:
    """"auto"/None → CUDA if available else CPU; otherwise the named device if this torch and machine have it, with
    a one-line InputError listing what is available (``meta``, ``mps`` without Metal, ``cuda`` without CUDA, …).

    Args:
        device: "auto", None, "cpu", "cuda", "cuda:N", "mps", or a torch.device.
    """
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise InputError(f"unknown device {device!r}; available here: {', '.join(available_devices())}") from None
    if resolved.type == "cpu" and resolved.index in (None, 0):
        return torch.device("cpu")
    if resolved.type == "cuda" and torch.cuda.is_available():
        if resolved.index is None or resolved.index < torch.cuda.device_count():
            return resolved
    if resolved.type == "mps" and _has_mps() and resolved.index in (None, 0):
        return resolved
    raise InputError(f"device {str(device)!r} is not available here (this torch and machine have: "
                     f"{', '.join(available_devices())})")


def available_devices() -> list[str]:
    """The device names :func:`resolve_device` accepts on this machine."""
    names = ["auto", "cpu"]
    if torch.cuda.is_available():
        names += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if _has_mps():
        names.append("mps")
    return names


def _has_mps() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` multiplies bfloat16 natively: a CUDA GPU with bf16 support, or a CPU with AVX-512 BF16 or
    AMX, where oneDNN runs bf16 convolutions faster than float32; elsewhere bf16 is emulated and much slower (see
    docs/performance.md)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    try:  # private helpers of torch.cpu; a torch without them gets the safe answer
        return _isa_allows_bf16() and bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:
        return False


ONEDNN_BF16_ISAS = frozenset({"AVX512_CORE_BF16", "AVX512_CORE_FP16", "AVX512_CORE_AMX", "AVX512_CORE_AMX_FP16",
                              "AVX10_1_512", "AVX10_1_512_AMX", "AVX10_1_512_AMX_FP16", "AVX10_2_512",
                              "AVX10_2_512_AMX_2", "DEFAULT", "ALL"})
"""Values of ``ONEDNN_MAX_CPU_ISA`` (or ``DNNL_MAX_CPU_ISA``) that still let oneDNN use bf16 dot products."""


def _isa_allows_bf16() -> bool:
    """Whether the instruction sets torch and oneDNN were told to use (``ATEN_CPU_CAPABILITY``,
    ``ONEDNN_MAX_CPU_ISA``) include AVX-512: capped at AVX2, bf16 runs emulated even on a CPU that has it."""
    if "AVX512" not in torch.backends.cpu.get_cpu_capability():
        return False
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA")
    return cap is None or cap.strip().upper() in ONEDNN_BF16_ISAS


def inference_precision(device: torch.device) -> str:
    """The network arithmetic ``load_prior`` uses by default: fp16 on CUDA, bf16 on a CPU that has it natively
    (:func:`native_bf16`), float32 on other CPUs."""
    return "fp16" if device.type == "cuda" else training_precision(device)


def training_precision(device: torch.device) -> str:
    """The autocast dtype ``scoreinv train`` uses by default: bf16 where the device has it natively, else fp32."""
    return "bf16" if native_bf16(device) else "fp32"
