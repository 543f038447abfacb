"""Decoding an image file the user names: a pixel-count limit read from the header before any decoding, then
each Pillow mode converted explicitly to grey, grey + alpha, RGB or RGB + alpha in [0, 1].

Conversions (anything else is refused by its mode's name): 1-bit → 0 / 1; L, LA, RGB, RGBA → ÷ 255; I;16 (16-bit
grey) → ÷ 65535; I (32-bit integers) → ÷ 65535 when within 0…65535 (Pillow's 16-bit convention), else refused;
F (32-bit float) → as is, which must lie in [0, 1]; P / PA (palette) → RGB(A), or grey when every colour of the
picture is grey; CMYK → RGB through its embedded ICC profile when it has a usable one, else R = (1 − C)(1 − K) …
(Adobe's inverted CMYK JPEGs are un-inverted by Pillow's decoder); YCbCr, HSV, RGBX → RGB; LAB (8-bit: L × 255 / 100,
signed a and b) → sRGB with a D65 white; premultiplied La / RGBa → LA / RGBA. The EXIF orientation is applied, so
the pixels are the picture as a viewer shows it. A TIFF that Pillow cannot open or would truncate (more than 8 bits
a sample with several samples a pixel, float colour) is read with tifffile: grey or RGB (+ alpha) only.
"""
from __future__ import annotations

import contextlib
import contextvars
import warnings
from pathlib import Path

import numpy as np

from scoreinv.errors import InputError

DEFAULT_MAX_PIXELS = 64_000_000  # 8000 x 8000: 0.77 GB as float32 RGB, before any reconstruction buffer
_limit = contextvars.ContextVar("scoreinv_max_pixels", default=DEFAULT_MAX_PIXELS)
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N")
_VIA_RGB = {"YCbCr": "RGB", "HSV": "RGB", "RGBX": "RGB", "RGBa": "RGBA", "La": "LA"}
TIFF_SUFFIXES = (".tif", ".tiff")


@contextlib.contextmanager
def pixel_limit(max_pixels: int):
    """Within the block, image files of more than ``max_pixels`` pixels are refused before decoding.

    Args:
        max_pixels: the largest width × height accepted (≥ 1).
    """
    token = _limit.set(int(max_pixels))
    try:
        yield
    finally:
        _limit.reset(token)


def max_pixels() -> int:
    """The pixel-count limit in force (:data:`DEFAULT_MAX_PIXELS` unless :func:`pixel_limit` raised it)."""
    return _limit.get()


def decode(path, *, limit: int | None = None) -> tuple[np.ndarray, int]:
    """(H, W, C) float32 in [0, 1] (C = 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA) and the bit depth (1, 8, 16, 32).

    Args:
        path: the image file.
        limit: the largest width × height accepted (default: :func:`max_pixels`).
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, expected an image file")
    limit = limit or max_pixels()
    try:
        with warnings.catch_warnings(record=True) as caught:  # Pillow's bomb warning: recorded, then refused
            warnings.simplefilter("always", Image.DecompressionBombWarning)
            with _pillow_limit(limit):
                image = Image.open(path)  # reads the header only
    except Image.DecompressionBombError:
        raise _too_large(path, _header_size(path), limit) from None
    except UnidentifiedImageError:
        if path.suffix.lower() in TIFF_SUFFIXES:
            return _tiff(path, limit)
        raise InputError(f"{path}: not a readable image (UnidentifiedImageError)") from None
    except Exception as error:  # noqa: BLE001 - every decoder error becomes one line
        raise InputError(f"{path}: not a readable image ({type(error).__name__})") from None
    with image:
        width, height = image.size
        bomb = any(issubclass(w.category, Image.DecompressionBombWarning) for w in caught)
        if width * height > limit or bomb:
            raise _too_large(path, (width, height), limit)
        if min(width, height) < 1:
            raise InputError(f"{path}: the image is empty ({width}x{height} pixels)")
        bits = getattr(image, "tag_v2", {}).get(258, (8,))
        if image.format == "TIFF" and max(bits) > 8 and len(bits) > 1:
            return _tiff(path, limit)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Pillow's notes on EXIF or palettes; the bomb check ran above
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                from PIL import ImageOps

                return _convert(path, ImageOps.exif_transpose(image))
        except InputError:
            raise
        except Exception as error:  # noqa: BLE001 - a truncated or corrupt file becomes one line
            raise InputError(f"{path}: not a readable image ({type(error).__name__})") from None


def _too_large(path: Path, size: tuple[int, int] | None, limit: int) -> InputError:
    """The refusal of a file of ``size`` (width, height) pixels above ``limit``, naming the option that raises it."""
    pixels = size[0] * size[1] if size else None
    shown = f"{size[1]}x{size[0]} (HxW) = {_count(pixels)}" if size else "more pixels than allowed"
    return InputError(f"{path}: {shown}, above the limit of {_count(limit)}; raise it with --max-pixels "
                      f"{pixels or 'N'} (max_pixels= in Python) if you mean it")


def _count(pixels: int) -> str:
    if pixels < 1_000_000:
        return f"{pixels} pixels"
    return f"{pixels / 1e6:.1f}".rstrip("0").rstrip(".") + " megapixels"


def _header_size(path: Path) -> tuple[int, int] | None:
    """Width and height from the header alone, Pillow's bomb check off (nothing is decoded), or None."""
    from PIL import Image

    try:
        with _pillow_limit(None), Image.open(path) as image:
            return image.size
    except Exception:  # noqa: BLE001 - the size is only for the message
        return None


