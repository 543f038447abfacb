"""A denoiser evaluated on overlapping tiles blended by a smooth window, and a tile size for a memory budget."""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

PASSED_THROUGH = ("sigma_min", "sigma_max", "sigma_data", "data_mean", "channels", "dihedral", "name", "card",
                  "precision")
BYTES_PER_PIXEL = 1024
BASE_BYTES = 64 * 2 ** 20
DEFAULT_OVERLAP = 32


class TiledDenoiser(nn.Module):
    """``D(x, σ)`` computed tile by tile, the overlaps blended by separable raised-cosine ramps normalised by the
    summed weights (overlap-add, as in the tiled inference of SwinIR, Liang et al. 2021, and MultiDiffusion,
    Bar-Tal et al. 2023), so that one call's memory is that of a tile.

    Tile corners sit on the network's down-sampling grid; a denoiser that does not look beyond a pixel's
    neighbourhood is reproduced away from tile edges (exactly, if pointwise), while a U-Net's GroupNorm layers see
    the tile's statistics, not the image's, which shifts its output a little everywhere; an image no larger than
    one tile is denoised by one plain call. Under autograd each tile is recomputed in the backward pass
    (checkpointing) rather than kept. The attributes of :class:`scoreinv.model.contract.Prior` (and name, card and
    precision where present) are the wrapped denoiser's.

    Args:
        denoiser: D(x, σ) on (B, C, H, W) images in [0, 1], σ a float or (B,) tensor in [0, 1] units.
        tile: largest tile side in pixels (a multiple of ``multiple``); sides of at most ``tile`` are not split,
            longer ones into the fewest tiles that cover them, shrunk to the smallest side that does.
        overlap: least overlap of neighbouring tiles in pixels (0 ≤ overlap ≤ tile − multiple); the blending ramp
            is this wide. None: tile / 4, at most 32.
        multiple: the grid the tile corners sit on (8 for the shipped priors, whose U-Net halves three times).
    """

    def __init__(self, denoiser: nn.Module, *, tile: int = 256, overlap: int | None = None, multiple: int = 8):
        super().__init__()
        if multiple < 1 or tile < multiple or tile % multiple:
            raise ValueError(f"tile must be a positive multiple of {multiple} pixels, got {tile}")
        if overlap is None:
            overlap = min(DEFAULT_OVERLAP, tile // 4, tile - multiple)
        if not 0 <= overlap <= tile - multiple:
            raise ValueError(f"overlap must be between 0 and tile - {multiple} = {tile - multiple} pixels, got "
                             f"{overlap}")
        self.denoiser = denoiser
        self.tile, self.overlap, self.multiple = int(tile), int(overlap), int(multiple)

    def __getattr__(self, name: str):
        if name in PASSED_THROUGH:
            inner = self.__dict__.get("_modules", {}).get("denoiser")
            if inner is None:
                raise AttributeError(name)
            return getattr(inner, name)
        return super().__getattr__(name)

    def forward(self, x: torch.Tensor, sigma) -> torch.Tensor:
        """Denoise ``x`` (B, C, H, W) at ``sigma`` (a float or a (B,) tensor, [0, 1] units) tile by tile."""
        height, width = x.shape[-2:]
        if height <= self.tile and width <= self.tile:
            return self.denoiser(x, sigma)
        rows = tile_spans(height, tile=self.tile, overlap=self.overlap, multiple=self.multiple)
        cols = tile_spans(width, tile=self.tile, overlap=self.overlap, multiple=self.multiple)
        row_weights = span_weights(rows, height, ramp=self.overlap, device=x.device)
        col_weights = span_weights(cols, width, ramp=self.overlap, device=x.device)
        total = torch.zeros(x.shape, dtype=torch.float64, device=x.device)
        norm = torch.zeros((height, width), dtype=torch.float64, device=x.device)
        for (top, bottom), wy in zip(rows, row_weights):
            for (left, right), wx in zip(cols, col_weights):
                window = wy[:, None] * wx[None, :]
                out = self._call(x[..., top:bottom, left:right], sigma)
                total[..., top:bottom, left:right] += out.to(torch.float64) * window
                norm[top:bottom, left:right] += window
        return (total / norm).to(x.dtype)

    def _call(self, piece: torch.Tensor, sigma) -> torch.Tensor:
        # under autograd (DPS, likelihoods) each tile's activations are recomputed in the backward pass instead of
        # kept, so that memory stays that of one tile
        if torch.is_grad_enabled() and piece.requires_grad:
            return checkpoint(self.denoiser, piece, sigma, use_reentrant=False)
        return self.denoiser(piece, sigma)

    def score(self, x: torch.Tensor, sigma) -> torch.Tensor:
        """∇ₓ log p_σ(x) = (D(x, σ) − x) / σ² of the tiled denoiser, shape of ``x``."""
        s = torch.as_tensor(sigma, device=x.device, dtype=x.dtype).reshape(-1, 1, 1, 1)
        return (self(x, sigma) - x) / s ** 2

    def extra_repr(self) -> str:
        return f"tile={self.tile}, overlap={self.overlap}, multiple={self.multiple}"


def tile_spans(length: int, *, tile: int, overlap: int, multiple: int = 8) -> list[tuple[int, int]]:
    """The [start, stop) spans of the tiles along one side: the fewest tiles of at most ``tile`` pixels that cover
    it with neighbours overlapping by at least ``overlap``, all of the smallest side on the grid that does so (the
    last may be shorter, stopping at ``length``), starting on multiples of ``multiple``.

    Args:
        length: side of the image in pixels.
        tile: largest tile side in pixels (a multiple of ``multiple``).
        overlap: least overlap in pixels (≤ tile − multiple).
        multiple: the grid of the starts and of the tile side in pixels.
    """
    if length <= tile:
        return [(0, length)]

    def gaps_for(side: int) -> float:  # gaps between starts that tiles of ``side`` need (inf: none suffices)
        most = (side - overlap) // multiple  # largest step between starts, in units of ``multiple``
        return math.ceil(math.ceil((length - side) / multiple) / most) if most > 0 else math.inf

    gaps = gaps_for(tile)
    side = next(side for side in range(multiple, tile + 1, multiple) if gaps_for(side) <= gaps)
    last = math.ceil((length - side) / multiple)  # last start, in units
    starts = [multiple * (i * (last // gaps) + min(i, last % gaps)) for i in range(gaps + 1)]
    return [(start, min(start + side, length)) for start in starts]


def span_weights(spans: list[tuple[int, int]], length: int, *, ramp: int, device=None) -> list[torch.Tensor]:
    """One float64 weight vector per span: 1 inside, rising as a raised cosine over ``ramp`` pixels at each end
    that has a neighbouring span (never 0, so every pixel is covered), flat at the image's own borders.

    Args:
        spans: [start, stop) spans of :func:`tile_spans`.
        length: side of the image in pixels.
        ramp: ramp width in pixels (0: flat weights, i.e. plain averaging of the overlaps).
        device: where the weights live.
    """
    weights = []
    for start, stop in spans:
        w = torch.ones(stop - start, dtype=torch.float64, device=device)
        n = min(ramp, stop - start)
        if n:
            rise = 0.5 - 0.5 * torch.cos(math.pi * (torch.arange(n, dtype=torch.float64, device=device) + 0.5) / n)
            if start > 0:
                w[:n] = torch.minimum(w[:n], rise)
            if stop < length:
                w[-n:] = torch.minimum(w[-n:], rise.flip(0))
        weights.append(w)
    return weights


def tile_for_memory(budget_bytes: float, channels: int = 1, *, batch: int = 1, bytes_per_pixel: float | None = None,
                    base_bytes: float = BASE_BYTES, multiple: int = 8, minimum: int = 64,
                    maximum: int | None = None) -> int:
    """The largest tile side (a multiple of ``multiple``) whose network call fits ``budget_bytes``, from a linear
    model of one call's peak memory: ``base_bytes + batch · tile² · bytes_per_pixel``.

    Args:
        budget_bytes: memory a call may use, bytes (e.g. free GPU memory minus a margin).
        channels: C of the images; ``bytes_per_pixel`` grows by the input and output copies (8 bytes a channel).
        batch: B of the calls.
        bytes_per_pixel: activation bytes per image pixel of one call (default :data:`BYTES_PER_PIXEL`: with
            :data:`BASE_BYTES`, above the CPU memory growth of the shipped priors' calls in fp32 and bf16 measured in
            docs/performance.md; measure another network with ``python -m scoreinv.bench.tiling --bytes``).
        base_bytes: the part of a call's peak that does not grow with the tile (workspaces), bytes.
        multiple: tile sides are multiples of this (the network's down-sampling factor).
        minimum: the smallest side returned (even when the budget is smaller), pixels.
        maximum: the largest side returned (e.g. the image side), pixels; None: no limit.
    """
    per_pixel = batch * ((BYTES_PER_PIXEL if bytes_per_pixel is None else bytes_per_pixel) + 8 * channels)
    room = max(0.0, float(budget_bytes) - base_bytes)
    side = int(math.isqrt(int(room / per_pixel))) // multiple * multiple
    side = max(side, math.ceil(minimum / multiple) * multiple)
    if maximum is not None:
        side = min(side, math.ceil(maximum / multiple) * multiple)
    return side
