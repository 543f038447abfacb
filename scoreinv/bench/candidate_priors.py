"""Faster variants of a loaded prior for :mod:`scoreinv.bench.candidates`: other precisions and memory layouts,
``torch.compile``, int8 quantisation (dynamic on the Linear layers, static FX graph mode on the convolutions), and
the FLOPs of pixel-unshuffle-stem designs (``UNet(unshuffle=2)``).

Each variant is a new :class:`~scoreinv.model.denoiser.Denoiser` (same preconditioning, statistics, name and card)
around a changed copy of the network; the loaded prior is never modified.
"""
from __future__ import annotations

import copy
import time
import warnings

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from scoreinv.model.denoiser import Denoiser
from scoreinv.model.network import UNet

CALIBRATION_SIGMAS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)  # [0, 1] units: the pnp rows' σ range and above


def variant(base: Denoiser, net: nn.Module | None = None, *, precision: str | None = None) -> Denoiser:
    """A :class:`Denoiser` like ``base`` (statistics, self-ensemble flag, name and card) around ``net``.

    Args:
        base: the loaded prior.
        net: the network F(x, c_noise) on (B, C, H, W) and (B,); None keeps ``base.net`` (shared, not copied).
        precision: "fp32", "bf16" or "fp16" autocast of the network; None keeps ``base.precision``.
    """
    made = Denoiser(base.net if net is None else net, data_mean=base.data_mean, sigma_data=base.sigma_data,
                    sigma_min=base.sigma_min, sigma_max=base.sigma_max, precision=precision or base.precision,
                    dihedral=base.dihedral)
    made.channels = base.channels
    made.card, made.name = getattr(base, "card", {}), getattr(base, "name", "prior")
    return made.eval()


class NetWrapper(nn.Module):
    """A network F(x, c_noise) that calls ``inner`` on a changed input; ``net`` holds the original weights (so the
    denoiser finds their dtype) and ``factor`` is the original down-sampling factor.

    Args:
        net: the original network (its parameters stay registered here).
        inner: the callable run instead, e.g. ``torch.compile(net)``; None runs ``net``.
        layout: memory format the input is moved to first (torch.contiguous_format or torch.channels_last).
    """

    def __init__(self, net: nn.Module, inner=None, *, layout=torch.contiguous_format):
        super().__init__()
        self.net, self.layout, self.factor = net, layout, getattr(net, "factor", 1)
        self.config = getattr(net, "config", {})
        self.__dict__["inner"] = inner if inner is not None else net  # not a submodule: no second parameter set

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        return self.inner(x.contiguous(memory_format=self.layout), c_noise)


def fp32(base: Denoiser) -> Denoiser:
    """``base`` with its network in float32 (no autocast)."""
    return variant(base, precision="fp32")


def bf16_autocast(base: Denoiser) -> Denoiser:
    """``base`` with its network under bfloat16 autocast (convolutions and matrix products in bf16)."""
    return variant(base, precision="bf16")


def bf16_weights(base: Denoiser) -> Denoiser:
    """``base`` with a bfloat16 copy of its network run without autocast: every layer, GroupNorm and SiLU
    included, in bf16 (half the memory traffic of the element-wise layers)."""
    return variant(base, copy.deepcopy(base.net).to(torch.bfloat16), precision="fp32")


def layout(base: Denoiser, memory_format) -> Denoiser:
    """``base`` with its weights and its input in ``memory_format`` (torch.channels_last or
    torch.contiguous_format; the shipped priors load with channels-last weights and take contiguous input)."""
    net = copy.deepcopy(base.net).to(memory_format=memory_format)
    return variant(base, NetWrapper(net, layout=memory_format))


def compiled(base: Denoiser, shape: tuple, *, freezing: bool = False) -> tuple[Denoiser, float]:
    """``base`` with ``torch.compile`` (inductor) of its network, compiled by one call on ``shape``; returns the
    denoiser and the seconds of that first call (tracing and code generation included).

    Args:
        base: the loaded prior.
        shape: (B, C, H, W) of the images the reconstruction will pass (inputs are made contiguous, so the
            self-ensemble's rotations of a square image reuse the one graph).
        freezing: inductor's ``freezing`` (weights as constants, oneDNN weight prepacking), for inference.
    """
    net = copy.deepcopy(base.net)
    # each options dict is its own backend, so a second compile does not reuse the first one's graph
    inner = torch.compile(net, backend="inductor", dynamic=False, options={"freezing": bool(freezing)})
    made = variant(base, NetWrapper(net, inner))
    started = time.perf_counter()
    with torch.no_grad():
        made(torch.rand(shape), 0.1)
    return made, time.perf_counter() - started


def dynamic_int8(base: Denoiser) -> Denoiser:
    """``base`` with ``torch.ao.quantization.quantize_dynamic`` of its Linear layers (noise embedding and FiLM) to
    int8; the convolutions stay as they are."""
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = quantize_dynamic(copy.deepcopy(base.net).float(), {nn.Linear}, dtype=torch.qint8)
    return variant(base, net)


