"""Turn an uploaded photo into one enrolment template, or say precisely why it cannot.

Only what cannot work is refused: an unreadable file, no face, a face under
:data:`DEFAULT_MIN_FACE_PX`, or several faces with none clearly the subject. A small,
blurry or turned face is enrolled with a quality score and a warning (watchlist photos
are often poor: a CCTV still, an old passport photo, a crop from a group photo).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from vision.faces.base import DetectedFace, FaceDetector, FaceEmbedder, FloatArray, ImageBGR
from vision.faces.errors import (
    FaceImageError,
    FaceTooSmallError,
    InvalidChoiceError,
    NoFaceError,
    SeveralFacesError,
)
from vision.faces.image import decode_image, encode_jpeg
from vision.faces.landmarks import five_points
from vision.faces.quality import FaceQuality, QualityWarning, assess_quality, quality_warnings

__all__ = [
    "DEFAULT_MIN_FACE_PX",
    "DOMINANT_AREA_RATIO",
    "EnrolmentFace",
    "FaceImageError",
    "FaceTooSmallError",
    "InvalidChoiceError",
    "NoFaceError",
    "SeveralFacesError",
    "crop_face",
    "prepare_enrolment",
    "subject_face",
]

logger = logging.getLogger(__name__)

DEFAULT_MIN_FACE_PX = 32
"""Shorter side of the face box below which enrolment is refused (measured: see docs/faces.md)."""
DOMINANT_AREA_RATIO = 2.25
"""The largest face is the subject when its box is this many times the next one's (1.5x the width) ..."""
ALONE_AREA_RATIO = 4.0
"""... and it is the face nearest the photo's centre, or it is this many times the next one's anyway."""
CROP_MARGIN = 0.3


@dataclass(frozen=True, slots=True)
class EnrolmentFace:
    """The template made from one photo: embeddings per model, face crop (JPEG), box, quality, warnings."""

    embeddings: dict[str, FloatArray]
    face_jpeg: bytes
    box: tuple[int, int, int, int]
    quality: FaceQuality
    image_size: tuple[int, int]
    warnings: list[QualityWarning] = field(default_factory=list)

    @property
    def embedding(self) -> FloatArray:
        """The first model's embedding (the only one when a single embedder was given)."""
        return next(iter(self.embeddings.values()))

    @property
    def model_name(self) -> str:
        """The first model's name."""
        return next(iter(self.embeddings))


def crop_face(image_bgr: ImageBGR, face: DetectedFace, margin: float = CROP_MARGIN) -> ImageBGR:
    """Return the face box plus ``margin`` of its size on each side, clipped to the image."""
    height, width = image_bgr.shape[:2]
    pad_x, pad_y = int(face.w * margin), int(face.h * margin)
    x0, y0 = max(0, face.x - pad_x), max(0, face.y - pad_y)
    x1, y1 = min(width, face.x + face.w + pad_x), min(height, face.y + face.h + pad_y)
    return image_bgr[y0:y1, x0:x1]


def _centre_distance(face: DetectedFace, width: int, height: int) -> float:
    return math.hypot(face.x + face.w / 2 - width / 2, face.y + face.h / 2 - height / 2)


def subject_face(faces: list[DetectedFace], width: int, height: int) -> tuple[DetectedFace, QualityWarning | None]:
    """The photo's subject: its only face, or one clearly ahead of the rest (with a warning).

    Faces must be largest first. Raises :class:`NoFaceError` or :class:`SeveralFacesError`.
    """
    if not faces:
        raise NoFaceError("No face was found in the photo; use a photo where the face is visible.")
    if len(faces) == 1:
        return faces[0], None
    first, second = faces[0], faces[1]
    ratio = (first.w * first.h) / max(second.w * second.h, 1)
    central = all(_centre_distance(first, width, height) <= _centre_distance(f, width, height) for f in faces[1:])
    if ratio >= ALONE_AREA_RATIO or (ratio >= DOMINANT_AREA_RATIO and central):
        others = len(faces) - 1
        detail = f"{len(faces)} faces were found; the largest, central one was enrolled ({others} other(s) ignored)."
        return first, QualityWarning("several_faces", detail)
    raise SeveralFacesError(
        f"{len(faces)} faces were found and none is clearly the subject; choose which one to enrol.",
        boxes=[face.box for face in faces],
    )


def _choose_face(
    faces: list[DetectedFace], choose: int | None, width: int, height: int
) -> tuple[DetectedFace, QualityWarning | None]:
    if choose is None:
        return subject_face(faces, width, height)
    if not faces:
        raise NoFaceError("No face was found in the photo; use a photo where the face is visible.")
    if not 0 <= choose < len(faces):
        raise InvalidChoiceError(f"Face {choose} does not exist; the photo has {len(faces)} face(s) (0-based).")
    return faces[choose], None


def prepare_enrolment(
    data: bytes,
    *,
    detector: FaceDetector,
    embedders: Sequence[FaceEmbedder],
    min_face_px: int = DEFAULT_MIN_FACE_PX,
    choose: int | None = None,
) -> EnrolmentFace:
    """Decode, detect and embed (with every embedder) the subject's face of an enrolment photo.

    Faces are numbered largest first, the order of ``SeveralFacesError.boxes``.
    Raises a :class:`FaceImageError` subclass with a stable ``code`` on rejection.
    """
    image = decode_image(data)
    height, width = image.shape[:2]
    face, several = _choose_face(detector.detect(image), choose, width, height)
    if face.min_side < min_face_px:
        raise FaceTooSmallError(
            f"The face is {face.min_side} px across; at least {min_face_px} px is needed to tell people apart."
        )
    quality = assess_quality(image, face, face.landmarks or five_points(image, face))
    warnings = ([several] if several else []) + quality_warnings(quality)
    embeddings = {embedder.model_name: embedder.embed(image, face) for embedder in embedders}
    logger.debug("enrolment face %s quality %.2f warnings %s", face.box, quality.score, [w.code for w in warnings])
    return EnrolmentFace(
        embeddings=embeddings,
        face_jpeg=encode_jpeg(crop_face(image, face)),
        box=face.box,
        quality=quality,
        image_size=(width, height),
        warnings=warnings,
    )
