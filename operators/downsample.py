"""Super-resolution: filter-then-decimate downsampling by an integer factor."""
from __future__ import annotations

import math
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from .base import CG_MAX_ITER, CG_TOL, Gamma, LinearOperator, Shape, gamma_like
from .noise import NoiseModel

FILTERS = ("box", "bicubic")


def _cubic(t: torch.Tensor, a: float = -0.5) -> torch.Tensor:
    """Keys (1981) cubic convolution kernel with a = −0.5 (MATLAB/PIL bicubic)."""
    t = t.abs()
    t2, t3 = t * t, t * t * t
    near = (a + 2) * t3 - (a + 3) * t2 + 1
    far = a * t3 - 5 * a * t2 + 8 * a * t - 4 * a
    return torch.where(t <= 1, near, torch.where(t < 2, far, torch.zeros_like(t)))


def filter_taps(factor: int, filter: str) -> Tuple[torch.Tensor, torch.Tensor]:
    """1-D taps (offsets m, weights w) of the filter: output i = Σ_m w[m] · x[i·f + m] (indices mod n).

    The taps are centred on the middle (f − 1)/2 of each block of f input pixels, so output pixel i sits at
    the centre of input pixels i·f … i·f + f − 1 (the box average's alignment). Bicubic is the anti-aliased
    Keys kernel stretched by f (MATLAB ``imresize``), 4f taps wide; both sum to 1. float64.
    """
    if filter == "box":
        return torch.arange(factor, dtype=torch.int64), torch.full((factor,), 1.0 / factor, dtype=torch.float64)
    centre = (factor - 1) / 2
    m = torch.arange(math.floor(centre - 2 * factor), math.ceil(centre + 2 * factor) + 1, dtype=torch.int64)
    w = _cubic((m.to(torch.float64) - centre) / factor)
    keep = w != 0
    m, w = m[keep], w[keep]
    return m, w / w.sum()


