"""Turn an uploaded photo into one enrolment template, or say precisely why it cannot."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from vision.faces.base import DetectedFace, FaceDetector, FaceEmbedder, FloatArray, ImageBGR
from vision.faces.errors import (
    FaceImageError,
    FaceTooBlurryError,
    FaceTooSmallError,
    InvalidChoiceError,
    NoFaceError,
    SeveralFacesError,
)
from vision.faces.image import decode_image, encode_jpeg
from vision.faces.landmarks import five_points
from vision.faces.quality import FaceQuality, assess_quality

__all__ = [
    "DEFAULT_MIN_FACE_PX",
    "DEFAULT_MIN_SHARPNESS",
    "EnrolmentFace",
    "FaceImageError",
    "FaceTooBlurryError",
    "FaceTooSmallError",
    "InvalidChoiceError",
    "NoFaceError",
    "SeveralFacesError",
    "crop_face",
    "prepare_enrolment",
]

logger = logging.getLogger(__name__)

DEFAULT_MIN_FACE_PX = 80
"""Shorter side of the face box; below ~80 px dlib's 150 px chip is mostly upscaled."""
DEFAULT_MIN_SHARPNESS = 50.0
"""Laplacian variance at 112 px (see ``quality``); real sharp photos measure 170-2000."""
CROP_MARGIN = 0.3


@dataclass(frozen=True, slots=True)
class EnrolmentFace:
    """The template made from one photo: embedding, face crop (JPEG), box and quality."""

    embedding: FloatArray
    face_jpeg: bytes
    box: tuple[int, int, int, int]
    quality: FaceQuality
    model_name: str
    image_size: tuple[int, int]


def crop_face(image_bgr: ImageBGR, face: DetectedFace, margin: float = CROP_MARGIN) -> ImageBGR:
    """Return the face box plus ``margin`` of its size on each side, clipped to the image."""
    height, width = image_bgr.shape[:2]
    pad_x, pad_y = int(face.w * margin), int(face.h * margin)
    x0, y0 = max(0, face.x - pad_x), max(0, face.y - pad_y)
    x1, y1 = min(width, face.x + face.w + pad_x), min(height, face.y + face.h + pad_y)
    return image_bgr[y0:y1, x0:x1]


def _choose_face(faces: list[DetectedFace], choose: int | None) -> DetectedFace:
    if not faces:
        raise NoFaceError("No face was found in the photo; use a clear, frontal photo.")
    boxes = [face.box for face in faces]
    if choose is None:
        if len(faces) > 1:
            raise SeveralFacesError(f"{len(faces)} faces were found; choose which one to enrol.", boxes=boxes)
        return faces[0]
    if not 0 <= choose < len(faces):
        raise InvalidChoiceError(f"Face {choose} does not exist; the photo has {len(faces)} face(s) (0-based).")
    return faces[choose]


def _check_usable(quality: FaceQuality, min_face_px: int, min_sharpness: float) -> None:
    if quality.size_px < min_face_px:
        raise FaceTooSmallError(f"The face is {quality.size_px} px across; at least {min_face_px} px is needed.")
    if quality.sharpness < min_sharpness:
        raise FaceTooBlurryError(
            f"The face is too blurry (sharpness {quality.sharpness:.0f}, "
            f"at least {min_sharpness:.0f} needed); use a sharper photo."
        )


def prepare_enrolment(
    data: bytes,
    *,
    detector: FaceDetector,
    embedder: FaceEmbedder,
    min_face_px: int = DEFAULT_MIN_FACE_PX,
    min_sharpness: float = DEFAULT_MIN_SHARPNESS,
    choose: int | None = None,
) -> EnrolmentFace:
    """Decode, detect, check and embed the single (or chosen) face of an enrolment photo.

    Faces are numbered largest first, the order of ``SeveralFacesError.boxes``.
    Raises a :class:`FaceImageError` subclass with a stable ``code`` on rejection.
    """
    image = decode_image(data)
    face = _choose_face(detector.detect(image), choose)
    landmarks = face.landmarks or five_points(image, face)
    quality = assess_quality(image, face, landmarks)
    _check_usable(quality, min_face_px, min_sharpness)
    embedding = embedder.embed(image, face)
    logger.debug("enrolment face %s quality %.2f", face.box, quality.score)
    return EnrolmentFace(
        embedding=embedding,
        face_jpeg=encode_jpeg(crop_face(image, face)),
        box=face.box,
        quality=quality,
        model_name=embedder.model_name,
        image_size=(image.shape[1], image.shape[0]),
    )
