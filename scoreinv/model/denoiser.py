"""The one model contract: a denoiser ``D(x, sigma)``; the score is ``(D(x, sigma) - x) / sigma**2``."""
from __future__ import annotations

import contextlib

import torch
from torch import nn

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class Denoiser(nn.Module):
    """EDM preconditioning (Karras et al. 2022, Table 1) around a noise-conditional network F.

    ``D(x, σ) = μ + c_skip(σ) (x − μ) + c_out(σ) F(c_in(σ) (x − μ), c_noise(σ))`` with
    c_skip = σ_d² / (σ² + σ_d²), c_out = σ σ_d / √(σ² + σ_d²), c_in = 1 / √(σ² + σ_d²), c_noise = ln(σ) / 4,
    where μ and σ_d are the mean and standard deviation of the training pixels. D(x, σ) estimates E[x₀ | x]
    for x = x₀ + σ n, so by Tweedie's formula ∇ₓ log p_σ(x) = (D(x, σ) − x) / σ².

    Args:
        net: a module ``F(x, c_noise)`` mapping (B, C, H, W) and (B,) to (B, C, H, W).
        data_mean: μ, mean training pixel value in [0, 1].
        sigma_data: σ_d, standard deviation of training pixels in [0, 1] units.
        sigma_min: smallest noise level the prior was trained on ([0, 1] units).
        sigma_max: largest noise level the prior was trained on ([0, 1] units).
        precision: "fp32", or "bf16" / "fp16" to run F under autocast (the preconditioning stays float32).
        dihedral: True when F was trained on randomly flipped and 90°-rotated patches (every scoreinv prior is), so
            that samplers may cycle it through those transforms (:class:`DihedralCycle`).
    """

    def __init__(self, net: nn.Module, *, data_mean: float = 0.5, sigma_data: float = 0.25,
                 sigma_min: float = 0.002, sigma_max: float = 20.0, precision: str = "fp32", dihedral: bool = False):
        super().__init__()
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
        self.net = net
        self.data_mean = float(data_mean)
        self.sigma_data = float(sigma_data)
        self.sigma_min = float(sigma_min)
        self.sigma_max = float(sigma_max)
        self.precision = precision
        self.dihedral = bool(dihedral)
        self.channels = getattr(net, "config", {}).get("channels")

    def forward(self, x: torch.Tensor, sigma) -> torch.Tensor:
        """Denoise ``x`` (B, C, H, W) at noise level ``sigma`` (a float or a (B,) tensor, [0, 1] units)."""
        sigma = as_sigma(sigma, x)
        s = sigma.reshape(-1, 1, 1, 1)
        sd2 = self.sigma_data ** 2
        c_skip = sd2 / (s ** 2 + sd2)
        c_out = s * self.sigma_data / (s ** 2 + sd2).sqrt()
        c_in = 1.0 / (s ** 2 + sd2).sqrt()
        c_noise = sigma.log() / 4
        centred = x - self.data_mean
        net_dtype = next(self.net.parameters()).dtype
        with self._autocast(x.device):
            out = self.net((c_in * centred).to(net_dtype), c_noise.to(net_dtype))
        return self.data_mean + c_skip * centred + c_out * out.to(x.dtype).contiguous()

    def score(self, x: torch.Tensor, sigma) -> torch.Tensor:
        """∇ₓ log p_σ(x) = (D(x, σ) − x) / σ², shape of ``x``."""
        s = as_sigma(sigma, x).reshape(-1, 1, 1, 1)
        return (self(x, sigma) - x) / s ** 2

    def _autocast(self, device: torch.device):
        dtype = PRECISIONS[self.precision]
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=dtype)


def as_sigma(sigma, x: torch.Tensor) -> torch.Tensor:
    """σ as a (B,) tensor on the device and dtype of ``x`` (B, C, H, W), from a float, 0-d or (B,) tensor."""
    sigma = torch.as_tensor(sigma, device=x.device, dtype=x.dtype)
    if sigma.ndim == 0:
        sigma = sigma.expand(x.shape[0])
    if sigma.shape != (x.shape[0],):
        raise ValueError(f"sigma must be a float or a tensor of shape ({x.shape[0]},), got {tuple(sigma.shape)}")
    return sigma
