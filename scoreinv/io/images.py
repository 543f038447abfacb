"""Reading and writing images at the public boundary: float tensors (C, H, W) in [0, 1].

Every failure is an :class:`InputError` (a ``ValueError``) with a one-line message; outputs are written to a
temporary file beside the target and renamed into place, so a file is written whole or not at all. Images are
written with 8 bits a sample, or 16 (PNG and TIFF); 16-bit files are read at their full depth, colour PNGs too.
"""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import torch

from scoreinv.errors import InputError
from scoreinv.io.atomic import atomic_path

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}
DEEP_FORMATS = ("PNG", "TIFF")  # the formats written with 16 bits a sample
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_image(path, *, channels: int | None = None, max_pixels: int | None = None) -> torch.Tensor:
    """Read an image as float32 (C, H, W) in [0, 1], its mode converted explicitly; any alpha channel is dropped
    (the stored colours are kept, not composited).

    Args:
        path: a PNG, JPEG, TIFF or BMP file (any mode of :mod:`scoreinv.io.pixels`).
        channels: 1 converts colour to grey (ITU-R 601 luma), 3 repeats grey; None keeps the file's channels.
        max_pixels: refuse files of more pixels, read from the header before decoding (default
            :func:`scoreinv.io.pixels.max_pixels`, 64 megapixels).
    """
    pixels, _ = _read_pixels(path, max_pixels=max_pixels)
    image = {4: pixels[..., :3], 2: pixels[..., :1]}.get(pixels.shape[-1], pixels)  # drop alpha
    return _to_channels(torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1), channels, path)


def read_alpha(path, *, max_pixels: int | None = None) -> torch.Tensor | None:
    """The alpha channel of an RGBA / grey-alpha / transparent-palette image as (1, H, W) in [0, 1], or None if it
    has none (a CMYK image has none: its K channel is ink)."""
    pixels, _ = _read_pixels(path, max_pixels=max_pixels)
    if pixels.shape[-1] not in (2, 4):
        return None
    return torch.from_numpy(np.ascontiguousarray(pixels[..., -1:])).permute(2, 0, 1)


def _read_pixels(path, *, max_pixels: int | None = None) -> tuple[np.ndarray, int]:
    """(H, W, C) float32 in [0, 1] and the bit depth; one-line errors for missing, unreadable, oversized or
    unsupported files (see :mod:`scoreinv.io.pixels` for each mode's conversion). A 16-bit colour PNG, which Pillow
    reduces to 8 bits, is decoded again at full depth once Pillow has checked it."""
    from scoreinv.io.pixels import decode

    pixels, bits = decode(path, limit=max_pixels)
    header = _png_header(path)
    if bits == 8 and header and header[2] == 16 and header[3] in (2, 4, 6):
        deep = _png_16(path)
        if deep is not None and deep.shape == pixels.shape:
            return deep, 16
    return pixels, bits


def _png_header(path) -> tuple | None:
    """(width, height, bit depth, colour type) from a PNG's IHDR chunk, or None for any other file."""
    try:
        with open(path, "rb") as file:
            head = file.read(29)
    except OSError:
        return None
    if len(head) < 29 or head[:8] != _PNG_SIGNATURE or head[12:16] != b"IHDR":
        return None
    width, height, depth, colour = struct.unpack(">IIBB", head[16:26])
    return width, height, depth, colour


