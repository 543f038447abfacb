"""The FLOP count of bench speed's GFLOP/s column is the work of the call: 2 · Cin · Cout · k² · H · W for one
convolution, affine in H · W for a U-Net (the noise embedding's matrix products do not grow with the image)."""
from __future__ import annotations

import math

import torch
from torch import nn

from scoreinv.bench.flops import call_flops, matmul_gflops, precision_dtype
from scoreinv.priors.registry import load_prior


class OneConv(nn.Module):
    def __init__(self, c_in: int, c_out: int, k: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, k, padding=k // 2)

    def forward(self, x, sigma):
        return self.conv(x)


def test_one_convolution_is_two_flops_a_multiply_add():
    for c_in, c_out, k, shape in [(1, 4, 3, (1, 1, 20, 30)), (3, 5, 5, (2, 3, 17, 9)), (2, 2, 1, (1, 2, 8, 8))]:
        batch, _, height, width = shape
        assert call_flops(OneConv(c_in, c_out, k), shape) == 2 * batch * c_in * c_out * k ** 2 * height * width


def test_a_unet_call_is_affine_in_the_pixels(tiny_prior):
    denoiser = load_prior(str(tiny_prior), device="cpu")
    small, wide, large = (call_flops(denoiser, (1, 1, h, w)) for h, w in [(32, 32), (32, 64), (64, 64)])
    assert large - wide == 2 * (wide - small) > 0  # 1024, 2048 and 4096 pixels: the convolutions double ...
    linear = sum(2 * m.in_features * m.out_features for m in denoiser.modules() if isinstance(m, nn.Linear))
    assert small - (wide - small) == linear  # ... the embedding's matrix products do not
    assert call_flops(denoiser, (3, 1, 32, 32)) == 3 * small  # and everything grows with the batch


def test_the_reference_rate_is_finite():
    assert precision_dtype("bf16") == torch.bfloat16 and precision_dtype(None) == torch.float32
    rate = matmul_gflops(n=64, repeats=2)
    assert math.isfinite(rate) and rate > 0
