"""The shared upload validator: content, size and pixel count, with precise reasons."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from core.security import UploadRejected, image_upload_check, validate_image_upload


def _image(fmt: str, size=(64, 48)) -> bytes:  # type: ignore[no-untyped-def]
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format=fmt)
    return buffer.getvalue()


def _png_claiming(width: int, height: int) -> bytes:
    """A real 1x1 PNG whose header says width x height (a pixel bomb costs a few bytes)."""
    data = bytearray(_image("PNG", (1, 1)))
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


@pytest.mark.parametrize(
    ("fmt", "name", "content_type", "expected"),
    [
        ("JPEG", "face.jpg", "image/jpeg", "jpeg"),
        ("PNG", "face.png", "image/png", "png"),
        ("WEBP", "face.webp", "image/webp", "webp"),
        ("JPEG", "face", "application/octet-stream", "jpeg"),
    ],
)
def test_good_images_pass(fmt, name, content_type, expected):
    checked = image_upload_check(data=_image(fmt), filename=name, content_type=content_type)
    assert (checked.format, checked.width, checked.height) == (expected, 64, 48)


def _rejected(**kwargs) -> UploadRejected:  # type: ignore[no-untyped-def]
    with pytest.raises(UploadRejected) as info:
        image_upload_check(**kwargs)
    return info.value


def test_oversized_file_is_rejected_before_anything_else(settings):
    settings.CC_MAX_UPLOAD_BYTES = 1024
    error = _rejected(data=b"\xff\xd8\xff" + b"0" * 2000, filename="a.jpg")
    assert (error.code, error.message) == ("too_large", "The file is 2.0\xa0KB; the limit is 1.0\xa0KB.")


def test_empty_file():
    assert _rejected(data=b"", filename="a.jpg").code == "empty"


def test_truncated_jpeg():
    data = _image("JPEG", (400, 300))
    error = _rejected(data=data[: len(data) // 2], filename="a.jpg", content_type="image/jpeg")
    assert (error.code, error.message) == (
        "truncated",
        "The image is truncated (the file ends before the picture does).",
    )


def test_truncated_png():
    data = _image("PNG", (400, 300))
    assert _rejected(data=data[: len(data) // 2], filename="a.png").code == "truncated"


def test_png_named_jpg():
    error = _rejected(data=_image("PNG"), filename="face.JPG", content_type="image/jpeg")
    assert (error.code, error.message) == ("extension_mismatch", "The file is named .jpg but its content is PNG.")


def test_jpeg_declared_as_png():
    error = _rejected(data=_image("JPEG"), filename="face", content_type="image/png")
    assert (error.code, error.message) == (
        "content_type_mismatch",
        "The file was sent as image/png but its content is JPEG.",
    )


@pytest.mark.parametrize("data", [b"<?php system($_GET['c']); ?>", b"GIF89a" + b"\0" * 20, b"%PDF-1.7\n"])
def test_other_content_with_an_image_name(data):
    error = _rejected(data=data, filename="face.jpg", content_type="image/jpeg")
    assert (error.code, error.message) == ("unsupported_format", "The file is not a JPEG, PNG or WebP image.")


def test_pixel_bomb_is_refused_from_its_header(settings):
    settings.CC_MAX_IMAGE_PIXELS = 40_000_000
    error = _rejected(data=_png_claiming(10_000, 5_000), filename="bomb.png")
    assert (error.code, error.message) == (
        "too_many_pixels",
        "The image is 10000 x 5000 pixels (50 megapixels); the limit is 40 megapixels.",
    )


def test_giant_pixel_bomb_beyond_pillows_own_limit():
    error = _rejected(data=_png_claiming(60_000, 60_000), filename="bomb.png")
    assert error.code == "too_many_pixels"


def test_django_validator_raises_validation_error_with_code():
    upload = SimpleUploadedFile("face.jpg", _image("PNG"), content_type="image/jpeg")
    with pytest.raises(ValidationError) as info:
        validate_image_upload(upload)
    assert (info.value.code, info.value.messages) == (
        "extension_mismatch",
        ["The file is named .jpg but its content is PNG."],
    )
    validate_image_upload(SimpleUploadedFile("face.png", _image("PNG"), content_type="image/png"))
