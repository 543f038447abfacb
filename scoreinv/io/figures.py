"""Pictures of results: side-by-side panels with labels, image grids and standard-deviation maps.

Every function takes and returns float tensors (C, H, W) in [0, 1] (C = 1 grey or 3 colour), ready for
:func:`scoreinv.io.images.write_image`.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

GAP = 2  # pixels between panels
LABEL_HEIGHT = 12  # pixels of the label strip above small panels (1/20 of the height for large ones)

# Anchor colours of the "inferno" colour map (dark = small spread, bright = large), at equal spacing in [0, 1]
_INFERNO = torch.tensor([
    [0.001, 0.000, 0.014], [0.110, 0.047, 0.283], [0.322, 0.060, 0.430], [0.522, 0.133, 0.420],
    [0.716, 0.215, 0.331], [0.884, 0.342, 0.196], [0.978, 0.557, 0.035], [0.975, 0.799, 0.176],
    [0.988, 0.998, 0.645]], dtype=torch.float32)


def colour_map(values: torch.Tensor) -> torch.Tensor:
    """Map (H, W) values in [0, 1] to (3, H, W) colours of the inferno colour map (0 black, 1 pale yellow)."""
    scaled = values.float().clamp(0, 1) * (len(_INFERNO) - 1)
    low = scaled.floor().long().clamp(max=len(_INFERNO) - 2)
    t = (scaled - low)[..., None]
    rgb = _INFERNO[low] * (1 - t) + _INFERNO[low + 1] * t
    return rgb.permute(2, 0, 1).contiguous()


def std_map(std: torch.Tensor, *, white: float | None = None) -> tuple[torch.Tensor, float]:
    """Pixel-wise posterior spread as a grey image: the std averaged over channels, divided by ``white``.

    Args:
        std: (C, H, W) standard deviation in [0, 1] image units.
        white: the std drawn as white (default: the largest std of the map, so nothing saturates).
    Returns:
        ((1, H, W) in [0, 1], the white level used in [0, 1] image units).
    """
    spread = std.float().mean(0, keepdim=True)
    if white is None:
        white = float(spread.max())
    white = white if white > 0 else 1.0
    return (spread / white).clamp(0, 1), white


def as_colour(image: torch.Tensor) -> torch.Tensor:
    """(1, H, W) → (3, H, W); (3, H, W) unchanged."""
    return image.expand(3, -1, -1) if image.shape[0] == 1 else image


def side_by_side(panels: Sequence[torch.Tensor], *, labels: Sequence[str] | None = None, gap: int = GAP,
                 background: float = 1.0) -> torch.Tensor:
    """Panels in one row, top-aligned on a ``background`` canvas, with optional labels in a strip above each.

    Args:
        panels: (C, H, W) images in [0, 1] of any sizes; grey panels become colour if any panel is colour.
        labels: one short text per panel (drawn with Pillow's default font when Pillow is available).
        gap: pixels between panels.
        background: canvas grey level in [0, 1].
    Returns:
        (C, max H [+ label strip], Σ W + gaps) in [0, 1].
    """
    if not panels:
        raise ValueError("side_by_side needs at least one panel")
    colour = any(p.shape[0] == 3 for p in panels)
    panels = [as_colour(p.float().cpu()) if colour else p.float().cpu() for p in panels]
    channels = panels[0].shape[0]
    tallest = max(p.shape[1] for p in panels)
    strip = max(LABEL_HEIGHT, tallest // 20) if labels else 0
    height = tallest + strip
    width = sum(p.shape[2] for p in panels) + gap * (len(panels) - 1)
    canvas = torch.full((channels, height, width), float(background))
    left = 0
    for i, panel in enumerate(panels):
        h, w = panel.shape[1:]
        canvas[:, strip:strip + h, left:left + w] = panel.clamp(0, 1)
        if labels:
            canvas[:, :strip, left:left + w] = _text(labels[i], w, strip)
        left += w + gap
    return canvas


def image_grid(images: torch.Tensor, *, columns: int | None = None, gap: int = GAP,
               background: float = 1.0) -> torch.Tensor:
    """Images in rows of ``columns`` (default ⌈√n⌉) with ``gap`` pixels between them and no outer border.

    Args:
        images: (n, C, H, W) in [0, 1].
        columns: images per row (≥ 1).
        gap: pixels between neighbours.
        background: grey level of the gaps in [0, 1].
    Returns:
        (C, rows·H + (rows − 1)·gap, columns·W + (columns − 1)·gap).
    """
    n, channels, h, w = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    grid = torch.full((channels, rows * h + (rows - 1) * gap, columns * w + (columns - 1) * gap), float(background))
    for i, image in enumerate(images.float().cpu()):
        top, left = (i // columns) * (h + gap), (i % columns) * (w + gap)
        grid[:, top:top + h, left:left + w] = image.clamp(0, 1)
    return grid


def sinogram_panel(sinogram: torch.Tensor, height: int) -> torch.Tensor:
    """A CT sinogram (C, n_angles, detectors) as a picture ``height`` rows tall (one band per view), scaled so that
    its largest value is white."""
    top = float(sinogram.max())
    scaled = (sinogram.float().cpu().clamp_min(0) / (top if top > 0 else 1.0)).clamp(0, 1)
    return F.interpolate(scaled[None], size=(height, sinogram.shape[-1]), mode="nearest")[0]


def upsample_nearest(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(C, h, w) → (C, H, W) by pixel replication (shows a low-resolution measurement at full size)."""
    return F.interpolate(image.float().cpu()[None], size=size, mode="nearest")[0]


def _text(text: str, width: int, height: int) -> torch.Tensor:
    """A (1, height, width) strip with ``text`` in black on white; a blank strip without Pillow."""
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError:  # pragma: no cover - Pillow ships with scikit-image
        return torch.ones(1, height, width)
    strip = Image.new("L", (max(width, 1), height), 255)
    try:
        font = ImageFont.load_default(size=height - 2)
    except (TypeError, ImportError, OSError):  # Pillow < 10.1 or without FreeType: the fixed bitmap font
        font = ImageFont.load_default()
    ImageDraw.Draw(strip).text((2, 0), text, fill=0, font=font)
    return torch.from_numpy(np.asarray(strip, dtype=np.float32) / 255.0)[None]
