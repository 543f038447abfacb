"""The denoising figures of a prior as they go on its model card and in ``scoreinv bench denoise``."""
from __future__ import annotations

from scoreinv.baselines.blockmatching import available, note_if_missing
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
                      baseline: bool = True, bm3d: bool = False, progress: bool = True) -> tuple[dict, str]:
    """Run the denoising benchmark; return the card's summary and the command that reproduces it.

    Args:
        denoiser: the prior; prior_name: its name or path, for the command.
        dataset: a test set's name or a folder; sigmas: noise levels in [0, 1] units; limit: the first N images.
        baseline: also the Gaussian filter (its width chosen on training images).
        bm3d: also BM3D on the same noise draws (skipped with a printed note when the package is missing).
        progress: show a progress bar.
    """
    kind = "ct" if dataset == "ct-test" else "natural"
    images = load_images(dataset, channels=denoiser.channels, limit=limit)
    train = None
    if baseline:
        folder = require_shared(BASELINE_TRAINING[kind])
        train = [x.float() for x in load_training_images([folder], channels=denoiser.channels, kind=kind, crop=64)[:8]]
        train = [x / 255 if kind == "natural" else x for x in train]
    if bm3d and not available():
        note_if_missing()
        bm3d = False
    result = denoise_benchmark(denoiser, images, sigmas=sigmas, train_images=train, bm3d=bm3d, progress=progress)
    summary = {"dataset": dataset, "images": len(images),
               "psnr": {sigma_label(s, kind): round(v, 3) for s, v in result["prior"].items()},
               "gaussian_filter_psnr": {sigma_label(s, kind): round(v, 3) for s, v in result["gaussian_filter"].items()},
               "precision": denoiser.precision}
    if bm3d:
        summary["bm3d_psnr"] = {sigma_label(s, kind): round(v, 3) for s, v in result["bm3d"].items()}
    labels = ",".join(sigma_label(s, kind) for s in sigmas)
    command = (f"scoreinv bench denoise --prior {prior_name} --data {dataset} --sigmas {labels}"
               + (f" --limit {limit}" if limit else "") + (" --bm3d" if bm3d else ""))
    return summary, command


def denoise_table(summary: dict) -> str:
    """The summary of :func:`measure_denoising` as a Markdown table: one row per σ, PSNR in dB of the prior, the
    Gaussian filter and (when it ran) BM3D, and the prior's lead over BM3D in dB (same images and noise draws)."""
    bm3d = summary.get("bm3d_psnr")
    head = "| sigma | prior PSNR (dB) | Gaussian filter PSNR (dB) |"
    head += " BM3D PSNR (dB) | prior − BM3D (dB) |" if bm3d else ""
    lines = [head, "|" + " --- |" * head.count(" |")]
    for label, value in summary["psnr"].items():
        line = f"| {label} | {value:.2f} | {summary['gaussian_filter_psnr'].get(label, float('nan')):.2f} |"
        if bm3d:
            line += f" {bm3d[label]:.2f} | {value - bm3d[label]:+.2f} |"
        lines.append(line)
    return "\n".join(lines)