def decimation_matrix(n: int, factor: int, filter: str) -> torch.Tensor:
    """The (n/f × n) matrix D of 1-D circular filtering followed by decimation, float64."""
    m, w = filter_taps(factor, filter)
    rows = torch.arange(n // factor, dtype=torch.int64)[:, None].expand(-1, m.numel())
    cols = (rows * factor + m[None, :]) % n
    d = torch.zeros(n // factor, n, dtype=torch.float64)
    d.index_put_((rows.reshape(-1), cols.reshape(-1)), w.repeat(n // factor), accumulate=True)
    return d


class Downsample(LinearOperator):
    """Downsampling by an integer factor f: filter then keep one pixel in f along each axis, with a circular
    boundary; separable, y = D_H x D_Wᵀ with (n/f × n) matrices D.

    - ``"box"``: average pooling over f×f blocks. A Aᵀ = I/f², so A⁺ = f² Aᵀ (nearest-neighbour
      upsampling) and ``prox_l2`` follows from the Woodbury identity.
    - ``"bicubic"``: anti-aliased Keys bicubic (as MATLAB ``imresize``) with circular boundary. The
      pseudo-inverse of the separable operator is D_H⁺ y D_W⁺ᵀ (the closed form of filter + decimate, cf. Zhao
      et al. 2016, computed exactly from the small 1-D matrices) and ``prox_l2`` uses the eigenvectors of
      D Dᵀ along each axis.

    Height and width must be multiples of f (ValueError otherwise: crop first).

    Args:
        factor: integer f ≥ 1 (typically 2, 3, 4 or 8).
        filter: "box" (default) or "bicubic".
        noise: noise model (default ``GaussianNoise(0.0)``).
    """

    family = "sr"
    pinv_kind = "exact"

    def __init__(self, factor: int, *, filter: str = "box", noise: Optional[NoiseModel] = None) -> None:
        super().__init__(noise=noise)
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not math.isfinite(factor) \
                or int(factor) != factor:
            raise ValueError(f"factor must be a positive integer such as 2, 3, 4 or 8, got {factor!r}")
        if factor < 1:
            raise ValueError(f"factor must be a positive integer such as 2, 3, 4 or 8, got {factor}")
        if filter not in FILTERS:
            raise ValueError(f"filter must be 'box' or 'bicubic', got {filter!r}")
        self.factor = int(factor)
        self.filter = filter
        self._mats: Dict[tuple, Dict[str, torch.Tensor]] = {}

    # Shapes

    def _check_input_shape(self, shape: Shape) -> None:
        f = self.factor
        h, w = shape[-2], shape[-1]
        if h % f or w % f:
            raise ValueError(f"image {h}×{w} is not divisible by factor {f}; crop to a multiple of {f} "
                             f"(e.g. {h - h % f}×{w - w % f}) first")

    def output_shape(self, input_shape: Sequence[int]) -> Shape:
        shape = tuple(int(s) for s in input_shape)
        self._check_input_shape(shape)
        return shape[:2] + (shape[2] // self.factor, shape[3] // self.factor)

    # The 1-D matrices

    def _axis(self, n: int, like: torch.Tensor) -> Dict[str, torch.Tensor]:
        """D, Dᵀ, D⁺ and the eigen-decomposition of D Dᵀ for one axis of length n (cached, like's dtype)."""
        key = (n, like.device, like.dtype)
        mats = self._mats.get(key)
        if mats is None:
            d = decimation_matrix(n, self.factor, self.filter)
            evals, evecs = torch.linalg.eigh(d @ d.T)
            raw = {"D": d, "Dt": d.T.contiguous(), "Dpinv": torch.linalg.pinv(d), "evals": evals.clamp_min(0),
                   "evecs": evecs}
            mats = {k: v.to(device=like.device, dtype=like.dtype).contiguous() for k, v in raw.items()}
            self._mats[key] = mats
        return mats

    def _sandwich(self, t: torch.Tensor, left: torch.Tensor, right_t: torch.Tensor) -> torch.Tensor:
        """left @ t @ right_t on the last two dims."""
        return torch.matmul(left, torch.matmul(t, right_t))

    # The operator

    def A(self, x: torch.Tensor) -> torch.Tensor:
        """Filter and decimate: (B, C, H, W) → (B, C, H/f, W/f)."""
        self._checked_input(x)
        if self.filter == "box":
            return F.avg_pool2d(x, self.factor) if self.factor > 1 else x.clone()
        mh, mw = self._axis(x.shape[-2], x), self._axis(x.shape[-1], x)
        return self._sandwich(x, mh["D"], mw["Dt"])

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """Exact transpose: (B, C, h, w) → (B, C, h·f, w·f)."""
        self._checked_measurement(y)
        f = self.factor
        b, c, h, w = y.shape
        if self.filter == "box":
            up = y[:, :, :, None, :, None].expand(b, c, h, f, w, f).reshape(b, c, h * f, w * f)
            return up / (f * f)
        mh, mw = self._axis(h * f, y), self._axis(w * f, y)
        return self._sandwich(y, mh["Dt"], mw["D"])

    def A_dagger(self, y: torch.Tensor, *, tol: float = CG_TOL, max_iter: int = CG_MAX_ITER) -> torch.Tensor:
        """Exact pseudo-inverse (``tol``/``max_iter`` unused): box f² Aᵀ y (pixel replication); bicubic
        D_H⁺ y D_W⁺ᵀ."""
        if self.filter == "box":
            return self.A_adjoint(y) * float(self.factor ** 2)
        self._checked_measurement(y)
        f = self.factor
        mh, mw = self._axis(y.shape[-2] * f, y), self._axis(y.shape[-1] * f, y)
        return self._sandwich(y, mh["Dpinv"], mw["Dpinv"].T)

    def prox_l2(self, z: torch.Tensor, y: torch.Tensor, gamma: Gamma, *, tol: float = CG_TOL,
                max_iter: int = CG_MAX_ITER) -> torch.Tensor:
        """Closed form x = z + Aᵀ (A Aᵀ + I/γ)⁻¹ (y − A z) (Woodbury / push-through identity); A Aᵀ = I/f²
        for box, and diagonal in the Kronecker eigenbasis of D_H D_Hᵀ ⊗ D_W D_Wᵀ for bicubic."""
        self.check_prox_args(z, y)
        lam = 1.0 / gamma_like(gamma, z)
        r = y - self.A(z)
        if self.filter == "box":
            return z + self.A_adjoint(r / (1.0 / self.factor ** 2 + lam))
        mh, mw = self._axis(z.shape[-2], z), self._axis(z.shape[-1], z)
        t = self._sandwich(r, mh["evecs"].T, mw["evecs"])
        t = t / (mh["evals"][:, None] * mw["evals"][None, :] + lam)
        return z + self.A_adjoint(self._sandwich(t, mh["evecs"], mw["evecs"].T))

    def _norm_closed_form(self, shape: Shape) -> Optional[float]:
        if self.filter == "box":
            return 1.0 / self.factor
        like = torch.empty(0, dtype=torch.float64)
        mh, mw = self._axis(shape[-2], like), self._axis(shape[-1], like)
        return math.sqrt(float(mh["evals"].max()) * float(mw["evals"].max()))

    def extra_repr(self) -> str:
        return f"factor={self.factor}, filter={self.filter!r}, noise={self.noise!r}"
