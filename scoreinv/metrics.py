"""Image-quality metrics for reconstructions in [0, 1]: PSNR, SSIM (Wang et al. 2004) and LPIPS (Zhang et al. 2018).

Every metric takes ``x`` and ``ref`` as (C, H, W) or (B, C, H, W) float tensors in [0, 1] (data range 1) and
returns a float64 tensor: shape () for one image, (B,) for a batch (one value per image).
"""
from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from .imageio import InputError
from .paths import shared_dir

LPIPS_WEIGHTS_FILE = "weights/lpips_alexnet_features.pth"  # below the shared folder
LPIPS_WEIGHTS_SHA256 = "efe272311be54dcd133e061930526afaf1ab0917539f85e1c28170446b3558b3"
LPIPS_WEIGHTS_ENV = "SCOREINV_LPIPS_WEIGHTS"

_LPIPS_CACHE: dict[tuple[str, str], torch.nn.Module] = {}


def psnr(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio 10·log10(1 / MSE) in dB for data range 1 (inf when x equals ref).

    Args:
        x, ref: (C, H, W) or (B, C, H, W) in [0, 1], same shape.
    """
    x4, ref4, single = _batched(x, ref)
    mse = (x4.double() - ref4.double()).pow(2).flatten(1).mean(1)
    value = 10 * torch.log10(1.0 / mse)  # mse = 0 gives inf
    return value[0] if single else value


def ssim(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Structural similarity of Wang et al. 2004 with their settings, via scikit-image ``structural_similarity``.

    Gaussian window σ = 1.5 px (gaussian_weights=True), K1 = 0.01, K2 = 0.03, population covariances
    (use_sample_covariance=False), data_range = 1; colour images are the mean over channels (channel_axis).

    Args:
        x, ref: (C, H, W) or (B, C, H, W) in [0, 1], same shape; C is 1 (grey) or 3 (colour); H, W ≥ 7.
    """
    from skimage.metrics import structural_similarity

    x4, ref4, single = _batched(x, ref)
    values = []
    for a, b in zip(_to_numpy(x4), _to_numpy(ref4)):
        channel_axis = None if a.shape[0] == 1 else 0
        a, b = (a[0], b[0]) if channel_axis is None else (a, b)
        values.append(structural_similarity(a, b, data_range=1.0, channel_axis=channel_axis, gaussian_weights=True,
                                            sigma=1.5, use_sample_covariance=False))
    value = torch.tensor(values, dtype=torch.float64)
    return value[0] if single else value


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


def _batched(x: torch.Tensor, ref: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Both as (B, C, H, W) and whether the input was a single (C, H, W) image; one-line errors on bad shapes."""
    if not (torch.is_tensor(x) and torch.is_tensor(ref)):
        raise InputError("metrics take torch tensors")
    if x.shape != ref.shape:
        raise InputError(f"metric inputs differ in shape: {tuple(x.shape)} vs {tuple(ref.shape)}")
    if x.dim() not in (3, 4):
        raise InputError(f"metric inputs must be (C, H, W) or (B, C, H, W), got {tuple(x.shape)}")
    single = x.dim() == 3
    return (x[None], ref[None], True) if single else (x, ref, False)


def _to_numpy(x: torch.Tensor) -> np.ndarray:
    """(B, C, H, W) tensor → float64 numpy array."""
    return x.detach().to("cpu", torch.float64).numpy()

