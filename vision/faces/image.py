"""Decode uploaded photo bytes safely: format check, pixel-bomb guard, EXIF orientation."""

from __future__ import annotations

import io
import logging
import struct
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from vision.faces.base import ImageBGR
from vision.faces.errors import (
    FaceImageError,
    NotAnImageError,
    TooManyPixelsError,
    TruncatedImageError,
    UnsupportedFormatError,
)

__all__ = [
    "ACCEPTED_FORMATS",
    "FaceImageError",
    "NotAnImageError",
    "TooManyPixelsError",
    "TruncatedImageError",
    "UnsupportedFormatError",
    "decode_image",
    "encode_jpeg",
]

logger = logging.getLogger(__name__)

ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
DEFAULT_MAX_PIXELS = 40_000_000


def _open(data: bytes, max_pixels: int) -> Image.Image:
    if not data:
        raise NotAnImageError("The file is empty.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as error:
        raise TooManyPixelsError(
            f"The image has far more than {max_pixels:,} pixels; it is refused.",
            width=None,
            height=None,
            max_pixels=max_pixels,
        ) from error
    except UnidentifiedImageError as error:
        raise NotAnImageError("The file is not a JPEG, PNG or WebP image.") from error
    except (OSError, SyntaxError, ValueError, struct.error) as error:
        if _has_image_signature(data):
            raise TruncatedImageError(
                "The image header is incomplete or corrupt; upload the original file again."
            ) from error
        raise NotAnImageError("The file is not a JPEG, PNG or WebP image.") from error


def _has_image_signature(data: bytes) -> bool:
    return data.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


def _check_header(image: Image.Image, max_pixels: int) -> None:
    if image.format not in ACCEPTED_FORMATS:
        raise UnsupportedFormatError(f"{image.format or 'This'} images are not accepted; use JPEG, PNG or WebP.")
    width, height = image.size
    if width * height > max_pixels:
        raise TooManyPixelsError(
            f"The image is {width}x{height} pixels; at most {max_pixels:,} pixels are accepted.",
            width=width,
            height=height,
            max_pixels=max_pixels,
        )


def _load(image: Image.Image) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.load()
            return ImageOps.exif_transpose(image).convert("RGB")
    except (OSError, SyntaxError, ValueError) as error:
        raise TruncatedImageError("The image is incomplete or corrupt; upload the original file again.") from error


def decode_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageBGR:
    """Decode JPEG/PNG/WebP bytes to an upright BGR array; raise a ``FaceImageError`` if not.

    The pixel count is checked from the header, before any pixel is decoded.
    """
    image = _open(data, max_pixels)
    _check_header(image, max_pixels)
    rgb = _load(image)
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8)[:, :, ::-1])


def encode_jpeg(image_bgr: ImageBGR, *, quality: int = 90) -> bytes:
    """Encode a BGR array as JPEG bytes (no metadata)."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image_bgr[:, :, ::-1])).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
