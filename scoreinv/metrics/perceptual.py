"""LPIPS (Zhang et al. 2018, AlexNet v0.1) on [0, 1] images, with the backbone read from the shared folder."""
from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import torch

from scoreinv.errors import InputError
from scoreinv.io.paths import shared_dir
from scoreinv.metrics.quality import _batched

LPIPS_WEIGHTS_FILE = "weights/lpips_alexnet_features.pth"  # below the shared folder
LPIPS_WEIGHTS_SHA256 = "efe272311be54dcd133e061930526afaf1ab0917539f85e1c28170446b3558b3"
LPIPS_WEIGHTS_ENV = "SCOREINV_LPIPS_WEIGHTS"
_LPIPS_CACHE: dict[tuple[str, str], torch.nn.Module] = {}


def lpips_distance(x: torch.Tensor, ref: torch.Tensor, *, weights=None) -> torch.Tensor:
    """LPIPS perceptual distance of Zhang et al. 2018 (AlexNet trunk, linear layers v0.1); lower is more similar.

    Grey images are repeated to 3 channels and [0, 1] is mapped to the [-1, 1] that LPIPS expects; the model runs
    on ``x``'s device and is cached per device and weights file.

    Args:
        x, ref: (C, H, W) or (B, C, H, W) in [0, 1], same shape; C is 1 or 3; H, W ≥ 16.
        weights: the AlexNet ``features`` weights file (default: env var SCOREINV_LPIPS_WEIGHTS, else
            ../shared/weights/lpips_alexnet_features.pth; its sha256 is checked). When no such file exists the
            lpips package's own download is tried.
    """
    x4, ref4, single = _batched(x, ref)
    if x4.shape[1] not in (1, 3):
        raise InputError(f"LPIPS needs 1 or 3 channels, got {x4.shape[1]}")
    model = lpips_model(x4.device, weights=weights)
    with torch.no_grad():
        value = model(_to_lpips_input(x4), _to_lpips_input(ref4)).flatten().double().cpu()
    return value[0] if single else value


def lpips_model(device="cpu", *, weights=None) -> torch.nn.Module:
    """The LPIPS(alex, v0.1) network of Zhang et al. 2018 on ``device`` in eval mode, built once per device.

    Args:
        device: torch device (or its name).
        weights: AlexNet ``features`` weights file; None means env var SCOREINV_LPIPS_WEIGHTS, else the shared file.
    """
    path = _lpips_weights_path(weights)
    key = (str(torch.device(device)), str(path))
    if key not in _LPIPS_CACHE:
        model = _lpips_from_file(path) if path is not None else _lpips_downloaded()
        _LPIPS_CACHE[key] = model.to(device).eval().requires_grad_(False)
    return _LPIPS_CACHE[key]


def _lpips_weights_path(weights) -> Path | None:
    """The explicit file (must exist), else the env var's (must exist), else the shared file if present."""
    for source, candidate in (("weights=", weights), (LPIPS_WEIGHTS_ENV, os.environ.get(LPIPS_WEIGHTS_ENV))):
        if candidate:
            if not Path(candidate).is_file():
                raise InputError(f"LPIPS weights {candidate} (from {source}) not found")
            return Path(candidate)
    root = shared_dir()
    if root is not None and (root / LPIPS_WEIGHTS_FILE).is_file():
        return root / LPIPS_WEIGHTS_FILE
    return None


def _lpips_from_file(path: Path) -> torch.nn.Module:
    """LPIPS with a random trunk, then the AlexNet ``features.I.*`` tensors copied into ``net.sliceK.I.*``."""
    import lpips

    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != LPIPS_WEIGHTS_SHA256:
        raise InputError(f"{path}: sha256 {digest[:12]}… is not the expected {LPIPS_WEIGHTS_SHA256[:12]}…; "
                         "supply the lpips_alexnet_features.pth of ../shared/weights")
    features = torch.load(path, map_location="cpu", weights_only=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchvision's deprecation notice for `pretrained=`
        model = lpips.LPIPS(net="alex", version="0.1", pnet_rand=True, verbose=False)
    state = model.state_dict()
    trunk_keys = [k for k in state if k.startswith("net.slice")]
    mapped = {k: features[_features_key(k)] for k in trunk_keys if _features_key(k) in features}
    missing = sorted(set(trunk_keys) - set(mapped))
    if missing:
        raise InputError(f"{path}: lacks AlexNet tensors for {', '.join(_features_key(k) for k in missing)}")
    model.load_state_dict(mapped, strict=False)
    return model


def _features_key(trunk_key: str) -> str:
    """``net.slice2.3.weight`` → ``features.3.weight``."""
    return "features." + trunk_key.split(".", 2)[2]


def _lpips_downloaded() -> torch.nn.Module:
    """LPIPS whose AlexNet trunk torchvision downloads (fails without internet: then say which file to supply)."""
    import lpips

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return lpips.LPIPS(net="alex", version="0.1", pnet_rand=False, verbose=False)
    except Exception:  # noqa: BLE001 - any download failure becomes one line
        raise InputError("LPIPS needs the AlexNet weights: supply ../shared/weights/lpips_alexnet_features.pth "
                         f"(or set {LPIPS_WEIGHTS_ENV}); downloading them failed") from None


def _to_lpips_input(x: torch.Tensor) -> torch.Tensor:
    """(B, 1|3, H, W) in [0, 1] → (B, 3, H, W) float32 in [-1, 1]."""
    x = x.float()
    return (x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x) * 2 - 1
