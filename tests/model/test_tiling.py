"""TiledDenoiser: exact for pointwise and local denoisers, close to the untiled call for a U-Net (whose GroupNorm
sees the tile, not the image), one plain call for small images, gradients through recomputed tiles;
tile_for_memory's sizes."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from scoreinv.metrics.quality import psnr
from scoreinv.model.contract import Prior, missing_attributes
from scoreinv.model.tiling import BASE_BYTES, BYTES_PER_PIXEL, TiledDenoiser, tile_for_memory, tile_spans
from scoreinv.model.wrappers import CountingDenoiser
from scoreinv.priors.registry import load_prior


class Pointwise(nn.Module):
    """A pointwise 'denoiser' shrinking towards 0.5 by a σ-dependent factor (per batch item)."""

    sigma_min, sigma_max, sigma_data, data_mean, channels, dihedral = 0.002, 10.0, 0.25, 0.5, None, True
    name = "pointwise"

    def forward(self, x, sigma):
        s = torch.as_tensor(sigma, dtype=x.dtype).reshape(-1, 1, 1, 1)
        return 0.5 + (x - 0.5) / (1 + s) + 0.1 * torch.sin(7 * x)


class Constant(Pointwise):
    def forward(self, x, sigma):
        return torch.full_like(x, 0.3125)


class Local(Pointwise):
    """Three 3 × 3 convolutions (receptive radius 3 pixels) with zero padding: no global statistics."""

    RADIUS = 3

    def __init__(self, channels: int = 1):
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Conv2d(channels, 4, 3, padding=1), nn.Tanh(), nn.Conv2d(4, 4, 3, padding=1),
                                 nn.Tanh(), nn.Conv2d(4, channels, 3, padding=1))

    def forward(self, x, sigma):
        return x + 0.1 * self.net(x)


def trusted(height: int, width: int, *, tile: int, overlap: int, radius: int) -> torch.Tensor:
    """(H, W) bool: pixels at least ``radius`` from every inner edge of every tile that covers them."""
    def axis(length):
        ok = torch.ones(length, dtype=torch.bool)
        for start, stop in tile_spans(length, tile=tile, overlap=overlap):
            if start > 0:
                ok[start:start + radius] = False
            if stop < length:
                ok[stop - radius:stop] = False
        return ok

    return axis(height)[:, None] & axis(width)[None, :]


@pytest.mark.parametrize("shape", [(1, 1, 100, 100), (2, 1, 53, 77), (3, 3, 41, 130), (1, 1, 129, 17)])
@pytest.mark.parametrize("tile, overlap", [(32, 8), (24, 16), (64, 0)])
def test_pointwise_and_constant_denoisers_are_reproduced_exactly(shape, tile, overlap):
    x = torch.rand(shape, generator=torch.Generator().manual_seed(0))
    sigma = torch.linspace(0.1, 0.5, shape[0])
    for denoiser in (Pointwise(), Constant()):
        plain = denoiser(x, sigma)
        tiled = TiledDenoiser(denoiser, tile=tile, overlap=overlap)(x, sigma)
        assert tiled.shape == x.shape and tiled.dtype == x.dtype
        assert torch.equal(tiled, plain)


@pytest.mark.parametrize("shape", [(1, 1, 96, 96), (2, 3, 57, 83)])
def test_a_local_denoiser_is_exact_away_from_inner_tile_edges(shape):
    denoiser = Local(channels=shape[1])
    x = torch.rand(shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        plain = denoiser(x, 0.1)
        tiled = TiledDenoiser(denoiser, tile=32, overlap=16)(x, 0.1)
    ok = trusted(*shape[-2:], tile=32, overlap=16, radius=Local.RADIUS)
    assert 0.5 < ok.float().mean() < 1
    torch.testing.assert_close(tiled[..., ok], plain[..., ok], rtol=0, atol=1e-6)
    assert (tiled - plain).abs().max() > 1e-4  # the cut receptive field shows near the edges


def randomised_tiny_unet(path, *, norms: bool):
    """The tiny prior with its zero-initialised layers made random (so that it is not pointwise), and with its
    GroupNorm layers replaced by identities unless ``norms``."""
    denoiser = load_prior(str(path), device="cpu", precision="fp32")
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in denoiser.net.parameters():
            if not parameter.any():
                parameter.copy_(0.05 * torch.randn(parameter.shape, generator=generator))
    for module in list(denoiser.net.modules()) if not norms else []:
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.GroupNorm):
                setattr(module, child_name, nn.Identity())
    return denoiser


def camera_crop(top: int, left: int, height: int, width: int, *, sigma: float, seed: int = 5):
    """(clean, noisy) crops (1, 1, H, W) of skimage's camera in [0, 1], the noise N(0, σ²)."""
    import skimage.data

    clean = torch.from_numpy(skimage.data.camera()[top:top + height, left:left + width].copy()).float().div(255)
    clean = clean[None, None]
    return clean, clean + sigma * torch.randn(clean.shape, generator=torch.Generator().manual_seed(seed))


