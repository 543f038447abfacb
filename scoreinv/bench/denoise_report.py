"""The denoising figures of a prior as they go on its model card and in ``scoreinv bench denoise``."""
from __future__ import annotations

from scoreinv.bench.denoise import denoise_benchmark
from scoreinv.io.datasets import load_images
from scoreinv.io.paths import require_shared
from scoreinv.training.patches import load_training_images

# (kind, channels) → (test set, noise levels in [0, 1] units)
DENOISE_SETS = {
    ("natural", 1): ("set12", [15 / 255, 25 / 255, 50 / 255]),
    ("natural", 3): ("cbsd68", [15 / 255, 25 / 255, 50 / 255]),
    ("ct", 1): ("ct-test", [0.05]),
}
BASELINE_TRAINING = {"natural": "data/bsds500/train", "ct": "data/ct/train"}


def sigma_label(sigma: float, kind: str) -> str:
    return f"{sigma:g}" if kind == "ct" else f"{round(sigma * 255)}/255"


def measure_denoising(denoiser, prior_name: str, *, dataset: str, sigmas: list[float], limit: int | None = None,
                      baseline: bool = True, progress: bool = True) -> tuple[dict, str]:
    """Run the denoising benchmark; return the card's summary and the command that reproduces it."""
    kind = "ct" if dataset == "ct-test" else "natural"
    images = load_images(dataset, channels=denoiser.channels, limit=limit)
    train = None
    if baseline:
        folder = require_shared(BASELINE_TRAINING[kind])
        train = [x.float() for x in load_training_images([folder], channels=denoiser.channels, kind=kind, crop=64)[:8]]
        train = [x / 255 if kind == "natural" else x for x in train]
    result = denoise_benchmark(denoiser, images, sigmas=sigmas, train_images=train, progress=progress)
    summary = {"dataset": dataset, "images": len(images),
               "psnr": {sigma_label(s, kind): round(v, 3) for s, v in result["prior"].items()},
               "gaussian_filter_psnr": {sigma_label(s, kind): round(v, 3) for s, v in result["gaussian_filter"].items()},
               "precision": denoiser.precision}
    labels = ",".join(sigma_label(s, kind) for s in sigmas)
    command = f"scoreinv bench denoise --prior {prior_name} --data {dataset} --sigmas {labels}"
    return summary, command
