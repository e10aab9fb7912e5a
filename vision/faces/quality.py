"""Face quality score 0..1 from size, sharpness and pose, for enrolment and best-frame choice.

* **size**: shorter side of the face box; 0 at :data:`SIZE_FLOOR_PX`, 1 from
  :data:`SIZE_GOOD_PX` (dlib's chip is 150 px; faces above that carry no more detail
  for the descriptor).
* **sharpness**: variance of the Laplacian of the grey face crop resampled to
  :data:`SHARPNESS_SIDE` px square, so it does not grow with the photo's resolution;
  0 at :data:`SHARPNESS_FLOOR`, 1 from :data:`SHARPNESS_GOOD`. Faces smaller than
  the resample size are upscaled and so also score lower here: tiny faces are soft.
* **pose**: from the 5 landmarks. Yaw: horizontal offset of the nose from the eye
  midpoint divided by the eye distance (0 frontal, ~0.5 near profile). Roll: angle
  of the eye line. Score ``(1 - yaw/YAW_LIMIT) * (1 - |roll|/ROLL_LIMIT_DEG)`` clipped.
* **score**: weighted geometric mean, so one very bad factor pulls the whole score
  down: ``size^0.3 * sharpness^0.4 * pose^0.3``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from vision.faces.base import DetectedFace, ImageBGR, Landmarks

SIZE_FLOOR_PX = 40
SIZE_GOOD_PX = 150
SHARPNESS_SIDE = 112
SHARPNESS_FLOOR = 20.0
SHARPNESS_GOOD = 200.0
YAW_LIMIT = 0.6
ROLL_LIMIT_DEG = 45.0
WEIGHTS = {"size": 0.3, "sharpness": 0.4, "pose": 0.3}
WARN_SIZE_PX = 80
"""Below this the 150/112 px chips are mostly upscaled: usable, but say so."""
WARN_SHARPNESS = 50.0
"""Laplacian variance at 112 px; real sharp photos measure 170-2000 (the old refusal limit)."""
WARN_POSE_SCORE = 0.4
"""Pose score below this: the head is turned (yaw ratio > ~0.36 alone) or tilted."""

WarningCode = Literal["small_face", "blurry", "turned_face", "several_faces"]


@dataclass(frozen=True, slots=True)
class FaceQuality:
    """Quality of one face: overall ``score`` 0..1 plus the raw measurements behind it."""

    score: float
    size_px: int
    sharpness: float
    yaw_ratio: float
    roll_degrees: float
    size_score: float
    sharpness_score: float
    pose_score: float


def _ramp(value: float, low: float, high: float) -> float:
    return float(np.clip((value - low) / (high - low), 0.0, 1.0))


def face_sharpness(image_bgr: ImageBGR, face: DetectedFace) -> float:
    """Variance of the Laplacian of the grey face crop, resampled to a fixed size."""
    crop = image_bgr[face.y : face.y + face.h, face.x : face.x + face.w]
    if crop.size == 0:
        return 0.0
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    shrinking = min(gray.shape) > SHARPNESS_SIDE
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    gray = cv2.resize(gray, (SHARPNESS_SIDE, SHARPNESS_SIDE), interpolation=interpolation)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def pose_angles(landmarks: Landmarks) -> tuple[float, float]:
    """Return (yaw ratio, roll in degrees) from the eye and nose landmarks."""
    (lx, ly), (rx, ry) = landmarks.left_eye, landmarks.right_eye
    eye_distance = math.hypot(rx - lx, ry - ly)
    if eye_distance == 0:
        return 1.0, 90.0
    mid_x = (lx + rx) / 2
    yaw = abs(landmarks.nose[0] - mid_x) / eye_distance
    roll = math.degrees(math.atan2(ry - ly, rx - lx))
    return yaw, roll


def pose_score(landmarks: Landmarks | None) -> tuple[float, float, float]:
    """Return (score, yaw ratio, roll degrees); a neutral 0.5 score without landmarks."""
    if landmarks is None:
        return 0.5, float("nan"), float("nan")
    yaw, roll = pose_angles(landmarks)
    score = (1 - min(yaw / YAW_LIMIT, 1.0)) * (1 - min(abs(roll) / ROLL_LIMIT_DEG, 1.0))
    return score, yaw, roll


def assess_quality(image_bgr: ImageBGR, face: DetectedFace, landmarks: Landmarks | None = None) -> FaceQuality:
    """Score ``face`` 0..1 from size, sharpness and pose (landmarks default to the face's)."""
    size_score = _ramp(face.min_side, SIZE_FLOOR_PX, SIZE_GOOD_PX)
    sharpness = face_sharpness(image_bgr, face)
    sharp_score = _ramp(sharpness, SHARPNESS_FLOOR, SHARPNESS_GOOD)
    pose, yaw, roll = pose_score(landmarks or face.landmarks)
    parts = {"size": size_score, "sharpness": sharp_score, "pose": pose}
    score = math.prod(max(parts[k], 1e-6) ** w for k, w in WEIGHTS.items())
    return FaceQuality(
        score=round(score, 4) if score > 1e-3 else 0.0,
        size_px=face.min_side,
        sharpness=sharpness,
        yaw_ratio=yaw,
        roll_degrees=roll,
        size_score=size_score,
        sharpness_score=sharp_score,
        pose_score=pose,
    )


@dataclass(frozen=True, slots=True)
class QualityWarning:
    """Why a usable face may match less well: a stable ``code`` and a sentence for people."""

    code: WarningCode
    detail: str

    def as_dict(self) -> dict[str, str]:
        """The JSON shape stored on templates and returned by the API."""
        return {"code": self.code, "detail": self.detail}


def quality_warnings(quality: FaceQuality) -> list[QualityWarning]:
    """Warnings for a face that is usable but small, blurry or turned (never a refusal)."""
    found = []
    if quality.size_px < WARN_SIZE_PX:
        found.append(
            QualityWarning(
                "small_face",
                f"The face is {quality.size_px} px across (under {WARN_SIZE_PX} px); a larger photo matches better.",
            )
        )
    if quality.sharpness < WARN_SHARPNESS:
        found.append(
            QualityWarning(
                "blurry",
                f"The face is blurry (sharpness {quality.sharpness:.0f}, sharp photos measure over "
                f"{WARN_SHARPNESS:.0f}); a sharper photo matches better.",
            )
        )
    if quality.pose_score < WARN_POSE_SCORE:
        found.append(QualityWarning("turned_face", "The head is turned or tilted; a frontal photo matches better."))
    return found