def seam_distance(height: int, width: int, *, tile: int, overlap: int) -> torch.Tensor:
    """(H, W): each pixel's distance in pixels to the nearest inner tile edge."""
    def axis(length):
        index, distance = torch.arange(length), torch.full((length,), length)
        for start, stop in tile_spans(length, tile=tile, overlap=overlap):
            for edge in ([start] if start > 0 else []) + ([stop] if stop < length else []):
                distance = torch.minimum(distance, (index - edge).abs())
        return distance

    return torch.minimum(axis(height)[:, None], axis(width)[None, :])


def test_a_unet_without_group_norm_is_reproduced_on_the_grid(tiny_prior):
    # with GroupNorm gone the U-Net is local (convolutions only): the 16-pixel overlap covers its cut receptive
    # field and corners on its down-sampling grid keep its strided layers aligned, so the tiles reproduce it;
    # no overlap, or corners off the grid, do not
    denoiser = randomised_tiny_unet(tiny_prior, norms=False)
    _, y = camera_crop(100, 150, 97, 120, sigma=0.1)
    with torch.no_grad():
        plain = denoiser(y, 0.1)
        shrunk = denoiser.data_mean + (y - denoiser.data_mean) * denoiser.sigma_data ** 2 / (0.1 ** 2 + 0.25 ** 2)
        network_part = float((plain - shrunk).abs().mean())
        errors = {(overlap, multiple): (TiledDenoiser(denoiser, tile=64, overlap=overlap, multiple=multiple)(y, 0.1)
                                        - plain).abs() for overlap, multiple in [(16, 8), (0, 8), (16, 1)]}
    assert network_part > 1e-3
    good = errors[16, 8]
    assert good.mean() < 0.01 * network_part and good.max() < 1e-3
    for bad in (errors[0, 8], errors[16, 1]):
        assert bad.mean() > 0.01 * network_part and bad.max() > 1e-3


def test_the_shipped_prior_tiled_is_close_to_untiled():
    # a trained U-Net's GroupNorm sees the tile's statistics, not the image's: the tiled output differs from the
    # untiled one a little, evenly over the picture (no seams at the tile edges), and is as good a denoising
    denoiser = load_prior("natural-gray", device="cpu", precision="fp32")
    clean, y = camera_crop(60, 180, 128, 128, sigma=0.2, seed=0)
    with torch.no_grad():
        plain = denoiser(y, 0.2)
        tiled = TiledDenoiser(denoiser, tile=64, overlap=16)(y, 0.2)
    error = (tiled - plain).abs()[0, 0]
    distance = seam_distance(128, 128, tile=64, overlap=16)
    assert error.mean() < 0.1 * (plain - y).abs().mean()
    assert error[distance < 4].mean() < 1.5 * error[distance >= 16].mean()
    assert psnr(tiled, plain) > 40
    assert abs(float(psnr(tiled.clamp(0, 1), clean) - psnr(plain.clamp(0, 1), clean))) < 0.05


def test_tiles_larger_than_the_image_are_one_plain_call(tiny_prior):
    denoiser = load_prior(str(tiny_prior), device="cpu", precision="fp32")
    x = torch.rand(2, 1, 40, 56, generator=torch.Generator().manual_seed(2))
    counting = CountingDenoiser(denoiser)
    with torch.no_grad():
        tiled = TiledDenoiser(counting, tile=64)(x, 0.2)
        assert counting.calls == 1 and torch.equal(tiled, denoiser(x, 0.2))
        counting.calls = 0
        TiledDenoiser(counting, tile=32, overlap=8)(x, 0.2)
    assert counting.calls == 2 * 2  # 40 = 32 + 8 and 56 = 32 + 24 take two tiles a side; the batch goes whole


