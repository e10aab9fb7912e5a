"""Shared types of the face pipeline: detected faces and the detector/embedder interfaces."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Point = tuple[float, float]
FloatArray = npt.NDArray[np.float32]
ImageBGR = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Landmarks:
    """Five facial points in image pixels; "left" means smaller x in the image.

    Detectors that do not find mouth corners (dlib's 5-point model has eye corners and
    the nose base) leave them ``None``.
    """

    left_eye: Point
    right_eye: Point
    nose: Point
    mouth_left: Point | None = None
    mouth_right: Point | None = None


@dataclass(frozen=True, slots=True)
class DetectedFace:
    """One face found in an image: box (x, y, w, h) in pixels, confidence 0..1, landmarks."""

    x: int
    y: int
    w: int
    h: int
    confidence: float
    landmarks: Landmarks | None = None

    @property
    def box(self) -> tuple[int, int, int, int]:
        """The box as an (x, y, w, h) tuple."""
        return (self.x, self.y, self.w, self.h)

    @property
    def min_side(self) -> int:
        """The shorter side of the box in pixels."""
        return min(self.w, self.h)


@runtime_checkable
class FaceDetector(Protocol):
    """Finds faces in a BGR image; confidence is comparable only within one detector."""

    name: str

    def detect(self, image_bgr: ImageBGR) -> list[DetectedFace]:
        """Return the faces found, largest first."""
        ...


@runtime_checkable
class FaceEmbedder(Protocol):
    """Turns one detected face into a float32, L2-normalised embedding."""

    model_name: str
    dimensions: int

    def embed(self, image_bgr: ImageBGR, face: DetectedFace) -> FloatArray:
        """Return the embedding of ``face`` (shape ``(dimensions,)``)."""
        ...

    def embed_many(self, image_bgr: ImageBGR, faces: list[DetectedFace]) -> FloatArray:
        """Return embeddings of several faces of one image (shape ``(n, dimensions)``)."""
        ...


def l2_normalise(vectors: npt.ArrayLike) -> FloatArray:
    """Return float32 rows scaled to unit length (zero rows stay zero)."""
    array = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(array, axis=-1, keepdims=True)
    out = np.zeros_like(array)
    np.divide(array, norms, out=out, where=norms > 0)
    return out


def largest_first(faces: list[DetectedFace]) -> list[DetectedFace]:
    """Sort faces by box area, largest first (stable for equal areas)."""
    return sorted(faces, key=lambda face: face.w * face.h, reverse=True)
