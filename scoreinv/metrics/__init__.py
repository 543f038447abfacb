"""Image quality against the truth: PSNR and SSIM (distortion), LPIPS (perception)."""
from scoreinv.metrics.perceptual import lpips_distance, lpips_model
from scoreinv.metrics.quality import psnr, ssim

__all__ = ["lpips_distance", "lpips_model", "psnr", "ssim"]