def _png_16(path) -> np.ndarray | None:
    """A 16-bit PNG as (H, W, C) float32 in [0, 1] through torchvision's decoder (EXIF orientation applied), or None
    when it fails (the 8-bit reading stands)."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # torchvision 0.29 points to torchcodec
            from torchvision.io import ImageReadMode, decode_png, read_file

            planes = decode_png(read_file(str(path)), ImageReadMode.UNCHANGED, apply_exif_orientation=True)
        return (planes.to(torch.int32).permute(1, 2, 0).numpy().astype(np.float32) / 65535.0)
    except Exception:  # noqa: BLE001 - an older torchvision or an odd file: keep Pillow's reading
        return None


def bit_depth(path) -> int:
    """Bits a sample of an image file, read from its header: 16 for 16-bit PNG, TIFF or Pillow's 32-bit integer
    images, 32 for floating-point TIFF, otherwise (and for any file that cannot be read) 8.

    Args:
        path: the image file.
    """
    header = _png_header(path)
    if header:
        return 16 if header[2] == 16 else 8
    from PIL import Image

    try:
        with Image.open(path) as image:
            if image.format == "TIFF":
                tags = getattr(image, "tag_v2", {})
                floats = 3 in tuple(tags.get(339, (1,)))  # SampleFormat 3: IEEE floats
                return 32 if floats else 16 if max(tags.get(258, (8,))) > 8 else 8
            return {"I": 16, "F": 32}.get(image.mode, 16 if image.mode.startswith("I;16") else 8)
    except Exception:  # noqa: BLE001 - a TIFF only tifffile reads, or a file that reading will refuse
        pass
    try:
        import tifffile

        with tifffile.TiffFile(path) as tif:
            dtype = tif.pages[0].dtype
            return 32 if dtype.kind == "f" else 16 if dtype.itemsize > 1 else 8
    except Exception:  # noqa: BLE001 - not an image: reading it gives the one-line error
        return 8


def _to_channels(image: torch.Tensor, channels: int | None, path) -> torch.Tensor:
    if channels is None or image.shape[0] == channels:
        return image.contiguous()
    if channels == 1 and image.shape[0] == 3:
        weights = torch.tensor([0.299, 0.587, 0.114], dtype=image.dtype).reshape(3, 1, 1)
        return (image * weights).sum(0, keepdim=True)
    if channels == 3 and image.shape[0] == 1:
        return image.expand(3, -1, -1).contiguous()
    raise InputError(f"{path}: cannot convert {image.shape[0]} channels to {channels}")


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """(C, H, W) or (H, W) in [0, 1] → (H, W[, C]) uint8, rounding and clipping."""
    return _quantised(image.detach().float(), 255, torch.uint8)


def to_uint16(image: torch.Tensor) -> np.ndarray:
    """(C, H, W) or (H, W) in [0, 1] → (H, W[, C]) uint16 (round(x · 65535)), rounding and clipping."""
    return _quantised(image.detach().double(), 65535, torch.int32).astype(np.uint16)


def _quantised(image: torch.Tensor, top: int, dtype) -> np.ndarray:
    array = image.cpu().clamp(0, 1).mul(top).round().to(dtype).numpy()
    if array.ndim == 3:
        array = array.transpose(1, 2, 0)
        if array.shape[-1] == 1:
            array = array[..., 0]
    return array


def write_image(path, image: torch.Tensor, *, bits: int = 8) -> Path:
    """Write (C, H, W) or (H, W) in [0, 1] as a PNG/JPEG/TIFF/BMP, whole or not at all.

    Args:
        path: the file; its suffix chooses the format.
        image: the picture.
        bits: 8, or 16 a sample (PNG and TIFF only, see :func:`check_bits`).
    """
    check_bits(path, bits)
    with atomic_path(path) as tmp:
        save_image(tmp, image, format=image_format(path), bits=bits)
    return Path(path)


def save_image(path, image: torch.Tensor, *, format: str | None = None, bits: int = 8) -> None:
    """Encode (C, H, W) or (H, W) in [0, 1] to ``path`` itself (no temporary: see
    :class:`scoreinv.io.output_set.OutputSet` and :func:`write_image` for whole-or-absent files).

    Args:
        path: the file to write.
        image: the picture, 1 (grey) or 3 (RGB) channels.
        format: "PNG", "JPEG", "TIFF" or "BMP" (default: from ``path``'s suffix).
        bits: 8, or 16 a sample (PNG or TIFF: round(x · 65535), read back within 0.5 / 65535).
    """
    format = format or image_format(path)
    if bits == 16:
        if format not in DEEP_FORMATS:
            raise InputError(f"{path}: {format} holds 8 bits a sample; write 16 bits as .png or .tif")
        array = to_uint16(image)
        if format == "PNG":
            Path(path).write_bytes(encode_png16(array))
        else:
            import tifffile

            tifffile.imwrite(path, array, photometric="minisblack" if array.ndim == 2 else "rgb")
        return
    if bits != 8:
        raise InputError(f"bits must be 8 or 16, got {bits!r}")
    from PIL import Image

    Image.fromarray(to_uint8(image)).save(path, format=format)


def check_bits(path, bits: int, *, flag: str = "-o") -> None:
    """One-line InputError unless an image named ``path`` can hold ``bits`` a sample (16: PNG or TIFF).

    Args:
        path: the output file name.
        bits: 8 or 16.
        flag: how the message names the file.
    """
    if bits not in (8, 16):
        raise InputError(f"--bits takes 8 or 16, got {bits!r}")
    format = image_format(path)
    if bits == 16 and format not in DEEP_FORMATS:
        raise InputError(f"{flag} {path}: {format} holds 8 bits a sample; for --bits 16 name a .png or .tif file")


def encode_png16(array: np.ndarray) -> bytes:
    """A PNG file of 16 bits a sample: (H, W) grey, (H, W, 2) grey + alpha, (H, W, 3) RGB or (H, W, 4) RGBA uint16,
    each row with the Sub filter, deflated.

    Args:
        array: the samples, uint16.
    """
    array = np.ascontiguousarray(array, dtype=">u2")
    height, width = array.shape[:2]
    channels = 1 if array.ndim == 2 else array.shape[2]
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    raw = array.reshape(height, width * channels).view(np.uint8)
    step = 2 * channels  # bytes a pixel
    rows = np.empty((height, raw.shape[1] + 1), np.uint8)
    rows[:, 0] = 1  # filter type Sub: each byte minus the byte one pixel to its left, modulo 256
    rows[:, 1:step + 1] = raw[:, :step]
    rows[:, step + 1:] = raw[:, step:] - raw[:, :-step]

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    return (_PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
            + chunk(b"IEND", b""))


def image_format(path) -> str:
    """Pillow's format name for an image file name's suffix (one-line InputError for others)."""
    suffix = Path(path).suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise InputError(f"{path}: use an image file name ending in .png (or .jpg, .tif, .bmp)")
    return {".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF"}.get(suffix, suffix[1:].upper())


def list_images(folder) -> list[Path]:
    """Image files directly in ``folder``, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(f"{folder}: holds no PNG/JPEG/TIFF/BMP images")
    return files
