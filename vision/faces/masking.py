"""Privacy masking for evidence exports: find every face with several detectors, then mosaic and blur
each one that is not kept (the confirmed subject's), so neither a person nor a face detector can see it.

Django-free: the caller decides which face to keep (a box, or an embedding match against the subject).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from vision.faces.base import DetectedFace, FaceDetector, ImageBGR

Box = tuple[float, float, float, float]  # x, y, w, h in pixels

MARGIN = 0.3  # each masked box grows by this share of its size on every side (hair, chin, ears)
MOSAIC_CELLS = 3  # a masked face becomes 3x3 cells before the blur


@dataclass(frozen=True)
class MaskResult:
    """The masked image, the boxes masked and the boxes kept sharp."""

    image: ImageBGR
    masked: list[Box]
    kept: list[Box]


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def overlaps(a: Box, b: Box, threshold: float = 0.3) -> bool:
    """The boxes are the same face: IoU above the threshold, or one's centre inside the other."""
    if iou(a, b) >= threshold:
        return True
    cx, cy = a[0] + a[2] / 2, a[1] + a[3] / 2
    return b[0] <= cx <= b[0] + b[2] and b[1] <= cy <= b[1] + b[3]


def merge_boxes(groups: Iterable[Sequence[Box]]) -> list[Box]:
    """Union of several detectors' boxes, one per face (the larger of two overlapping boxes)."""
    merged: list[Box] = []
    for box in sorted((b for group in groups for b in group), key=lambda b: -b[2] * b[3]):
        if not any(overlaps(box, other) or overlaps(other, box) for other in merged):
            merged.append(box)
    return merged


def detect_all(image: ImageBGR, detectors: Sequence[Callable[[ImageBGR], Sequence[Box]]]) -> list[Box]:
    """Every face any of the detectors finds (recall matters more than precision when masking)."""
    return merge_boxes(detector(image) for detector in detectors)


def face_detector_boxes(detector: FaceDetector) -> Callable[[ImageBGR], list[Box]]:
    """Adapt a ``vision.faces`` detector to return plain boxes."""

    def detect(image: ImageBGR) -> list[Box]:
        return [(float(f.x), float(f.y), float(f.w), float(f.h)) for f in detector.detect(image)]

    return detect


def mask_box(image: ImageBGR, box: Box, margin: float = MARGIN) -> None:
    """Mosaic then blur an ellipse around ``box`` in place."""
    height, width = image.shape[:2]
    x, y, w, h = box
    x0, y0 = max(0, int(x - w * margin)), max(0, int(y - h * margin))
    x1, y1 = min(width, int(x + w * (1 + margin)) + 1), min(height, int(y + h * (1 + margin)) + 1)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return
    region = image[y0:y1, x0:x1]
    cells = cv2.resize(region, (MOSAIC_CELLS, MOSAIC_CELLS), interpolation=cv2.INTER_AREA)
    mosaic = cv2.resize(cells, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)
    kernel = max(3, (min(x1 - x0, y1 - y0) // 2) | 1)
    blurred = cv2.GaussianBlur(mosaic, (kernel, kernel), 0)
    ellipse = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.ellipse(ellipse, ((x1 - x0) // 2, (y1 - y0) // 2), ((x1 - x0) // 2, (y1 - y0) // 2), 0, 0, 360, 255, -1)
    region[ellipse > 0] = blurred[ellipse > 0]


def mask_faces(image: ImageBGR, faces: Sequence[Box], keep: Sequence[Box] = ()) -> MaskResult:
    """A copy of ``image`` with every face masked except those overlapping a box in ``keep``."""
    out = np.ascontiguousarray(image.copy())
    masked, kept = [], []
    for box in faces:
        if any(overlaps(box, k) or overlaps(k, box) for k in keep):
            kept.append(box)
            continue
        mask_box(out, box)
        masked.append(box)
    return MaskResult(out, masked, kept)


def best_match(
    image: ImageBGR,
    faces: Sequence[DetectedFace],
    embed: Callable[[ImageBGR, list[DetectedFace]], npt.NDArray[np.float32]],
    reference: npt.NDArray[np.float32],
    min_similarity: float,
) -> DetectedFace | None:
    """The face most similar to ``reference`` (cosine), if it reaches ``min_similarity``."""
    if not faces:
        return None
    vectors = np.asarray(embed(image, list(faces)), np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    ref = np.asarray(reference, np.float32) / max(float(np.linalg.norm(reference)), 1e-12)
    scores = vectors @ ref
    index = int(np.argmax(scores))
    return faces[index] if float(scores[index]) >= min_similarity else None


def mask_people(image: ImageBGR, people: Sequence[Box], involved: Sequence[Box], min_iou: float = 0.2) -> MaskResult:
    """A copy of ``image`` with every person's whole box blurred except the involved ones (IoU >= ``min_iou``)."""
    out = np.ascontiguousarray(image.copy())
    masked, kept = [], []
    for box in people:
        if any(iou(box, other) >= min_iou for other in involved):
            kept.append(box)
            continue
        x, y, w, h = (round(v) for v in box)
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(out.shape[1], x + w), min(out.shape[0], y + h)
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        region = out[y0:y1, x0:x1]
        cells = cv2.resize(region, (max(1, (x1 - x0) // 16), max(1, (y1 - y0) // 16)), interpolation=cv2.INTER_AREA)
        out[y0:y1, x0:x1] = cv2.GaussianBlur(
            cv2.resize(cells, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR), (0, 0), 8
        )
        masked.append(box)
    return MaskResult(out, masked, kept)
