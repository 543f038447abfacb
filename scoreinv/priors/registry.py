"""The shipped priors: where they are, their cards, loading one, and the default for a kind of image."""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import torch

from scoreinv.errors import InputError
from scoreinv.io.json_files import read_json
from scoreinv.io.paths import pretrained_dir
from scoreinv.model.denoiser import Denoiser
from scoreinv.model.devices import inference_precision, resolve_device
from scoreinv.model.network import UNet
from scoreinv.training.patches import AUGMENTATION

DEFAULT_PRIORS = {("natural", 1): "natural-gray", ("natural", 3): "natural-color", ("ct", 1): "ct"}


def default_prior(family: str, channels: int) -> str:
    """The shipped prior for images of ``channels`` channels measured by an operator of ``family``: the CT prior
    for "ct", the grey or colour natural-image prior otherwise.

    Args:
        family: the operator's family ("inpaint", "deblur", "sr", "ct" or "other").
        channels: C of the images (1 or 3; 1 for CT).
    Raises:
        InputError: when no shipped prior models such images.
    """
    key = ("ct", 1) if family == "ct" else ("natural", channels)
    if key not in DEFAULT_PRIORS:
        kind = "CT" if family == "ct" else "natural"
        raise InputError(f"no shipped prior for {channels}-channel {kind} images; pass prior= (a Denoiser or a "
                         f"NAME.pt path)")
    return DEFAULT_PRIORS[key]


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
    card = read_json(card_path, what="model card")
    missing = {"name", "file", "sha256"} - set(card if isinstance(card, dict) else {})
    if missing:
        raise InputError(f"{card_path}: model card lacks {', '.join(sorted(missing))}")
    return card, card_path.parent / card["file"]


def prior_files(name) -> dict:
    """The files behind prior ``name`` (a shipped name or a NAME.pt / NAME.json path), which no output may replace:
    {path: what it is} for its model card, its Markdown card and its weights.

    Args:
        name: as :func:`load_prior` takes it.
    """
    card, weights = load_card(str(name))
    card_path = (Path(name).with_suffix(".json") if Path(name).suffix in (".pt", ".json")
                 else (pretrained_dir() / f"{name}.json"))
    label = card.get("name", str(name))
    files = {}
    for path in (card_path, weights.with_suffix(".json")):
        files[path] = f"the model card of prior {label}"
    for path in (card_path.with_suffix(".md"), weights.with_suffix(".md")):
        files[path] = f"the Markdown card of prior {label}"
    files[weights] = f"the weights of prior {label}"
    return files


def shipped_prior_files() -> dict:
    """{path: what it is} for the weights and cards of every shipped prior (the ``pretrained_dir`` folder), which no
    output may replace whichever prior a call runs."""
    files = {}
    for weights in sorted(pretrained_dir().glob("*.pt")):
        files[weights.with_suffix(".json")] = f"the model card of prior {weights.stem}"
        files[weights.with_suffix(".md")] = f"the Markdown card of prior {weights.stem}"
        files[weights] = f"the weights of prior {weights.stem}"
    return files


def load_prior(name: str = "natural-gray", *, device=None, precision: str | None = None) -> Denoiser:
    """Load a shipped prior as a :class:`Denoiser` (weights checked against the card's sha256).

    Args:
        name: "natural-gray", "natural-color", "ct", or a path to a NAME.pt with its NAME.json beside it.
        device: "cpu", "cuda", a torch.device, or None for CUDA when available.
        precision: "fp32", "bf16" or "fp16" network arithmetic; default
            :func:`scoreinv.model.devices.inference_precision`: fp16 on CUDA, bf16 on a CPU that has it natively, fp32 on other
            CPUs (docs/performance.md compares them).
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
        damaged = [key for key, value in payload["weights"].items()
                   if value.is_floating_point() and not bool(torch.isfinite(value).all())]
    except Exception as error:  # noqa: BLE001 - a truncated or foreign file becomes one line
        raise InputError(f"{weights}: cannot be read as a scoreinv prior ({type(error).__name__})") from None
    if damaged:
        raise InputError(f"{weights}: {len(damaged)} weight tensor(s) hold NaN or infinite values (first: "
                         f"{damaged[0]}); the prior is damaged: export it again from its checkpoint or reinstall it")
    if not (all(math.isfinite(v) for v in stats.values()) and 0 < stats["sigma_min"] < stats["sigma_max"]
            and stats["sigma_data"] > 0):
        shown = ", ".join(f"{key} {value:g}" for key, value in stats.items())
        raise InputError(f"{weights}: its noise statistics are not usable ({shown}); the prior is damaged")
    device = resolve_device(device)
    # channels-last: oneDNN's fast convolution layout on CPU
    net.requires_grad_(False).eval().to(memory_format=torch.channels_last)
    precision = precision or inference_precision(device)
    denoiser = Denoiser(net, data_mean=stats["data_mean"], sigma_data=stats["sigma_data"],
                        sigma_min=stats["sigma_min"], sigma_max=stats["sigma_max"], precision=precision,
                        dihedral=card.get("augmentation") == AUGMENTATION)
    denoiser.card = card
    denoiser.name = card["name"]
    denoiser = denoiser.to(device).eval()
    _check_first_call(denoiser, weights)
    return denoiser


def _check_first_call(denoiser: Denoiser, weights: Path) -> None:
    """One-line InputError unless D(x, σ) is finite on a small picture at σ_min, σ_data and σ_max."""
    side = max(8, 2 * denoiser.net.factor)
    channels = denoiser.channels or 1
    ramp = torch.linspace(0, 1, channels * side * side, device=next(denoiser.parameters()).device)
    x = ramp.reshape(1, channels, side, side)
    with torch.no_grad():
        for sigma in (denoiser.sigma_min, denoiser.sigma_data, denoiser.sigma_max):
            if not bool(torch.isfinite(denoiser(x, sigma)).all()):
                raise InputError(f"{weights}: the prior's first call D(x, sigma={sigma:g}) returned NaN or infinite "
                                 f"values (precision {denoiser.precision}); the prior is damaged or this precision "
                                 "overflows: try precision fp32, export it again or reinstall it")


def resolve_prior(prior, *, family: str, channels: int, device):
    """The prior of a reconstruction on ``device``: a shipped prior's name or NAME.pt path, a denoiser that meets
    :class:`~scoreinv.model.contract.Prior`, or None for :func:`default_prior`; one-line error on a mismatch.

    Args:
        prior: a name, a path, a denoiser module or None.
        family: the operator's family (for the default).
        channels: C of the images to be reconstructed.
        device: a torch device.
    """
    from scoreinv.model.contract import missing_attributes

    if prior is None:
        prior = default_prior(family, channels)
    if isinstance(prior, (str, Path)):
        prior = load_prior(str(prior), device=device)
    if any(cls.__module__.startswith("deepinv.") and cls.__name__ == "Denoiser" for cls in type(prior).__mro__):
        from scoreinv.interop.deepinv import from_deepinv_denoiser  # a deepinv.models.Denoiser, its defaults

        prior = from_deepinv_denoiser(prior)
    missing = missing_attributes(prior)
    if missing:
        raise TypeError(f"prior {type(prior).__name__} lacks {', '.join(missing)} (see scoreinv.model.contract.Prior)")
    prior = prior.to(device)
    if prior.channels not in (None, channels):
        raise InputError(f"prior {getattr(prior, 'name', '')!r} models {prior.channels}-channel images but the "
                         f"operator's images have {channels}")
    return prior
