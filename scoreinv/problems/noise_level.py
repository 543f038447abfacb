"""Blind estimates of the measurement noise σ_y from the measurement y itself (``sigma_y="auto"``, ``--noise auto``).

White Gaussian noise of standard deviation σ passes a finest-scale high-pass h of unit norm as noise of the same σ,
while the signal mostly does not (Donoho & Johnstone 1994 take the MAD of the finest wavelet coefficients;
Immerkær 1996 the 3 x 3 second differences). Texture does pass, and inflates a global median at low noise, so the
residual energies are pooled in small tiles and the flattest tiles are kept (the weak-texture selection of Liu,
Tanaka & Okutomi 2013): starting from the median tile, the estimate is the mean energy of the tiles below the
noise-only median at the current estimate, iterated to its fixed point. Every threshold and the final scale come
from unit white noise drawn through the same stencils, mask and tiles (a fixed seed), so the estimate is
scale-equivariant and unbiased for pure noise whatever the geometry; on natural images it errs upward by the
flattest tiles' texture (docs/noise.md gives the measured table).

Images (inpainting, deblurring, super-resolution) use the known pixels only: a residual counts where its whole
stencil is known and unclipped (values at exactly 0 or 1 are taken as clipped); sparse masks fall back to smaller
stencils, then to second differences across the gaps between known pixels of a row or column (each known pixel
against the line through its nearest known neighbours). Sinograms use second differences along the detector
axis, in 1 x 32 detector tiles.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from scoreinv.errors import InputError

LEVEL = 0.5            # a tile is kept while its energy is below this quantile of pure noise's at the estimate
IMAGE_TILE = 8         # tile side (pixels) for a dense stencil; sparse masks get larger tiles, as many residuals
SINOGRAM_TILE = 32     # detectors per sinogram tile
PREFERRED = 2048       # a stencil is used when it has this many residuals (else the next, smaller one)
MIN_RESIDUALS = 64     # fewer usable residuals than this: no estimate
REFERENCE_TILES = 4096  # unit-noise tiles drawn for the thresholds and the scale (4 to 64 draws)
MAX_DRAWS, MIN_DRAWS = 64, 4
MAX_ITERATIONS = 200
NORMAL_MAD = 0.6744897501960817  # median |n| of n ~ N(0, 1)
MAX_VALUES = 2 ** 21   # larger measurements are analysed in evenly spread bands of this many values

MAX_GAP = 6             # widest gap (pixels) between known pixels a gapped second difference spans
IMAGE_BAND = 256        # rows per band when a large image is subsampled

_ONE = (1.0,)
_D1 = (1.0 / math.sqrt(2.0), -1.0 / math.sqrt(2.0))
_D2 = (1.0 / math.sqrt(6.0), -2.0 / math.sqrt(6.0), 1.0 / math.sqrt(6.0))


def _separable(stencil):
    """A high-pass of unit norm with separable taps (down the rows, along a row): usable pixels (N, 1, H, W) →
    (where it is complete, planes → its values), both (N, 1, H', W')."""
    return lambda usable: (_complete(usable, stencil), lambda planes: _correlate(planes, stencil))


def _gapped(dim: int, gap: int):
    """Each known pixel minus the line through its nearest known neighbours along ``dim`` (-1: the row, -2: the
    column) when both lie within ``gap`` pixels, scaled to unit norm; a second difference across gaps."""
    def prepare(usable):
        known = usable.transpose(-1, dim)
        n = known.shape[-1]
        index = torch.arange(n).expand(known.shape)
        before = torch.where(known, index, -1).cummax(-1).values
        after = (n - 1) - torch.where(known, n - 1 - index, -1).flip(-1).cummax(-1).values.flip(-1)
        before = F.pad(before[..., :-1], (1, 0), value=-1)   # strictly before, strictly after
        after = F.pad(after[..., 1:], (0, 1), value=n)
        ok = known & (before >= 0) & (index - before <= gap) & (after < n) & (after - index <= gap)
        before, after = before.clamp(0, n - 1), after.clamp(0, n - 1)
        span = (after - before).clamp_min(1).float()
        w_before, w_after = (after - index) / span, (index - before) / span
        norm = torch.sqrt(1 + w_before ** 2 + w_after ** 2)

        def apply(planes):
            t = planes.transpose(-1, dim)
            r = (t - w_before * t.gather(-1, before) - w_after * t.gather(-1, after)) / norm
            return r.transpose(-1, dim)

        return ok.transpose(-1, dim), apply
    return prepare


# (description, high-passes), most selective first
IMAGE_STENCILS = (
    ("3x3 second differences", (_separable((_D2, _D2)),)),
    ("2x2 Haar diagonal differences", (_separable((_D1, _D1)),)),
    ("row and column second differences", (_gapped(-1, 1), _gapped(-2, 1))),
    *((f"row and column second differences across gaps of up to {gap} px", (_gapped(-1, gap), _gapped(-2, gap)))
      for gap in range(2, MAX_GAP + 1)),
    ("row and column differences", (_separable((_ONE, _D1)), _separable((_D1, _ONE)))),
)
SINOGRAM_STENCIL = ("detector second differences", (_separable((_ONE, _D2)),))


@dataclass(frozen=True)
class NoiseEstimate:
    """A blind estimate of σ_y.

    Attributes:
        sigma: the estimate ([0, 1] image units; sinogram units for CT).
        method: one line saying what was measured, e.g. "3x3 second differences of the known pixels, flattest 8x8
            tiles".
        residuals: high-pass values the estimate could use.
        tiles: tiles they fell in.
        mad: the global MAD estimate of the same high-pass values, median |r| / 0.6745 (Donoho & Johnstone 1994),
            before the tile selection (higher on textured images).
    """

    sigma: float
    method: str
    residuals: int
    tiles: int
    mad: float


def estimate_image_noise(y: torch.Tensor, *, known: torch.Tensor | None = None, clipped: bool = True,
                         level: float = LEVEL, seed: int = 0) -> NoiseEstimate:
    """σ_y of white Gaussian noise in an image measurement, from the finest-scale high-pass of its known pixels in
    the flattest tiles (Donoho & Johnstone 1994; weak-texture tiles as in Liu, Tanaka & Okutomi 2013).

    Args:
        y: the measurement (B, C, H, W) (or (H, W), (C, H, W)), [0, 1] image units.
        known: which pixels are data, broadcastable to y (bool or 0/1; 1 = known), e.g. an inpainting mask; None:
            all.
        clipped: take values of exactly 0 or 1 as clipped, not data (default True).
        level: selection quantile in (0, 1) (default 0.5): lower keeps fewer, flatter tiles.
        seed: seeds the unit-noise draws that calibrate the estimate (default 0).
    """
    planes = _planes(y, "y")
    usable = _known(known, y, planes)
    if clipped:
        usable = usable & (planes != 0) & (planes != 1)
    planes, usable = _subsample(planes, usable, IMAGE_BAND)
    name, prepared = _choose_stencils(usable)
    counts = _tile_counts([ok for ok, _ in prepared], (IMAGE_TILE, IMAGE_TILE))
    occupied = counts[counts > 0]  # the residuals' density where there are any (a box mask: 1; a random one: less)
    density = float(occupied.mean()) / IMAGE_TILE ** 2 if occupied.numel() else 1.0
    side = max(IMAGE_TILE, round(IMAGE_TILE / math.sqrt(density)))
    where = "the known pixels" if known is not None else "the pixels"
    return _estimate(planes, prepared, (side, side), level=level, seed=seed,
                     method=f"{name} of {where}, flattest {side}x{side} tiles")


def estimate_sinogram_noise(y: torch.Tensor, *, detector_axis: int = -1, level: float = LEVEL,
                            seed: int = 0) -> NoiseEstimate:
    """σ_y of white Gaussian noise in a sinogram, from second differences along the detectors in the flattest
    detector tiles (line integrals of an image vary slowly between neighbouring detectors except at its edges;
    Donoho & Johnstone 1994, weak-texture tiles as in Liu, Tanaka & Okutomi 2013).

    Args:
        y: the sinogram (B, C, n_angles, detectors) (or (n_angles, detectors)), sinogram units.
        detector_axis: the detector axis, -1 (this package's ParallelBeamCT) or -2 (DeepInverse's Tomography).
        level: selection quantile in (0, 1) (default 0.5).
        seed: seeds the unit-noise draws that calibrate the estimate (default 0).
    """
    if detector_axis not in (-1, -2):
        raise InputError(f"detector_axis must be -1 or -2, got {detector_axis!r}")
    planes = _planes(y, "the sinogram")
    if detector_axis == -2:
        planes = planes.transpose(-1, -2).contiguous()
    name, stencils = SINOGRAM_STENCIL
    usable = torch.ones_like(planes, dtype=torch.bool)
    planes, usable = _subsample(planes, usable, 8)
    return _estimate(planes, [prepare(usable) for prepare in stencils], (1, SINOGRAM_TILE), level=level, seed=seed,
                     method=f"{name}, flattest {SINOGRAM_TILE}-detector tiles")


def estimate_noise(y: torch.Tensor, operator) -> NoiseEstimate:
    """σ_y of y = A x + n from y alone, by the operator's family: the known pixels of an inpainting mask, the image
    of a blur or a downsampling, the detector rows of a CT sinogram (:func:`estimate_image_noise`,
    :func:`estimate_sinogram_noise`).

    Args:
        y: the measurement as ``operator.A`` produces it.
        operator: an operator of family "inpaint" (with ``mask``, 1 = known), "deblur", "sr" or "ct".
    """
    family = getattr(operator, "family", "other")
    if family == "inpaint":
        mask = getattr(operator, "mask", None)
        if not isinstance(mask, torch.Tensor):
            raise InputError("sigma_y='auto' needs the inpainting operator's mask (operator.mask, 1 = known)")
        return estimate_image_noise(y, known=mask.detach().to(y.device) > 0.5)
    if family in ("deblur", "sr"):
        return estimate_image_noise(y)
    if family == "ct":
        angles = getattr(operator, "angles_deg", None)
        rows = len(angles) if angles is not None else None
        axis = -2 if rows is not None and y.ndim >= 2 and y.shape[-1] == rows != y.shape[-2] else -1
        return estimate_sinogram_noise(y, detector_axis=axis)
    raise InputError(f"sigma_y='auto' estimates the noise of inpaint, deblur, sr and ct measurements, not of an "
                     f"operator of family {family!r}; pass sigma_y as a number")


def _planes(y, what: str) -> torch.Tensor:
    """y as float32 planes (N, 1, H, W) on the CPU."""
    if not isinstance(y, torch.Tensor) or not y.is_floating_point() or y.ndim < 2:
        raise InputError(f"{what} must be a real float tensor (..., H, W) to estimate its noise")
    if not bool(torch.isfinite(y).all()):
        raise InputError(f"{what} holds NaN or infinite values")
    return y.detach().to("cpu", torch.float32).reshape(-1, 1, *y.shape[-2:])


def _known(known, y: torch.Tensor, planes: torch.Tensor) -> torch.Tensor:
    if known is None:
        return torch.ones_like(planes, dtype=torch.bool)
    mask = torch.as_tensor(known).detach().to("cpu")
    try:
        mask = torch.broadcast_to(mask, y.shape)
    except RuntimeError:
        raise InputError(f"the mask of shape {tuple(mask.shape)} does not fit y of shape {tuple(y.shape)}") from None
    return (mask > 0.5 if mask.dtype != torch.bool else mask).reshape(planes.shape)


def _choose_stencils(usable: torch.Tensor):
    """(description, [(where complete, apply)]): the first high-pass set of IMAGE_STENCILS with PREFERRED complete
    positions, else the one with the most; one-line InputError when even that has fewer than MIN_RESIDUALS."""
    best, most = None, -1
    for name, highpasses in IMAGE_STENCILS:
        prepared = [prepare(usable) for prepare in highpasses]
        total = sum(int(ok.sum()) for ok, _ in prepared)
        if total >= PREFERRED:
            return name, prepared
        if total > most:
            best, most = (name, prepared), total
    if most < MIN_RESIDUALS:
        raise InputError(f"too few known neighbouring pixels to estimate the noise ({most} high-pass values, need "
                         f"{MIN_RESIDUALS}); pass the noise level as a number")
    return best


def _complete(usable: torch.Tensor, stencil) -> torch.Tensor:
    """Where the whole stencil lies on usable pixels (the positions of a valid correlation), (N, 1, H', W')."""
    out = usable
    for dim, taps in zip((-2, -1), stencil):
        size = out.shape[dim] - len(taps) + 1
        if size < 1:
            return torch.zeros(usable.shape[0], 1, 0, 0, dtype=torch.bool)
        out = functools.reduce(torch.logical_and, (out.narrow(dim, k, size) for k in range(len(taps))))
    return out


def _correlate(planes: torch.Tensor, stencil) -> torch.Tensor:
    """The valid correlation of (N, 1, H, W) planes with a separable stencil, (N, 1, H', W')."""
    out = planes
    for dim, taps in zip((-2, -1), stencil):
        size = out.shape[dim] - len(taps) + 1
        out = sum(weight * out.narrow(dim, k, size) for k, weight in enumerate(taps))
    return out


def _tile_sums(planes: torch.Tensor, prepared: list, tile) -> torch.Tensor:
    """Sums of squared high-pass values per tile, a float64 vector over the planes' whole tiles; a value belongs to
    the tile of its stencil's top-left pixel."""
    rows, cols = _grid([ok for ok, _ in prepared], tile)
    sums = 0
    for ok, apply in prepared:
        sums = sums + _pooled(torch.where(ok, apply(planes), 0.0) ** 2, rows, cols, tile)
    return sums.double().flatten()


