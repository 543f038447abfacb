"""LPIPS (Zhang et al. 2018, AlexNet v0.1) on [0, 1] images, with the backbone read from the shared folder.

The network is built here (no ``import lpips`` or torchvision at run time, which would cost seconds of start-up):
the AlexNet ``features`` trunk comes from the shared weights file, the linear layers lin0..lin4 from the lpips
package's data file ``weights/v0.1/alex.pth``, located without importing the package.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

import torch
import torch.nn.functional as F

from scoreinv.errors import InputError
from scoreinv.io.paths import shared_dir
from scoreinv.metrics.quality import _batched

LPIPS_WEIGHTS_FILE = "weights/lpips_alexnet_features.pth"  # below the shared folder
LPIPS_WEIGHTS_SHA256 = "efe272311be54dcd133e061930526afaf1ab0917539f85e1c28170446b3558b3"
LPIPS_WEIGHTS_ENV = "SCOREINV_LPIPS_WEIGHTS"
LPIPS_LINEAR_FILE = "weights/v0.1/alex.pth"  # inside the lpips package
ALEXNET_URL = "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"  # torchvision's AlexNet weights
LPIPS_MIN_SIZE = 31  # smallest H, W whose AlexNet trunk still reaches relu5
_LPIPS_CACHE: dict[tuple[str, str], torch.nn.Module] = {}

# AlexNet ``features``: (index of the conv in torchvision's Sequential, in, out, kernel, stride, padding, max-pool
# 3/2 before it); each conv is followed by a ReLU whose output is one of LPIPS's five layers relu1..relu5
_ALEX_CONVS = ((0, 3, 64, 11, 4, 2, False), (3, 64, 192, 5, 1, 2, True), (6, 192, 384, 3, 1, 1, True),
               (8, 384, 256, 3, 1, 1, False), (10, 256, 256, 3, 1, 1, False))
_LPIPS_SHIFT = (-0.030, -0.088, -0.188)  # LPIPS's input scaling layer: (x - shift) / scale per RGB channel
_LPIPS_SCALE = (0.458, 0.448, 0.450)


def lpips_distance(x: torch.Tensor, ref: torch.Tensor, *, weights=None) -> torch.Tensor:
    """LPIPS perceptual distance of Zhang et al. 2018 (AlexNet trunk, linear layers v0.1); lower is more similar.

    Grey images are repeated to 3 channels and [0, 1] is mapped to the [-1, 1] that LPIPS expects; the model runs
    on ``x``'s device and is cached per device and weights file.

    Args:
        x, ref: (C, H, W) or (B, C, H, W) in [0, 1], same shape; C is 1 or 3; H, W ≥ 31.
        weights: the AlexNet ``features`` weights file (default: env var SCOREINV_LPIPS_WEIGHTS, else
            ../shared/weights/lpips_alexnet_features.pth; its sha256 is checked). When no such file exists
            torchvision's AlexNet weights are downloaded into the torch hub cache.
    """
    x4, ref4, single = _batched(x, ref)
    if x4.shape[1] not in (1, 3):
        raise InputError(f"LPIPS needs 1 or 3 channels, got {x4.shape[1]}")
    if min(x4.shape[-2:]) < LPIPS_MIN_SIZE:
        raise InputError(f"LPIPS needs images of at least {LPIPS_MIN_SIZE}x{LPIPS_MIN_SIZE}, got "
                         f"{x4.shape[-2]}x{x4.shape[-1]}")
    model = lpips_model(x4.device, weights=weights)
    with torch.no_grad():
        value = model(_to_lpips_input(x4), _to_lpips_input(ref4)).flatten().double().cpu()
    return value[0] if single else value


def lpips_model(device="cpu", *, weights=None) -> torch.nn.Module:
    """The LPIPS(alex, v0.1) network of Zhang et al. 2018 on ``device`` in eval mode, built once per device.

    Called as ``model(a, b)`` on two (B, 3, H, W) float32 batches in [-1, 1], it gives the (B, 1, 1, 1) distances.

    Args:
        device: torch device (or its name).
        weights: AlexNet ``features`` weights file; None means env var SCOREINV_LPIPS_WEIGHTS, else the shared file.
    """
    path = _lpips_weights_path(weights)
    key = (str(torch.device(device)), str(path))
    if key not in _LPIPS_CACHE:
        features = _checked_features(path) if path is not None else _downloaded_features()
        model = LPIPSAlex(features, _linear_weights())
        _LPIPS_CACHE[key] = model.to(device).eval().requires_grad_(False)
    return _LPIPS_CACHE[key]


class LPIPSAlex(torch.nn.Module):
    """LPIPS of Zhang et al. 2018 with the AlexNet trunk: scaled input, relu1..relu5, unit-normalised along channels,
    squared differences weighted by the 1×1 linear layers lin0..lin4, averaged over space and summed over layers.

    Args:
        features: AlexNet ``features.{0,3,6,8,10}.{weight,bias}`` tensors (torchvision's names and shapes).
        linear: ``lin{0..4}.model.1.weight`` tensors of shape (1, C_k, 1, 1), as in the lpips v0.1 file.
    """

    def __init__(self, features: dict, linear: dict):
        super().__init__()
        self.register_buffer("shift", torch.tensor(_LPIPS_SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(_LPIPS_SCALE).view(1, 3, 1, 1))
        self.convs = torch.nn.ModuleList()
        self.lins = torch.nn.ModuleList()
        self.pool_before = [pool for *_, pool in _ALEX_CONVS]
        for index, c_in, c_out, kernel, stride, padding, _ in _ALEX_CONVS:
            conv = torch.nn.utils.skip_init(torch.nn.Conv2d, c_in, c_out, kernel, stride=stride, padding=padding)
            conv.weight.data.copy_(features[f"features.{index}.weight"])
            conv.bias.data.copy_(features[f"features.{index}.bias"])
            lin = torch.nn.utils.skip_init(torch.nn.Conv2d, c_out, 1, 1, bias=False)
            lin.weight.data.copy_(linear[f"lin{len(self.lins)}.model.1.weight"])
            self.convs.append(conv)
            self.lins.append(lin)

    def layers(self, x: torch.Tensor) -> list[torch.Tensor]:
        """relu1..relu5 of the AlexNet trunk for (B, 3, H, W) in [-1, 1] (the scaling layer applied first)."""
        h = (x - self.shift) / self.scale
        outputs = []
        for conv, pool in zip(self.convs, self.pool_before):
            h = F.relu(conv(F.max_pool2d(h, kernel_size=3, stride=2) if pool else h))
            outputs.append(h)
        return outputs

    def forward(self, in0: torch.Tensor, in1: torch.Tensor) -> torch.Tensor:
        """(B, 1, 1, 1) LPIPS distances of two (B, 3, H, W) float batches in [-1, 1]."""
        total = 0
        for lin, f0, f1 in zip(self.lins, self.layers(in0), self.layers(in1)):
            diff = (_unit(f0) - _unit(f1)) ** 2
            total = total + lin(diff).mean(dim=(2, 3), keepdim=True)
        return total


def _unit(feature: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """Each pixel's feature vector divided by its Euclidean norm along channels (plus ``eps``, as in LPIPS)."""
    return feature / (feature.pow(2).sum(dim=1, keepdim=True).sqrt() + eps)


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


def _checked_features(path: Path) -> dict:
    """The AlexNet ``features.*`` tensors of ``path`` after its sha256 check."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != LPIPS_WEIGHTS_SHA256:
        raise InputError(f"{path}: sha256 {digest[:12]}… is not the expected {LPIPS_WEIGHTS_SHA256[:12]}…; "
                         "supply the lpips_alexnet_features.pth of ../shared/weights")
    return _require_tensors(torch.load(path, map_location="cpu", weights_only=True), _feature_shapes(), path)


def _downloaded_features() -> dict:
    """torchvision's AlexNet weights fetched into the torch hub cache (fails without internet: then say which file
    to supply)."""
    try:
        state = torch.hub.load_state_dict_from_url(ALEXNET_URL, map_location="cpu", progress=False, check_hash=True,
                                                   weights_only=True)
    except Exception:  # noqa: BLE001 - any download failure becomes one line
        raise InputError("LPIPS needs the AlexNet weights: supply ../shared/weights/lpips_alexnet_features.pth "
                         f"(or set {LPIPS_WEIGHTS_ENV}); downloading them failed") from None
    return _require_tensors(state, _feature_shapes(), ALEXNET_URL)


def _linear_weights() -> dict:
    """lin0..lin4 of the lpips package's ``weights/v0.1/alex.pth``, found without importing the package."""
    try:
        spec = importlib.util.find_spec("lpips")
    except (ImportError, ValueError):
        spec = None
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = Path(location) / LPIPS_LINEAR_FILE
        if path.is_file():
            shapes = {f"lin{k}.model.1.weight": (1, c_out, 1, 1) for k, (_, _, c_out, *_) in enumerate(_ALEX_CONVS)}
            return _require_tensors(torch.load(path, map_location="cpu", weights_only=True), shapes, path)
    raise InputError(f"LPIPS needs the linear layers {LPIPS_LINEAR_FILE} of the lpips package: pip install lpips")


def _feature_shapes() -> dict:
    """The AlexNet ``features.*`` tensor names LPIPS uses and their shapes."""
    shapes = {}
    for index, c_in, c_out, kernel, *_ in _ALEX_CONVS:
        shapes[f"features.{index}.weight"] = (c_out, c_in, kernel, kernel)
        shapes[f"features.{index}.bias"] = (c_out,)
    return shapes


def _require_tensors(state: dict, shapes: dict, source) -> dict:
    """``state`` restricted to ``shapes``' names, or a one-line InputError naming the absent or misshapen ones."""
    bad = [name for name, shape in shapes.items()
           if not isinstance(state.get(name), torch.Tensor) or tuple(state[name].shape) != shape]
    if bad:
        raise InputError(f"{source}: lacks (or has misshapen) tensors {', '.join(bad)}")
    return {name: state[name] for name in shapes}


def _to_lpips_input(x: torch.Tensor) -> torch.Tensor:
    """(B, 1|3, H, W) in [0, 1] → (B, 3, H, W) float32 in [-1, 1]."""
    x = x.float()
    return (x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x) * 2 - 1
