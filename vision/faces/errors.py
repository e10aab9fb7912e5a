"""Errors a face photo can raise, each with a stable ``code`` and a human message."""

from __future__ import annotations

from typing import ClassVar


class FaceImageError(Exception):
    """Base of every rejection of a face photo; ``code`` is stable, ``message`` is for people."""

    code: ClassVar[str] = "face_image_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAnImageError(FaceImageError):
    """The bytes are not a JPEG, PNG or WebP image."""

    code = "not_an_image"


class UnsupportedFormatError(FaceImageError):
    """The bytes are an image, but of a format we do not accept (GIF, TIFF, ...)."""

    code = "unsupported_format"


class TruncatedImageError(FaceImageError):
    """The image header is valid but the pixel data ends early or is corrupt."""

    code = "truncated"


class TooManyPixelsError(FaceImageError):
    """The header announces more pixels than allowed (decompression-bomb guard).

    ``width``/``height`` are None when Pillow itself refused the header as a bomb.
    """

    code = "too_many_pixels"

    def __init__(self, message: str, *, width: int | None, height: int | None, max_pixels: int) -> None:
        super().__init__(message)
        self.width = width
        self.height = height
        self.max_pixels = max_pixels


class NoFaceError(FaceImageError):
    """No face was found in the photo."""

    code = "no_face"


class SeveralFacesError(FaceImageError):
    """Several faces and none clearly the subject; ``boxes`` (largest first) let a person pick one."""

    code = "several_faces"

    def __init__(self, message: str, *, boxes: list[tuple[int, int, int, int]]) -> None:
        super().__init__(message)
        self.boxes = boxes


class InvalidChoiceError(FaceImageError):
    """``choose`` does not name one of the faces found."""

    code = "invalid_choice"


class FaceTooSmallError(FaceImageError):
    """The face is smaller than the minimum size for a reliable template."""

    code = "face_too_small"
