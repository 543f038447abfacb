"""The parallel-beam Radon transform as a sparse matrix (pixel-driven, or ray-driven after Joseph): its geometry,
a module-wide cache, and the product with an exact transpose (an autograd Function)."""
from __future__ import annotations

import contextlib
import threading
import warnings
from collections import OrderedDict
from typing import Dict, Sequence, Tuple

import numpy as np
import torch

CACHE_SIZE = 4  # geometries × devices × dtypes kept in the module-wide cache

_CACHE: "OrderedDict[tuple, Tuple[torch.Tensor, torch.Tensor]]" = OrderedDict()
_CACHE_LOCK = threading.Lock()


# Geometry → sparse matrix

def system_matrix_arrays(height: int, width: int, angles_deg: Sequence[float], detectors: int, *,
                         values: type = np.float64) -> Dict[str, np.ndarray]:
    """CSR arrays of the pixel-driven parallel-beam projector and of its transpose.

    Each pixel centre is projected onto the detector line of every angle and its value is split between the
    two nearest detector bins by linear interpolation (pixel-driven projection, e.g. Peters 1981; the
    transpose is linear-interpolation back-projection). Coordinates follow ``skimage.transform.radon``:
    pixel (i, j) sits at u = j − W//2, v = i − H//2, detector bin k at t = k − D//2, and angle θ projects
    it to t = u cos θ − v sin θ.

    Args:
        height, width: image size in pixels.
        angles_deg: projection angles in degrees.
        detectors: detector bins D.
        values: numpy dtype of the stored weights (computed in float64, then rounded once).

    Returns:
        dict with ``A_crow, A_col, A_val`` (rows = angle · D + bin, columns = pixel i · W + j) and
        ``T_crow, T_col, T_val`` (the transpose, rows = pixels).
    """
    n, p, d = len(angles_deg), height * width, detectors
    theta = np.deg2rad(np.asarray(angles_deg, dtype=np.float64))
    u = np.arange(width, dtype=np.float64) - width // 2
    v = np.arange(height, dtype=np.float64) - height // 2
    u_flat = np.broadcast_to(u[None, :], (height, width)).ravel()
    v_flat = np.broadcast_to(v[:, None], (height, width)).ravel()
    index = np.int32 if max(n * d, p) < 2 ** 31 - 1 else np.int64
    pixel_of_entry = np.repeat(np.arange(p, dtype=index), 2)
    bin_key = np.uint16 if d + 2 < 65536 else index

    a_col = np.empty(2 * n * p, index)
    a_val = np.empty(2 * n * p, values)
    a_counts = np.zeros(n * d, np.int64)
    t_col = np.empty((p, n, 2), index)  # -1 marks a dropped entry
    t_val = np.empty((p, n, 2), values)
    filled = 0
    # One angle at a time, so every temporary stays in cache
    for a in range(n):
        t = np.cos(theta[a]) * u_flat - np.sin(theta[a]) * v_flat + (d // 2)
        # Snap positions within rounding of a bin centre (θ = 0°, 90° …) so that they hit exactly one bin
        t_round = np.round(t)
        t = np.where(np.abs(t - t_round) < 1e-9, t_round, t)
        k0 = np.floor(t)
        frac = t - k0
        bins = np.empty((p, 2), index)
        bins[:, 0] = k0
        bins[:, 1] = k0 + 1
        weights = np.empty((p, 2), np.float64)
        weights[:, 0] = 1.0 - frac
        weights[:, 1] = frac
        keep = (bins >= 0) & (bins < d) & (weights != 0)
        t_col[:, a, :] = np.where(keep, bins + a * d, -1)
        t_val[:, a, :] = weights
        # Projector rows of this angle: entries sorted by bin, then by pixel (stable radix sort)
        flat_keep = keep.ravel()
        kept_bins = bins.ravel()[flat_keep]
        order = np.argsort(kept_bins.astype(bin_key), kind="stable")
        m = order.size
        a_col[filled:filled + m] = pixel_of_entry[flat_keep][order]
        a_val[filled:filled + m] = weights.ravel()[flat_keep][order]
        a_counts[a * d:(a + 1) * d] = np.bincount(kept_bins, minlength=d)
        filled += m
    a_crow = np.zeros(n * d + 1, np.int64)
    np.cumsum(a_counts, out=a_crow[1:])

    # The transpose, pixel-major: each row's entries are already sorted by column angle · D + bin
    t_col = t_col.reshape(p, 2 * n)
    t_keep = t_col >= 0
    t_crow = np.zeros(p + 1, np.int64)
    np.cumsum(t_keep.sum(1), out=t_crow[1:])
    return {"A_crow": a_crow, "A_col": a_col[:filled], "A_val": a_val[:filled],
            "T_crow": t_crow, "T_col": t_col[t_keep], "T_val": t_val.reshape(p, 2 * n)[t_keep]}


def joseph_matrix_arrays(height: int, width: int, angles_deg: Sequence[float], detectors: int, *,
                         values: type = np.float64) -> Dict[str, np.ndarray]:
    """CSR arrays of the ray-driven (Joseph 1982) parallel-beam projector and of its exact transpose.

    Each ray is sampled once per image row (when it runs closer to the vertical, |cos θ| ≥ |sin θ|) or per
    column, with linear interpolation between the two nearest pixels of that row (column) and the step length
    1/|cos θ| (1/|sin θ|). Geometry as :func:`system_matrix_arrays` (skimage's ``radon(circle=False)``).

    Args:
        height, width: image size in pixels.
        angles_deg: projection angles in degrees.
        detectors: detector bins D.
        values: numpy dtype of the stored weights (computed in float64, then rounded once).

    Returns:
        the same keys as :func:`system_matrix_arrays`.
    """
    n, p, d = len(angles_deg), height * width, detectors
    index = np.int32 if max(n * d, p) < 2 ** 31 - 1 else np.int64
    t = np.arange(d, dtype=np.float64) - d // 2
    rows_all, cols_all, vals_all = [], [], []
    for a, angle in enumerate(np.deg2rad(np.asarray(angles_deg, dtype=np.float64))):
        c, s = np.cos(angle), np.sin(angle)
        along_rows = abs(c) >= abs(s)
        steps = np.arange(height if along_rows else width, dtype=np.float64)
        if along_rows:  # row i at v = i − H//2 meets the ray t at column u = (t + v sin θ) / cos θ
            pos = (t[:, None] + (steps[None, :] - height // 2) * s) / c + width // 2
        else:           # column j at u = j − W//2 meets it at row v = (u cos θ − t) / sin θ
            pos = ((steps[None, :] - width // 2) * c - t[:, None]) / s + height // 2
        rounded = np.round(pos)
        pos = np.where(np.abs(pos - rounded) < 1e-9, rounded, pos)
        k0 = np.floor(pos)
        frac = pos - k0
        step = 1.0 / max(abs(c), abs(s))
        near = np.stack([k0, k0 + 1], -1)                                     # (D, L, 2) pixel along the row/col
        weights = np.stack([(1.0 - frac) * step, frac * step], -1)
        fixed = np.broadcast_to(steps[None, :, None], near.shape)             # the row (column) itself
        limit = width if along_rows else height
        keep = (near >= 0) & (near < limit) & (weights != 0)
        pixel = (fixed * width + near) if along_rows else (near * width + fixed)
        ray = np.broadcast_to((a * d + np.arange(d))[:, None, None], near.shape)
        r, col, val = ray[keep].astype(index), pixel[keep].astype(index), weights[keep]
        if not along_rows:  # a ray stepping over columns visits its pixels out of row-major order: sort them
            order = np.argsort((r - a * d).astype(np.int64) * p + col, kind="stable")
            r, col, val = r[order], col[order], val[order]
        rows_all.append(r)
        cols_all.append(col)
        vals_all.append(val)
    rows, cols, vals = np.concatenate(rows_all), np.concatenate(cols_all), np.concatenate(vals_all)
    a_crow = np.zeros(n * d + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=n * d), out=a_crow[1:])
    order = np.argsort(cols, kind="stable")  # pixel-major; rays stay sorted within each pixel
    t_crow = np.zeros(p + 1, np.int64)
    np.cumsum(np.bincount(cols, minlength=p), out=t_crow[1:])
    return {"A_crow": a_crow, "A_col": cols, "A_val": vals.astype(values),
            "T_crow": t_crow, "T_col": rows[order], "T_val": vals[order].astype(values)}


PROJECTORS = {"pixel": system_matrix_arrays, "joseph": joseph_matrix_arrays}


def _outside_transforms():
    """A guard hiding any active ``torch.func`` transform, under which the sparse factories cannot run (the
    matrix is a constant of the operator, never a function of the transformed input)."""
    guard = getattr(torch._C, "_DisableFuncTorch", None)
    return guard() if guard is not None else contextlib.nullcontext()


def _csr(crow: np.ndarray, col: np.ndarray, val: np.ndarray, size: Tuple[int, int], *,
         dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A torch CSR matrix with int32 indices where they fit (faster sparse × dense on CPU)."""
    small = max(len(col), size[0], size[1]) < 2 ** 31 - 1
    idx = torch.int32 if small else torch.int64
    with warnings.catch_warnings(), _outside_transforms():
        warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support is in beta.*")
        return torch.sparse_csr_tensor(torch.from_numpy(crow).to(idx), torch.from_numpy(col).to(idx),
                                       torch.from_numpy(val).to(dtype), size=size,
                                       check_invariants=False).to(device)


def _matrices(height: int, width: int, angles_deg: Tuple[float, ...], detectors: int, device: torch.device,
              dtype: torch.dtype, projector: str = "pixel") -> Tuple[torch.Tensor, torch.Tensor]:
    """(A, Aᵀ) as CSR tensors for this geometry, projector, device and dtype, from the module-wide LRU cache."""
    key = (height, width, angles_deg, detectors, projector, str(device), dtype)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
    arr = PROJECTORS[projector](height, width, angles_deg, detectors,
                                values=np.float32 if dtype == torch.float32 else np.float64)
    rows, cols = len(angles_deg) * detectors, height * width
    mats = (_csr(arr["A_crow"], arr["A_col"], arr["A_val"], (rows, cols), dtype=dtype, device=device),
            _csr(arr["T_crow"], arr["T_col"], arr["T_val"], (cols, rows), dtype=dtype, device=device))
    with _CACHE_LOCK:
        _CACHE[key] = mats
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return mats


def clear_cache() -> None:
    """Forget every cached CT system matrix (module-wide)."""
    with _CACHE_LOCK:
        _CACHE.clear()


class SparsePair:
    """A CSR matrix and its transpose, passed to the autograd Function as one non-tensor argument, so that
    ``torch.func`` transforms never wrap (or ask the strides of) the sparse tensors.

    Args:
        m: (rows × cols) CSR matrix.
        mt: its transpose, (cols × rows) CSR.
    """

    __slots__ = ("m", "mt")

    def __init__(self, m: torch.Tensor, mt: torch.Tensor) -> None:
        self.m, self.mt = m, mt

    def transposed(self) -> "SparsePair":
        return SparsePair(self.mt, self.m)


class _SparseProduct(torch.autograd.Function):
    """M @ X for dense X of shape (cols,) or (cols, k): reverse mode Mᵀ @ G and forward mode M @ Ẋ, both through
    this Function again (so higher orders and nested transforms compose), and a vmap rule that folds the
    vmapped dimension into the columns of X."""

    @staticmethod
    def forward(cols: torch.Tensor, pair: SparsePair) -> torch.Tensor:
        return pair.m @ cols.contiguous()

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        ctx.pair = inputs[1]

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return _SparseProduct.apply(grad, ctx.pair.transposed()), None

    @staticmethod
    def jvp(ctx, cols_dot: torch.Tensor, pair_dot) -> torch.Tensor:
        return _SparseProduct.apply(cols_dot, ctx.pair)

    @staticmethod
    def vmap(info, in_dims, cols: torch.Tensor, pair: SparsePair):
        if in_dims[0] is None:
            return _SparseProduct.apply(cols, pair), None
        cols = cols.movedim(in_dims[0], -1)  # (cols, V) or (cols, k, V)
        out = _SparseProduct.apply(cols.reshape(cols.shape[0], -1), pair)
        return out.reshape(out.shape[0], *cols.shape[1:]), cols.ndim - 1


def _differentiated(t: torch.Tensor) -> bool:
    """Whether a product with t must go through the autograd Function: t records a graph, or a torch.func
    transform or a forward-mode AD level is active (the Function costs ~0.1 ms per call in Python)."""
    if t.requires_grad and torch.is_grad_enabled():
        return True
    functorch = getattr(torch._C, "_functorch", None)
    if functorch is None or functorch.is_functorch_wrapped_tensor(t):
        return True
    return getattr(torch.autograd.forward_ad, "_current_level", 0) >= 0


def _apply_sparse(m: torch.Tensor, mt: torch.Tensor, t: torch.Tensor, out_hw: Tuple[int, int]) -> torch.Tensor:
    """Apply the (rows × cols) CSR matrix m (transpose mt) to (B, C, ·, ·) images: one image is a vector (sparse ×
    vector is the fastest product), several are the columns of a row-major (cols × B·C) matrix (read once)."""
    b, c = t.shape[:2]
    cols = t.reshape(-1) if b * c == 1 else t.reshape(b * c, -1).T
    out = _SparseProduct.apply(cols, SparsePair(m, mt)) if _differentiated(t) else m @ cols.contiguous()
    return out.reshape(b, c, *out_hw) if b * c == 1 else out.T.reshape(b, c, *out_hw)
