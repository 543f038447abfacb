"""What ``scoreinv solve`` writes and prints: its metrics, its figure, its JSON record and its one-line summary."""
from __future__ import annotations

import json
import math
from pathlib import Path

import click

from scoreinv.errors import first_line


def queue_outputs(outputs, paths: dict, *, problem, result, restored, input_spec: str, simulate: bool,
                  bits: int = 8) -> dict:
    """Add every output of a solve to ``outputs`` (an :class:`~scoreinv.io.output_set.OutputSet`), the JSON record
    last; returns that record.

    Args:
        outputs: the planned output set.
        paths: {"output", "std", "figure", "json"} → Path or None.
        problem: the :class:`~scoreinv.problems.measured.Problem` solved.
        result: the :class:`~scoreinv.solve.reconstruct.Reconstruction`.
        restored: its mean (C, H, W) on the CPU.
        input_spec: INPUT as given.
        simulate: whether INPUT was a clean picture.
        bits: 8 or 16 a sample for the restored image and the std map (the figure is always 8-bit).
    """
    from scoreinv.io.figures import std_map
    from scoreinv.io.images import image_format, save_image

    def image(picture, target, depth=8):
        return lambda tmp: save_image(tmp, picture, format=image_format(target), bits=depth)

    metrics = _metrics(restored, problem.truth[0]) if problem.truth is not None else None
    outputs.add(paths["output"], image(restored, paths["output"], bits))
    std_white = None
    if paths["std"] and result.std is not None:
        std_image, std_white = std_map(result.std[0].cpu())
        outputs.add(paths["std"], image(std_image, paths["std"], bits))
    if paths["figure"]:
        if result.std is None:
            click.echo("note: the figure has no std panel (it needs --samples 2 or more)", err=True)
        outputs.add(paths["figure"], image(_figure(problem, restored, result.std), paths["figure"]))
    record = {"input": input_spec, "output": str(paths["output"]), "task": problem.task, "simulate": simulate,
              "measurement": problem.details, "settings": result.settings, "metrics": metrics, "nfe": result.nfe,
              "seconds": round(result.seconds, 3), "bits": bits,
              "std_map": str(paths["std"]) if paths["std"] else None, "std_map_white": std_white,
              "figure": str(paths["figure"]) if paths["figure"] else None,
              "notes": problem.notes}
    text = json.dumps(record, indent=1, allow_nan=False) + "\n"
    outputs.add(paths["json"], lambda tmp: Path(tmp).write_text(text))
    return record


def summary(metrics, result, paths: dict) -> str:
    """The line printed after a solve: metrics, NFE, seconds and the files written."""
    parts = []
    if metrics:
        parts.append(f"PSNR {metrics['psnr']:.2f} dB" if metrics["psnr"] is not None else "PSNR inf")
        for key, label in (("ssim", "SSIM"), ("lpips", "LPIPS")):
            parts.append(f"{label} {metrics[key]:.3f}" if metrics[key] is not None else f"{label} n/a")
    parts += [f"NFE {result.nfe}", f"{result.seconds:.1f} s"]
    written = [str(p) for p in (paths["output"], paths["std"], paths["figure"], paths["json"]) if p]
    return ", ".join(parts) + " | wrote " + ", ".join(written)


def _metrics(restored, truth) -> dict:
    """PSNR (dB), SSIM and LPIPS of the reconstruction against the truth, (C, H, W) in [0, 1]; LPIPS is None (with a
    warning) when it cannot be computed on this machine or image."""
    from scoreinv.metrics.perceptual import lpips_distance
    from scoreinv.metrics.quality import psnr, ssim

    figures = {"psnr": float(psnr(restored, truth))}
    try:
        figures["ssim"] = float(ssim(restored, truth))
    except (ValueError, RuntimeError) as error:
        figures["ssim"] = None
        click.echo(f"warning: SSIM not computed ({first_line(error)})", err=True)
    try:
        figures["lpips"] = float(lpips_distance(restored, truth))
    except Exception as error:  # noqa: BLE001 - missing weights, too small an image: report null, do not fail
        figures["lpips"] = None
        reason = "the image is smaller than 32x32" if min(truth.shape[-2:]) < 32 else first_line(error)
        click.echo(f"warning: LPIPS not computed ({reason})", err=True)
    return {k: (round(v, 4) if v is not None and math.isfinite(v) else None) for k, v in figures.items()}


def _figure(problem, restored, std):
    """measurement | reconstruction | std [| truth], labelled."""
    from scoreinv.io.figures import colour_map, side_by_side, sinogram_panel, std_map, upsample_nearest

    height, width = problem.image_shape[-2:]
    y = problem.y[0].cpu()
    if problem.family == "ct":
        measurement, label = sinogram_panel(y, height), "sinogram"
    else:
        measurement, label = upsample_nearest(y.clamp(0, 1), (height, width)), "measurement"
    panels, labels = [measurement, restored], [label, "reconstruction"]
    if std is not None:
        spread, white = std_map(std[0].cpu())
        panels.append(colour_map(spread[0]))
        labels.append(f"std (max {white:.3f})")
    if problem.truth is not None:
        panels.append(problem.truth[0].cpu())
        labels.append("truth")
    return side_by_side(panels, labels=labels)