@contextlib.contextmanager
def _pillow_limit(limit: int | None):
    """Pillow's own decompression-bomb limit set to ours (None: off) while a file is opened, then restored."""
    from PIL import Image

    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = limit
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def _convert(path: Path, image) -> tuple[np.ndarray, int]:
    """The explicit conversion of one Pillow mode (see the module's docstring)."""
    mode = image.mode
    if mode in _VIA_RGB:
        image, mode = image.convert(_VIA_RGB[mode]), _VIA_RGB[mode]
    if mode == "1":
        return np.asarray(image, dtype=bool)[..., None].astype(np.float32), 1
    if mode in ("L", "LA", "RGB", "RGBA"):
        return _bytes(image), 8
    if mode in ("P", "PA"):
        transparent = mode == "PA" or "transparency" in image.info
        return _grey_if_grey(_bytes(image.convert("RGBA" if transparent else "RGB"))), 8
    if mode == "CMYK":
        return _bytes(_cmyk_to_rgb(image)), 8
    if mode == "LAB":
        return _lab_to_rgb(np.asarray(image)), 8
    if mode in _SIXTEEN_BIT:
        return (np.asarray(image).astype(np.float32) / 65535.0)[..., None], 16
    if mode == "I":
        values = np.asarray(image)
        if values.min() < 0 or values.max() > 65535:
            raise InputError(f"{path}: 32-bit integer pixels span [{values.min()}, {values.max()}], beyond 16 bits; "
                             "save the image as 8- or 16-bit, or as floats in [0, 1]")
        return (values.astype(np.float32) / 65535.0)[..., None], 16
    if mode == "F":
        return _floats(path, np.array(image, dtype=np.float32)[..., None]), 32
    raise InputError(f"{path}: unsupported image mode {mode}; save it as grey (L), RGB, RGBA or 16-bit grey")


def _bytes(image) -> np.ndarray:
    array = np.asarray(image, dtype=np.uint8)
    return (array[..., None] if array.ndim == 2 else array).astype(np.float32) / 255.0


def _grey_if_grey(array: np.ndarray) -> np.ndarray:
    """RGB(A) → grey (+ alpha) when the three colour channels are equal everywhere."""
    colour = array[..., :3]
    if (colour == colour[..., :1]).all():
        return np.concatenate([colour[..., :1], array[..., 3:]], -1)
    return array


def _cmyk_to_rgb(image):
    """CMYK → RGB: through the embedded ICC profile to sRGB when Pillow can use it, else the plain formula."""
    profile = image.info.get("icc_profile")
    if profile:
        try:
            import io

            from PIL import ImageCms

            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            return ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
        except Exception:  # noqa: BLE001 - no littlecms or an unusable profile: the plain formula below
            pass
    return image.convert("RGB")


def _lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """Pillow's 8-bit LAB (L × 255 / 100; a, b signed bytes) → sRGB floats in [0, 1], D65 white."""
    import skimage.color

    values = np.stack([lab[..., 0] * (100.0 / 255.0), lab[..., 1].view(np.int8).astype(np.float64),
                       lab[..., 2].view(np.int8).astype(np.float64)], -1)
    return np.clip(skimage.color.lab2rgb(values), 0, 1).astype(np.float32)


def _floats(path: Path, array: np.ndarray) -> np.ndarray:
    if not np.isfinite(array).all():
        raise InputError(f"{path}: the image holds NaN or infinite values")
    if array.min() < 0 or array.max() > 1:
        raise InputError(f"{path}: floating-point pixels must lie in [0, 1], found [{array.min():.3g}, "
                         f"{array.max():.3g}]")
    return array


def _tiff(path: Path, limit: int) -> tuple[np.ndarray, int]:
    """A TIFF Pillow cannot read faithfully, through tifffile: grey or RGB, with an optional alpha sample."""
    try:
        import tifffile

        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            height, width = page.imagelength, page.imagewidth
            if width * height > limit:
                raise _too_large(path, (width, height), limit)
            photometric = page.photometric.name
            array = page.asarray()
    except InputError:
        raise
    except Exception as error:  # noqa: BLE001 - every decoder error becomes one line
        raise InputError(f"{path}: not a readable image ({type(error).__name__})") from None
    array = array[..., None] if array.ndim == 2 else array
    samples = {"MINISBLACK": (1, 2), "RGB": (3, 4)}.get(photometric, ())
    if array.ndim != 3 or array.shape[-1] not in samples:
        raise InputError(f"{path}: unsupported TIFF ({photometric}, shape {array.shape}); save it as grey or RGB")
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0, 8
    if array.dtype == np.uint16:
        return array.astype(np.float32) / 65535.0, 16
    if np.issubdtype(array.dtype, np.floating):
        return _floats(path, array.astype(np.float32)), 32
    raise InputError(f"{path}: unsupported TIFF sample type {array.dtype}; save it as 8- or 16-bit, or floats")
