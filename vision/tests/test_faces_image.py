"""Decoding uploaded photo bytes: accepted formats and each rejection code."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from vision.faces.errors import FaceImageError
from vision.faces.image import decode_image, encode_jpeg


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def test_decodes_a_real_jpeg_to_bgr(sample_file):
    data = sample_file("faces", "deepface", "img1.jpg").read_bytes()

    image = decode_image(data)

    assert image.shape == (1868, 1382, 3)
    assert image.dtype == np.uint8


def test_decodes_webp_named_jpg(sample_file):
    # img47.jpg is really a WebP file
    data = sample_file("faces", "deepface", "img47.jpg").read_bytes()

    assert decode_image(data).shape == (1800, 1350, 3)


def test_applies_exif_orientation():
    # given a 40x20 picture, left half red, right half green, stored with EXIF
    # orientation 6 ("rotate 90 clockwise to display")
    picture = Image.new("RGB", (40, 20), (255, 0, 0))
    picture.paste((0, 255, 0), (20, 0, 40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    data = _encode(picture, "JPEG", exif=exif.tobytes(), quality=95)

    # then it comes out upright (20 wide, 40 high), red on top, in BGR order
    image = decode_image(data)
    assert image.shape == (40, 20, 3)
    assert [int(v) for v in image[5, 10]] == pytest.approx([0, 0, 255], abs=4)
    assert [int(v) for v in image[35, 10]] == pytest.approx([0, 255, 0], abs=4)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "not_an_image"),
        (b"this is a text file renamed to face.jpg\n" * 20, "not_an_image"),
        (b"\xff\xd8\xff" + bytes(range(256)) * 4, "not_an_image"),
        (_png_header_only(8000, 6000), "too_many_pixels"),
        (_png_header_only(100_000, 100_000), "too_many_pixels"),
        (_encode(Image.new("RGB", (8, 8)), "GIF"), "unsupported_format"),
    ],
    ids=["empty", "text-file", "corrupt-jpeg", "48mp-png", "10gp-png-bomb", "gif"],
)
def test_rejects_bad_bytes_with_a_stable_code(data, code):
    with pytest.raises(FaceImageError) as caught:
        decode_image(data)

    assert caught.value.code == code
    assert caught.value.message


def test_pixel_limit_is_checked_from_the_header():
    with pytest.raises(FaceImageError) as caught:
        decode_image(_png_header_only(8000, 6000))

    assert (caught.value.width, caught.value.height) == (8000, 6000)  # type: ignore[attr-defined]
    assert caught.value.max_pixels == 40_000_000  # type: ignore[attr-defined]


def test_custom_pixel_limit():
    data = encode_jpeg(np.zeros((100, 100, 3), dtype=np.uint8))

    with pytest.raises(FaceImageError, match="at most 5,000 pixels") as caught:
        decode_image(data, max_pixels=5_000)
    assert caught.value.code == "too_many_pixels"


@pytest.mark.parametrize("keep", [0.5, 0.02], ids=["half-of-pixels", "header-only"])
def test_truncated_jpeg(sample_file, keep):
    data = sample_file("faces", "deepface", "img2.jpg").read_bytes()

    with pytest.raises(FaceImageError) as caught:
        decode_image(data[: int(len(data) * keep)])

    assert caught.value.code == "truncated"
