"""Quality score: size, sharpness and pose on a real face and degraded copies."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vision.faces.base import DetectedFace, Landmarks
from vision.faces.detectors import build_detector
from vision.faces.image import decode_image
from vision.faces.quality import assess_quality, pose_angles


@pytest.mark.slow
def test_blur_lowers_the_score_of_a_real_face(sample_file):
    image = decode_image(sample_file("faces", "deepface", "img2.jpg").read_bytes())
    face = build_detector("dlib-hog").detect(image)[0]
    blurred = np.asarray(cv2.GaussianBlur(image, (0, 0), face.w / 60), dtype=np.uint8)

    sharp, soft = assess_quality(image, face), assess_quality(blurred, face)

    assert sharp.score > 0.8
    assert sharp.sharpness > 150
    assert soft.sharpness < sharp.sharpness / 5
    assert soft.score < sharp.score / 2
    assert sharp.size_px == face.min_side


def test_pose_from_landmarks():
    frontal = Landmarks(left_eye=(40, 50), right_eye=(80, 50), nose=(60, 70))
    turned = Landmarks(left_eye=(40, 50), right_eye=(80, 50), nose=(76, 70))
    tilted = Landmarks(left_eye=(40, 50), right_eye=(80, 90), nose=(60, 80))

    assert pose_angles(frontal) == (0.0, 0.0)
    assert pose_angles(turned)[0] == pytest.approx(0.4)
    assert pose_angles(tilted)[1] == pytest.approx(45.0)


def test_small_face_without_landmarks_scores_low():
    image = np.full((60, 60, 3), 128, dtype=np.uint8)
    face = DetectedFace(10, 10, 40, 40, confidence=0.9)

    quality = assess_quality(image, face)

    assert quality.size_score == 0.0
    assert quality.sharpness == 0.0
    assert quality.score == 0.0
    assert quality.pose_score == 0.5
