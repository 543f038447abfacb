"""Writing a prior: its weights, its model card (JSON and Markdown) and exporting a training run."""
from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from scoreinv.errors import InputError
from scoreinv.io.atomic import atomic_path
from scoreinv.io.paths import pretrained_dir
from scoreinv.priors.registry import sha256
from scoreinv.training.patches import AUGMENTATION


def write_prior(path: Path, *, weights: dict, net_config: dict, stats: dict, card: dict) -> Path:
    """Write a prior: ``path`` (NAME.pt with float16 ``weights``), NAME.json (``card`` + name, file, sha256,
    bytes, parameters) and NAME.md.

    Args:
        path: destination NAME.pt.
        weights: the network's state dict.
        net_config: keyword arguments of :class:`scoreinv.model.network.UNet`.
        stats: data_mean, sigma_data, sigma_min, sigma_max ([0, 1] units).
        card: the model card's other fields (kind, channels, data, steps, ...).
    """
    path = Path(path)
    payload = {"weights": {k: v.half() for k, v in weights.items()}, "net_config": net_config, "stats": stats}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    card = {"name": path.stem, "file": path.name, "sha256": sha256(path), "bytes": path.stat().st_size,
            "parameters": sum(v.numel() for v in weights.values()), "net_config": net_config,
            "weights_dtype": "float16 (EMA weights)", "architecture": architecture(net_config),
            "range": "images in [0, 1]; sigma in [0, 1] units", "sigma_min": stats["sigma_min"],
            "sigma_max": stats["sigma_max"], "data_mean": stats["data_mean"], "sigma_data": stats["sigma_data"],
            **card}
    with atomic_path(path.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps(card, indent=1) + "\n")
    with atomic_path(path.with_suffix(".md")) as tmp:
        tmp.write_text(card_markdown(card))
    return path


def architecture(net_config: dict) -> str:
    """The card's one-line description of the network ``net_config`` describes."""
    stem = net_config.get("unshuffle", 1)
    behind = f" behind a pixel-unshuffle ×{stem} stem" if stem != 1 else ""
    return f"noise-conditional U-Net{behind}, EDM preconditioning"


def export_prior(checkpoint: Path, name: str, *, out: Path | None = None, data_description: str) -> Path:
    """Write NAME.pt (float16 EMA weights), NAME.json and NAME.md from a training checkpoint.

    Args:
        checkpoint: a ``runs/RUN/checkpoint.pt`` written by :func:`scoreinv.training.loop.train`.
        name: the prior's name.
        out: destination folder (default ``pretrained/``).
        data_description: what the prior was trained on, for the card.
    """
    out = Path(out) if out else pretrained_dir()
    if not Path(checkpoint).is_file():
        raise InputError(f"{checkpoint}: no training checkpoint here; run 'scoreinv train' first")
    out.mkdir(parents=True, exist_ok=True)
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    config, stats, history = state["config"], state["stats"], state["history"]
    card = {
        "kind": config["kind"], "channels": config["channels"], "data": data_description,
        "crop": config["crop"], "batch": config["batch"], "world_size": state.get("world_size", 1),
        "steps": state["step"], "wall_clock_hours": round(state["elapsed_seconds"] / 3600, 2),
        "device": state["device"], "training_precision": state.get("precision", config["precision"]), "lr": config["lr"],
        "ema": config["ema"], "final_loss": history[-1][1] if history else None,
        "exported": time.strftime("%Y-%m-%d"), "augmentation": AUGMENTATION,
    }
    if config.get("init_from"):
        card["init_from"] = _source_description(config["init_from"])
    if config["kind"] == "ct":
        from scoreinv.problems import ct_units

        card["ct_intensity"] = (f"x = (HU + 1000) / 3000 clipped to [0, 1] (linear in attenuation); "
                                f"working size {ct_units.WORKING_SIZE}x{ct_units.WORKING_SIZE}")
    return write_prior(out / f"{name}.pt", weights=state["ema"], net_config=state["net_config"],
                       stats={**stats, "sigma_min": config["sigma_min"]}, card=card)


