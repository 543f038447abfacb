"""Shipped priors: export from a training checkpoint with a model card, list, and load by name.

A prior is three files in ``pretrained/``: ``NAME.pt`` (EMA weights in float16, loaded with
``torch.load(weights_only=True)``), ``NAME.json`` (the model card, including the weights' sha256, checked on
every load) and ``NAME.md`` (the same card for people).
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import torch

from .denoiser import Denoiser
from .imageio import InputError, atomic_path
from .network import UNet
from .patches import AUGMENTATION
from .paths import pretrained_dir
from .devices import inference_precision, resolve_device

DEFAULTS = {("natural", 1): "natural-gray", ("natural", 3): "natural-color", ("ct", 1): "ct"}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def list_priors(folder: Path | None = None) -> list[dict]:
    """The model cards of every prior in ``folder`` (default: the shipped ones), sorted by name."""
    folder = Path(folder) if folder else pretrained_dir()
    cards = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            cards.append(json.loads(path.read_text()))
        except json.JSONDecodeError:
            raise InputError(f"{path}: model card is not valid JSON") from None
    return cards


def load_card(name: str, folder: Path | None = None) -> tuple[dict, Path]:
    """The card of prior ``name`` (a shipped name, or a path to NAME.pt / NAME.json) and its weights path."""
    path = Path(name)
    if path.suffix in (".pt", ".json") and path.exists():
        card_path = path.with_suffix(".json")
    elif path.suffix in (".pt", ".json") or len(path.parts) > 1:
        raise InputError(f"{path}: no such prior file (a NAME.pt with its model card NAME.json beside it)")
    else:
        folder = Path(folder) if folder else pretrained_dir()
        card_path = folder / f"{name}.json"
        if not card_path.exists():
            known = ", ".join(card["name"] for card in list_priors(folder)) or "none"
            raise InputError(f"no prior named {name!r} (shipped: {known}); train one with 'scoreinv train'")
    if not card_path.exists():
        raise InputError(f"{card_path}: model card missing beside the weights")
    try:
        card = json.loads(card_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError(f"{card_path}: model card is not valid JSON") from None
    missing = {"name", "file", "sha256"} - set(card if isinstance(card, dict) else {})
    if missing:
        raise InputError(f"{card_path}: model card lacks {', '.join(sorted(missing))}")
    return card, card_path.parent / card["file"]


def load_prior(name: str = "natural-gray", *, device=None, precision: str | None = None) -> Denoiser:
    """Load a shipped prior as a :class:`Denoiser` (weights checked against the card's sha256).

    Args:
        name: "natural-gray", "natural-color", "ct", or a path to a NAME.pt with its NAME.json beside it.
        device: "cpu", "cuda", a torch.device, or None for CUDA when available.
        precision: "fp32", "bf16" or "fp16" network arithmetic; default
            :func:`scoreinv.devices.inference_precision`: fp16 on CUDA, bf16 on a CPU that has it natively (about 2x
            faster there, within 0.01 dB of fp32 on the denoising benchmark), fp32 on other CPUs.
    """
    card, weights = load_card(name)
    if not weights.exists():
        raise InputError(f"{weights}: weights file of prior {card['name']!r} is missing; reinstall scoreinv")
    if sha256(weights) != card["sha256"]:
        raise InputError(f"{weights}: sha256 does not match its model card (file damaged or replaced)")
    try:
        payload = torch.load(weights, map_location="cpu", weights_only=True)
        net = UNet(**{**payload["net_config"], "mults": tuple(payload["net_config"]["mults"])})
        net.load_state_dict({k: v.float() for k, v in payload["weights"].items()})
        stats = {key: float(payload["stats"][key]) for key in ("data_mean", "sigma_data", "sigma_min", "sigma_max")}
    except Exception as error:  # noqa: BLE001 - a truncated or foreign file becomes one line
        raise InputError(f"{weights}: cannot be read as a scoreinv prior ({type(error).__name__})") from None
    device = resolve_device(device)
    # channels-last: oneDNN's fast convolution layout (at 256², 2 threads: 0.11 -> 0.056 s a call under native bf16;
    # 0.41 -> 0.38 s in fp32 on an AVX2-only CPU, where contiguous bf16 took 99 s)
    net.requires_grad_(False).eval().to(memory_format=torch.channels_last)
    precision = precision or inference_precision(device)
    denoiser = Denoiser(net, data_mean=stats["data_mean"], sigma_data=stats["sigma_data"],
                        sigma_min=stats["sigma_min"], sigma_max=stats["sigma_max"], precision=precision,
                        dihedral=card.get("augmentation") == AUGMENTATION)
    denoiser.card = card
    denoiser.name = card["name"]
    return denoiser.to(device).eval()


def write_prior(path: Path, *, weights: dict, net_config: dict, stats: dict, card: dict) -> Path:
    """Write a prior: ``path`` (NAME.pt with float16 ``weights``), NAME.json (``card`` + name, file, sha256,
    bytes, parameters) and NAME.md.

    Args:
        path: destination NAME.pt.
        weights: the network's state dict.
        net_config: keyword arguments of :class:`scoreinv.network.UNet`.
        stats: data_mean, sigma_data, sigma_min, sigma_max ([0, 1] units).
        card: the model card's other fields (kind, channels, data, steps, ...).
    """
    path = Path(path)
    payload = {"weights": {k: v.half() for k, v in weights.items()}, "net_config": net_config, "stats": stats}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    card = {"name": path.stem, "file": path.name, "sha256": sha256(path), "bytes": path.stat().st_size,
            "parameters": sum(v.numel() for v in weights.values()), "net_config": net_config,
            "weights_dtype": "float16 (EMA weights)", "architecture": "noise-conditional U-Net, EDM preconditioning",
            "range": "images in [0, 1]; sigma in [0, 1] units", "sigma_min": stats["sigma_min"],
            "sigma_max": stats["sigma_max"], "data_mean": stats["data_mean"], "sigma_data": stats["sigma_data"],
            **card}
    with atomic_path(path.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps(card, indent=1) + "\n")
    with atomic_path(path.with_suffix(".md")) as tmp:
        tmp.write_text(card_markdown(card))
    return path


def export_prior(checkpoint: Path, name: str, *, out: Path | None = None, data_description: str) -> Path:
    """Write NAME.pt (float16 EMA weights), NAME.json and NAME.md from a training checkpoint.

    Args:
        checkpoint: a ``runs/RUN/checkpoint.pt`` written by :func:`scoreinv.train.train`.
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
        from . import ct_units

        card["ct_intensity"] = (f"x = (HU + 1000) / 3000 clipped to [0, 1] (linear in attenuation); "
                                f"working size {ct_units.WORKING_SIZE}x{ct_units.WORKING_SIZE}")
    return write_prior(out / f"{name}.pt", weights=state["ema"], net_config=state["net_config"],
                       stats={**stats, "sigma_min": config["sigma_min"]}, card=card)


def _source_description(init_from: str) -> str:
    """What a run started from (``scoreinv train --init-from``): the source run's steps, hours and blocks."""
    from .train import checkpoint_file

    path = checkpoint_file(init_from)
    if not path.is_file():
        return f"{init_from} (no longer on disk)"
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
    return "\n".join(lines) + "\n"