def _grid(complete: list, tile) -> tuple[int, int]:
    """Whole tiles down and across, common to every stencil's positions."""
    return min(ok.shape[-2] for ok in complete) // tile[0], min(ok.shape[-1] for ok in complete) // tile[1]


def _pooled(values: torch.Tensor, rows: int, cols: int, tile) -> torch.Tensor:
    """Sums of ``values`` (N, 1, H', W') over the rows x cols whole tiles, (N, rows, cols)."""
    th, tw = tile
    return values[..., : rows * th, : cols * tw].reshape(-1, rows, th, cols, tw).sum((2, 4))


def _tile_counts(complete: list, tile) -> torch.Tensor:
    """Complete stencil positions per whole tile, summed over the stencils, a float64 vector."""
    rows, cols = _grid(complete, tile)
    return sum(_pooled(ok, rows, cols, tile) for ok in complete).double().flatten()


def _subsample(planes: torch.Tensor, usable: torch.Tensor, band: int):
    """At most MAX_VALUES values: bands of ``band`` rows spread evenly down the image, stacked as planes."""
    n, _, height, width = planes.shape
    if planes.numel() <= MAX_VALUES or height < 2 * band:
        return planes, usable
    starts = list(range(0, height - band + 1, band))
    step = math.ceil(len(starts) / max(1, MAX_VALUES // (n * band * width)))
    chosen = starts[::step]
    return tuple(torch.cat([t[..., start:start + band, :] for start in chosen]) for t in (planes, usable))


def _estimate(planes, prepared: list, tile, *, level: float, seed: int, method: str) -> NoiseEstimate:
    """The calibrated flattest-tile estimate of σ for ``planes`` (N, 1, H, W) with the high-passes ``prepared``
    [(where complete, apply)]."""
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise InputError(f"level must be a number in (0, 1), got {level!r}")
    complete = [ok for ok, _ in prepared]
    counts = _tile_counts(complete, tile) if min(min(ok.shape[-2:]) for ok in complete) > 0 else torch.zeros(1)
    kept = counts >= max(8.0, 0.5 * float(counts.max()))
    residuals = int(counts[kept].sum())
    if residuals < MIN_RESIDUALS:
        raise InputError(f"too few usable measurements to estimate the noise ({residuals} high-pass values, need "
                         f"{MIN_RESIDUALS}); pass the noise level as a number")
    energies = _tile_sums(planes, prepared, tile)[kept] / counts[kept]
    tiles = int(kept.sum())
    generator = torch.Generator().manual_seed(seed)
    draws = min(MAX_DRAWS, max(MIN_DRAWS, math.ceil(REFERENCE_TILES / tiles)))
    reference = []
    for _ in range(draws):
        noise = torch.randn(planes.shape, generator=generator, dtype=planes.dtype)
        reference.append(_tile_sums(noise, prepared, tile)[kept] / counts[kept])
    pooled = torch.cat(reference)
    threshold = float(torch.quantile(pooled, level))
    below = float(pooled[pooled <= threshold].mean())
    centre = float(pooled.median())

    def flattest(e: torch.Tensor) -> float:
        """The fixed point v = mean(e over tiles with e <= v · threshold) / below, from the median tile."""
        variance = float(e.median()) / centre
        for _ in range(MAX_ITERATIONS):
            chosen = e <= variance * threshold
            if not bool(chosen.any()):
                break
            update = float(e[chosen].mean()) / below
            if abs(update - variance) <= 1e-7 * variance:
                return update
            variance = update
        return variance

    scale = sum(math.sqrt(flattest(e)) for e in reference) / draws
    values = torch.cat([apply(planes)[ok] for ok, apply in prepared])
    return NoiseEstimate(sigma=math.sqrt(flattest(energies)) / scale, method=method, residuals=residuals, tiles=tiles,
                         mad=float(values.abs().median()) / NORMAL_MAD)