def _source_description(init_from: str) -> str:
    """What a run started from (``scoreinv train --init-from``): the source run's steps, hours and blocks."""
    from scoreinv.training.checkpoints import checkpoint_file

    path = checkpoint_file(init_from)
    if not path.is_file():
        return f"{init_from} (no longer on disk)"
    card_path = path.with_suffix(".json")
    if path.suffix == ".pt" and card_path.is_file() and path.name != "checkpoint.pt":  # an exported prior
        card = json.loads(card_path.read_text())
        return (f"exported prior {card.get('name', path.stem)}: step {card.get('steps')}, "
                f"{card.get('wall_clock_hours')} h of training before")
    source = torch.load(path, map_location="cpu", weights_only=True)
    return (f"{init_from}: step {source['step']}, {source['elapsed_seconds'] / 3600:.2f} h, "
            f"{source['config']['blocks']} residual block(s) a level")


def update_card(weights: Path, **fields) -> dict:
    """Add ``fields`` to the card beside ``weights`` (NAME.pt) and rewrite NAME.json and NAME.md."""
    card_path = Path(weights).with_suffix(".json")
    card = {**json.loads(card_path.read_text()), **fields}
    with atomic_path(card_path) as tmp:
        tmp.write_text(json.dumps(card, indent=1) + "\n")
    with atomic_path(card_path.with_suffix(".md")) as tmp:
        tmp.write_text(card_markdown(card))
    return card


def card_markdown(card: dict) -> str:
    lines = [f"# Prior `{card['name']}`", "",
             f"Noise-conditional score model (denoiser D(x, σ), score = (D(x, σ) − x) / σ²), trained by denoising "
             f"score matching on {card['data']}.", "", "| field | value |", "| --- | --- |"]
    for key in ("file", "sha256", "parameters", "channels", "crop", "batch", "steps", "wall_clock_hours", "device",
                "world_size", "training_precision", "weights_dtype", "sigma_min", "sigma_max", "data_mean",
                "sigma_data", "final_loss", "init_from", "range", "ct_intensity", "augmentation", "exported"):
        if key in card and card[key] is not None:
            lines.append(f"| {key} | {card[key]} |")
    denoise = card.get("denoising_psnr")
    if denoise:
        lines += ["", f"Denoising PSNR of one call D(y, σ) on {denoise['dataset']} (measured with "
                      f"`{card.get('measured_with', '')}`), beside a Gaussian filter whose width is chosen on "
                      "training images:", "", "| σ | PSNR (dB) | Gaussian filter PSNR (dB) |", "| --- | --- | --- |"]
        baseline = denoise.get("gaussian_filter_psnr", {})
        lines += [f"| {sigma} | {psnr:.2f} | {baseline[sigma]:.2f} |" if sigma in baseline else
                  f"| {sigma} | {psnr:.2f} | |" for sigma, psnr in denoise["psnr"].items()]
    return "\n".join(lines + _calibration_lines(card.get("calibration") or {})) + "\n"


def _calibration_lines(calibration: dict) -> list[str]:
    """The card's conformal calibrations (scoreinv.solve.calibration) as a table, one line a target and row."""
    if not calibration:
        return []
    lines = ["", "Interval calibration (split conformal, fitted with `scoreinv bench coverage --fit --write-card` on "
                 "validation images): q̂ is the half-width of the central interval in units of the uncalibrated "
                 "predictive std; reconstruct applies it to calls with exactly these settings.", "",
             "| target | row | levels | q̂ | settings | fitted on |", "| --- | --- | --- | --- | --- | --- |"]
    for target, rows in sorted(calibration.items()):
        for row, entry in sorted(rows.items()):
            settings = ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}"
                                 for k, v in entry["settings"].items())
            lines.append(f"| {target} | {row} | {', '.join(f'{level:g}' for level in entry['levels'])} | "
                         f"{', '.join(f'{q:.3f}' for q in entry['quantiles'])} | {settings} | {entry['fitted_on']} |")
    return lines
