"""Measurement operators for imaging inverse problems: inpainting masks, blur, downsampling and parallel-beam CT.

Every operator is a small ``torch.nn.Module`` acting on batches (B, C, H, W) in float32 or float64 on the
input's device, with ``A``, the exact transpose ``A_adjoint``, a pseudo-inverse ``A_dagger``, ``prox_l2``,
``norm``, composition with ``@`` and a noise model (``measure``). ``check(op, shape)`` runs the invariant kit.
This package depends on torch, kornia and numpy only (never on scoreinv).
"""
from .base import Composition, Identity, LinearOperator
from .iterative import conjugate_gradient, lanczos_top, power_iteration, spectral_norm
from .blur import Blur
from .check import CheckReport, check
from .ct import ParallelBeamCT
from .downsample import Downsample
from .kernels import default_shared_dir, gaussian_kernel, kernels12, levin_kernels, load_kernel, motion_kernel
from .mask import Mask
from .noise import GaussianNoise, NoiseModel, PoissonNoise

__all__ = [
    "LinearOperator", "Identity", "Composition", "Mask", "Blur", "Downsample", "ParallelBeamCT",
    "GaussianNoise", "PoissonNoise", "NoiseModel", "check", "CheckReport",
    "gaussian_kernel", "motion_kernel", "load_kernel", "levin_kernels", "kernels12", "default_shared_dir",
    "conjugate_gradient", "power_iteration", "lanczos_top", "spectral_norm",
]
