"""dlib's 5-point shape predictor: landmarks for alignment and pose, loaded once."""

from __future__ import annotations

from functools import cache
from typing import Any

import cv2
import numpy as np

from vision.faces.base import DetectedFace, ImageBGR, Landmarks
from vision.faces.provision import LANDMARKS_5_WEIGHTS, weight_file


@cache
def shape_predictor() -> Any:
    """Return the process-wide dlib 5-point shape predictor."""
    import dlib

    return dlib.shape_predictor(str(weight_file(LANDMARKS_5_WEIGHTS)))


def dlib_rectangle(face: DetectedFace, offset_x: int = 0, offset_y: int = 0) -> Any:
    """Return the face box as a ``dlib.rectangle``, shifted by an optional crop offset."""
    import dlib

    left, top = face.x - offset_x, face.y - offset_y
    return dlib.rectangle(left, top, left + face.w - 1, top + face.h - 1)


def landmarks_from_shape(shape: Any, offset_x: int = 0, offset_y: int = 0) -> Landmarks:
    """Convert a dlib 5-point ``full_object_detection`` into :class:`Landmarks`."""
    points = [(shape.part(i).x + offset_x, shape.part(i).y + offset_y) for i in range(5)]
    eye_a = ((points[0][0] + points[1][0]) / 2, (points[0][1] + points[1][1]) / 2)
    eye_b = ((points[2][0] + points[3][0]) / 2, (points[2][1] + points[3][1]) / 2)
    left, right = sorted((eye_a, eye_b))
    return Landmarks(left_eye=left, right_eye=right, nose=(float(points[4][0]), points[4][1]))


def face_region(image_bgr: ImageBGR, face: DetectedFace, margin: float = 0.5) -> tuple[np.ndarray, int, int]:
    """Return an RGB copy of the box plus ``margin`` on each side, and its (x, y) offset."""
    height, width = image_bgr.shape[:2]
    pad_x, pad_y = int(face.w * margin), int(face.h * margin)
    x0, y0 = max(0, face.x - pad_x), max(0, face.y - pad_y)
    x1, y1 = min(width, face.x + face.w + pad_x), min(height, face.y + face.h + pad_y)
    region = cv2.cvtColor(image_bgr[y0:y1, x0:x1], cv2.COLOR_BGR2RGB)  # same pixels, 10x faster than [..., ::-1]
    return region, x0, y0


def five_points(image_bgr: ImageBGR, face: DetectedFace) -> Landmarks:
    """Run the 5-point shape predictor inside ``face``'s box and return its landmarks."""
    region, x0, y0 = face_region(image_bgr, face)
    shape = shape_predictor()(region, dlib_rectangle(face, x0, y0))
    return landmarks_from_shape(shape, x0, y0)
