"""Floating-point work of one network call, and a matrix product's rate as the machine's reference throughput."""
from __future__ import annotations

import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

CALL_SIGMA = 0.1  # σ of the counted call (the work does not depend on it)


def call_flops(denoiser, shape: tuple, *, device=None) -> int:
    """FLOPs of one call ``D(x, σ)`` counted by ``torch.utils.flop_counter.FlopCounterMode``: convolutions and
    matrix products at 2 FLOPs a multiply-add (normalisations, activations and resampling are not counted).

    Args:
        denoiser: the prior, D(x, σ) on (B, C, H, W) images.
        shape: input shape (B, C, H, W) in pixels.
        device: where to run the counted call (default: the denoiser's device, else the CPU).
    """
    if device is None:
        parameter = next(iter(denoiser.parameters()), None) if hasattr(denoiser, "parameters") else None
        device = parameter.device if parameter is not None else "cpu"
    x = torch.rand(shape, generator=torch.Generator().manual_seed(0)).to(device)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        denoiser(x, CALL_SIGMA)
    return int(counter.get_total_flops())


def matmul_gflops(*, n: int = 1024, dtype: torch.dtype = torch.float32, repeats: int = 5, device="cpu") -> float:
    """Achieved GFLOP/s of an n × n by n × n matrix product (2 n³ FLOPs), the median of ``repeats`` after a
    warm-up: a reference for what the machine's threads reach in ``dtype``.

    Args:
        n: side of the square matrices.
        dtype: their element type (e.g. torch.bfloat16 where the prior runs in bf16).
        repeats: timed products.
        device: where to multiply.
    """
    generator = torch.Generator().manual_seed(0)
    a, b = (torch.randn(n, n, generator=generator).to(device=device, dtype=dtype) for _ in range(2))
    times = []
    for i in range(repeats + 1):
        _synchronize(device)
        started = time.perf_counter()
        torch.mm(a, b)
        _synchronize(device)
        if i:
            times.append(time.perf_counter() - started)
    return 2 * n ** 3 / statistics.median(times) / 1e9


def precision_dtype(precision: str | None) -> torch.dtype:
    """The element type a prior's network multiplies in for its ``precision`` ("fp32", "bf16", "fp16" or None)."""
    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision or "fp32", torch.float32)


def _synchronize(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)