class UNetBody(nn.Module):
    """The shipped U-Net's forward without its padding and cropping (which FX cannot trace): H and W must be
    multiples of ``net.factor``.

    Args:
        net: a :class:`~scoreinv.model.network.UNet` (its modules are used, not copied).
    """

    def __init__(self, net: UNet):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        return self.net.body(x, c_noise)


class Padded(nn.Module):
    """F(x, c_noise) of a traced :class:`UNetBody`: pads H and W to multiples of ``factor`` (reflect) and crops
    back, as the U-Net's own forward does (the body's float Linear layers give the denoiser its input dtype).

    Args:
        body: the traced (e.g. quantised) body.
        factor: its down-sampling factor.
    """

    def __init__(self, body: nn.Module, factor: int):
        super().__init__()
        self.body, self.factor = body, factor

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        pad_h, pad_w = -height % self.factor, -width % self.factor
        if pad_h or pad_w:
            mode = "reflect" if pad_h < height and pad_w < width else "replicate"
            x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        return self.body(x.contiguous(), c_noise)[..., :height, :width]


def static_int8(base: Denoiser, crops: torch.Tensor, *, sigmas=CALIBRATION_SIGMAS, seed: int = 0) -> Denoiser:
    """``base`` with its convolutions quantised to int8 by FX graph mode (``prepare_fx`` / ``convert_fx``, the x86
    backend's default qconfig: per-channel symmetric weights, histogram-observed activations), calibrated by
    denoising ``crops`` + σ n at each σ; noise embedding, FiLM, GroupNorm, SiLU, additions and concatenations stay
    float32 (each convolution quantises its input and dequantises its output).

    Args:
        base: the loaded prior (its network a :class:`~scoreinv.model.network.UNet`).
        crops: clean calibration images (N, C, h, w) in [0, 1], h and w multiples of the network's factor.
        sigmas: noise levels of the calibration inputs ([0, 1] units).
        seed: seeds the calibration noise.
    """
    from torch.ao.quantization import QConfigMapping, get_default_qconfig
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    torch.backends.quantized.engine = "x86"
    net = copy.deepcopy(base.net).float().to(memory_format=torch.contiguous_format)
    mapping = QConfigMapping().set_object_type(nn.Conv2d, get_default_qconfig("x86"))
    example = (crops[:1], torch.full((1,), 0.1).log() / 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared = prepare_fx(UNetBody(net).eval(), mapping, example_inputs=example)
        observing = variant(base, Padded(prepared, net.factor), precision="fp32")
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for sigma in sigmas:
                noisy = crops + sigma * torch.randn(crops.shape, generator=generator)
                observing(noisy, sigma)
        quantised = convert_fx(prepared)
    return variant(base, Padded(quantised, net.factor), precision="fp32")


def flop_shares(denoiser, shape: tuple) -> dict:
    """FLOPs of one call ``D(x, σ)`` on ``shape`` by kind: {"conv": …, "linear": …, "total": …} (FlopCounterMode:
    convolutions and matrix products, 2 FLOPs a multiply-add).

    Args:
        denoiser: the prior.
        shape: (B, C, H, W).
    """
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        denoiser(torch.rand(shape), 0.1)
    counts = counter.get_flop_counts().get("Global", {})
    conv = sum(n for op, n in counts.items() if "convolution" in str(op))
    return {"conv": conv, "linear": counter.get_total_flops() - conv, "total": counter.get_total_flops()}


def unshuffle_flops(config: dict, shape: tuple) -> list[dict]:
    """GFLOP of one network call on ``shape`` for the shipped U-Net ``config`` and pixel-unshuffle variants of it
    (factor 2 at the same widths, at 1.5× and 2× the base width, and one level fewer), counted on the meta device.

    Args:
        config: the shipped network's ``UNet.config`` (channels, base, mults, blocks, emb_dim).
        shape: (B, C, H, W) of one call, H and W multiples of 2 × the U-Net's factor.
    """
    config = {**config, "mults": tuple(config["mults"])}
    channels, rest = config["channels"], {k: v for k, v in config.items() if k != "channels"}
    wider = {**rest, "base": int(rest["base"] * 1.5)}
    designs = [("shipped U-Net", UNet(**config)),
               ("unshuffle ×2, same widths", UNet(channels=channels, unshuffle=2, **rest)),
               ("unshuffle ×2, base ×1.5", UNet(channels=channels, unshuffle=2, **wider)),
               ("unshuffle ×2, base ×2", UNet(channels=channels, unshuffle=2, **{**rest, "base": 2 * rest["base"]})),
               ("unshuffle ×2, one level fewer", UNet(channels=channels, unshuffle=2, **{**rest,
                                                                                     "mults": rest["mults"][:-1]}))]
    rows = []
    for name, net in designs:
        net = net.to("meta")
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            net(torch.empty(shape, device="meta"), torch.zeros(shape[0], device="meta"))
        rows.append({"design": name, "params_m": sum(p.numel() for p in net.parameters()) / 1e6,
                     "gflop": counter.get_total_flops() / 1e9})
    return rows
