"""People and their poses from MoveNet MultiPose Lightning (``models/movenet-multipose.onnx``).

One call finds up to 6 people in a frame: a box, a person score and 17 COCO keypoints each
(nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles), in the frame's pixels.
The frame is scaled so its longer side is ``input_size`` and the shorter side is padded to a
multiple of 32 (the model takes any multiple of 32; it was trained at 256). Larger inputs find
smaller people at a measured cost (``bench/model_speed.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from vision.models import onnx_session

MODEL_NAME = "movenet-multipose"
KEYPOINTS = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
KP = {name: index for index, name in enumerate(KEYPOINTS)}
SKELETON = (
    (5, 6),
    (5, 7),
    (7, 9),
    (6, 8),
    (8, 10),
    (5, 11),
    (6, 12),
    (11, 12),
    (11, 13),
    (13, 15),
    (12, 14),
    (14, 16),
)

Box = tuple[float, float, float, float]
FloatArray = npt.NDArray[np.float32]
ImageBGR = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Person:
    """One person in frame pixels: box (x, y, w, h), person score, keypoints [17, 3] as (x, y, score)."""

    box: Box
    score: float
    keypoints: FloatArray

    @property
    def height(self) -> float:
        """Body size in pixels: the box height (at least 1)."""
        return max(self.box[3], 1.0)

    def point(self, name: str, min_score: float = 0.2) -> tuple[float, float] | None:
        """A keypoint's (x, y) when its score reaches ``min_score``."""
        x, y, score = self.keypoints[KP[name]]
        return (float(x), float(y)) if score >= min_score else None


@dataclass(frozen=True, slots=True)
class PoseSettings:
    """``input_size`` is the longer side fed to the model; people below ``min_score`` are dropped."""

    input_size: int = 256
    min_score: float = 0.2
    threads: int = 1


class PoseDetector:
    """MoveNet MultiPose on CPU; thread-safe (one ONNX session, calls serialised)."""

    def __init__(self, settings: PoseSettings | None = None, session: Any | None = None) -> None:
        self.settings = settings or PoseSettings()
        self._session = session or onnx_session(MODEL_NAME, threads=self.settings.threads)
        self._input = self._session.get_inputs()[0].name
        self._lock = threading.Lock()

    def detect(self, frame_bgr: ImageBGR) -> list[Person]:
        """Every person in the frame scoring at least ``min_score``, best first."""
        tensor, scale = letterbox(frame_bgr, self.settings.input_size)
        with self._lock:
            (raw,) = self._session.run(None, {self._input: tensor})
        return decode(raw[0], tensor.shape[1:3], scale, frame_bgr.shape[:2], self.settings.min_score)


def letterbox(frame_bgr: ImageBGR, input_size: int) -> tuple[npt.NDArray[np.int32], float]:
    """RGB int32 [1, H, W, 3]: the longer side scaled to ``input_size``, the rest padded to a multiple of 32."""
    height, width = frame_bgr.shape[:2]
    scale = input_size / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    pad_w, pad_h = _ceil32(new_w), _ceil32(new_h)
    resized = cv2.resize(frame_bgr, (new_w, new_h), interpolation=cv2.INTER_AREA)
    canvas = np.zeros((pad_h, pad_w, 3), dtype=np.uint8)
    canvas[:new_h, :new_w] = resized[:, :, ::-1]
    return canvas[np.newaxis].astype(np.int32), scale


def decode(
    rows: FloatArray,
    padded_hw: Sequence[int],
    scale: float,
    frame_hw: Sequence[int],
    min_score: float,
) -> list[Person]:
    """Model rows [6, 56] (normalised to the padded input) to people in frame pixels."""
    pad_h, pad_w = float(padded_hw[0]), float(padded_hw[1])
    frame_h, frame_w = float(frame_hw[0]), float(frame_hw[1])
    people: list[Person] = []
    for row in rows:
        score = float(row[55])
        if score < min_score:
            continue
        points = row[:51].reshape(17, 3)
        keypoints = np.empty((17, 3), dtype=np.float32)
        keypoints[:, 0] = np.clip(points[:, 1] * pad_w / scale, 0, frame_w - 1)
        keypoints[:, 1] = np.clip(points[:, 0] * pad_h / scale, 0, frame_h - 1)
        keypoints[:, 2] = points[:, 2]
        y0, x0, y1, x1 = (float(v) for v in row[51:55])
        left, top = max(0.0, x0 * pad_w / scale), max(0.0, y0 * pad_h / scale)
        right, bottom = min(frame_w, x1 * pad_w / scale), min(frame_h, y1 * pad_h / scale)
        if right - left < 2 or bottom - top < 2:
            continue
        people.append(Person(box=(left, top, right - left, bottom - top), score=score, keypoints=keypoints))
    people.sort(key=lambda person: person.score, reverse=True)
    return people


def _ceil32(value: int) -> int:
    return max(32, (value + 31) // 32 * 32)