def test_spans_cover_on_the_grid_with_the_overlap():
    for length in [1, 7, 32, 33, 100, 257, 513, 1000]:
        for tile, overlap in [(32, 8), (32, 24), (256, 32), (64, 0)]:
            spans = tile_spans(length, tile=tile, overlap=overlap)
            side = spans[0][1] - spans[0][0]
            assert spans[0][0] == 0 and spans[-1][1] == length and side <= tile
            assert all(start % 8 == 0 and 0 < stop - start <= side for start, stop in spans)
            assert all(stop - start == side for start, stop in spans[:-1])
            assert all(a[1] - b[0] >= overlap for a, b in zip(spans, spans[1:]))
            assert all(a[0] < b[0] for a, b in zip(spans, spans[1:]))
            if length > tile:  # the fewest tiles of the given side, shrunk as far as that count allows
                assert len(spans) == 1 + math.ceil(math.ceil((length - tile) / 8) / ((tile - overlap) // 8))
                assert side % 8 == 0
                if side - 8 - overlap >= 8:
                    assert len(tile_spans(length, tile=side - 8, overlap=overlap)) > len(spans)


def test_prior_attributes_pass_through(tiny_prior):
    denoiser = load_prior(str(tiny_prior), device="cpu")
    tiled = TiledDenoiser(denoiser, tile=32)
    assert missing_attributes(tiled) == [] and isinstance(tiled, Prior)
    for name in ("sigma_min", "sigma_max", "sigma_data", "data_mean", "channels", "dihedral", "name", "card",
                 "precision"):
        assert getattr(tiled, name) == getattr(denoiser, name)
    assert not hasattr(TiledDenoiser(Local()), "card") and TiledDenoiser(Local()).name == "pointwise"
    assert tiled.to("cpu") is tiled and "tile=32" in repr(tiled)
    x = torch.rand(1, 1, 48, 48)
    with torch.no_grad():
        torch.testing.assert_close(tiled.score(x, 0.5), (tiled(x, 0.5) - x) / 0.25)


def test_reconstruct_accepts_a_tiled_prior(tiny_prior):
    import operators as ops
    from scoreinv.solve.reconstruct import reconstruct

    x = torch.rand(1, 1, 48, 40, generator=torch.Generator().manual_seed(3))
    operator = ops.Mask.random(x.shape, missing=0.5, generator=torch.Generator().manual_seed(0))
    prior = TiledDenoiser(load_prior(str(tiny_prior), device="cpu"), tile=32, overlap=8)
    # the self-ensemble rotates the non-square image (the tiles follow); DPS differentiates through the tiles
    for method, ensemble in [("pnp", True), ("dps", False)]:
        result = reconstruct(operator.A(x), operator, prior=prior, device="cpu", steps=3, method=method,
                             self_ensemble=ensemble)
        assert result.mean.shape == x.shape and torch.isfinite(result.mean).all() and result.nfe == 3
        assert result.settings["prior"] == "tiny-gray" and result.settings["self_ensemble"] is ensemble


def test_gradients_flow_through_the_tiles(monkeypatch):
    # the gradient through the tiles is the untiled one for a pointwise denoiser; for a local one, checkpointing
    # (each tile recomputed in the backward pass, so twice the calls) gives plain autograd's gradient
    x = torch.rand(2, 1, 70, 45, generator=torch.Generator().manual_seed(4), requires_grad=True)
    weights = torch.rand(x.shape, generator=torch.Generator().manual_seed(5))
    tiles = len(tile_spans(70, tile=32, overlap=16)) * len(tile_spans(45, tile=32, overlap=16))

    def gradient(denoiser):
        return torch.autograd.grad((denoiser(x, 0.3) * weights).sum(), x)[0]

    pointwise = Pointwise()
    torch.testing.assert_close(gradient(TiledDenoiser(pointwise, tile=32, overlap=16)), gradient(pointwise))
    counting = CountingDenoiser(Local())
    checkpointed = gradient(TiledDenoiser(counting, tile=32, overlap=16))
    assert counting.calls == 2 * tiles
    monkeypatch.setattr(TiledDenoiser, "_call", lambda self, piece, sigma: self.denoiser(piece, sigma))
    counting.calls = 0
    torch.testing.assert_close(checkpointed, gradient(TiledDenoiser(counting, tile=32, overlap=16)))
    assert counting.calls == tiles


def test_the_default_overlap_fits_the_tile():
    assert TiledDenoiser(Pointwise()).overlap == 32 and TiledDenoiser(Pointwise(), tile=512).overlap == 32
    assert TiledDenoiser(Pointwise(), tile=64).overlap == 16 and TiledDenoiser(Pointwise(), tile=8).overlap == 0


def test_bad_tiles_are_refused():
    with pytest.raises(ValueError, match="multiple of 8"):
        TiledDenoiser(Pointwise(), tile=30)
    with pytest.raises(ValueError, match="overlap"):
        TiledDenoiser(Pointwise(), tile=32, overlap=28)
    with pytest.raises(ValueError, match="overlap"):
        TiledDenoiser(Pointwise(), tile=32, overlap=-1)


def test_tile_for_memory():
    per_pixel = BYTES_PER_PIXEL + 8
    budget = BASE_BYTES + 300 ** 2 * per_pixel
    assert tile_for_memory(budget) == 296
    assert tile_for_memory(budget, batch=4) == 144 and tile_for_memory(budget, channels=3) == 296
    assert tile_for_memory(BASE_BYTES + 100 ** 2 * 108, bytes_per_pixel=100) == 96
    sides = [tile_for_memory(2 ** k) for k in range(26, 36)]
    assert sides == sorted(sides) and all(side % 8 == 0 for side in sides)
    assert tile_for_memory(0) == 64 and tile_for_memory(1e15, maximum=500) == 504
    assert tile_for_memory(1e15, multiple=16, maximum=500) % 16 == 0
