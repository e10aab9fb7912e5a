"""Motion gate on synthetic frames and on a real clip."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vision.motion import MotionGate, MotionMethod, MotionSettings


def _scene(square_x: int | None) -> np.ndarray:
    image = np.full((360, 640, 3), 90, dtype=np.uint8)
    if square_x is not None:
        cv2.rectangle(image, (square_x, 100), (square_x + 80, 180), (255, 255, 255), -1)
    return image


@pytest.mark.parametrize("method", [MotionMethod.DIFF, MotionMethod.MOG2])
def test_static_scene_is_gated_and_moving_object_is_not(method):
    # given a gate that has learnt an empty scene
    gate = MotionGate(MotionSettings(method=method, keepalive_s=None))
    first = gate.update(_scene(None), 0.0)
    for n in range(1, 10):
        still = gate.update(_scene(None), n * 0.1)
    # when a bright square appears
    moving = gate.update(_scene(300), 1.0)
    # then
    assert (first.run_detectors, first.reason) == (True, "no background yet")
    assert (still.run_detectors, still.fraction) == (False, 0.0)
    assert moving.run_detectors is True
    assert 0.02 < moving.fraction < 0.06
    assert moving.regions[0][0] == pytest.approx(300, abs=12)


def test_keepalive_runs_detectors_on_a_still_scene():
    # given
    gate = MotionGate(MotionSettings(keepalive_s=2.0))
    gate.update(_scene(None), 0.0)
    # when
    decisions = [gate.update(_scene(None), t).reason for t in (0.5, 1.0, 2.1, 2.5)]
    # then
    assert decisions == ["still", "still", "keepalive", "still"]


def test_resolution_change_resets_background():
    gate = MotionGate()
    gate.update(_scene(None), 0.0)
    result = gate.update(np.zeros((180, 320, 3), dtype=np.uint8), 0.1)
    assert result.reason == "no background yet"


def test_real_clip_has_motion(sample_file):
    # given a clip of people walking
    cap = cv2.VideoCapture(str(sample_file("video", "mot_crowds", "MOT20-05-raw_even_shorter.mp4")))
    gate = MotionGate()
    results = []
    for n in range(15):
        ok, frame = cap.read()
        assert ok
        results.append(gate.update(frame, n / 25))
    cap.release()
    # then most frames after the first show motion
    assert sum(r.reason == "motion" for r in results[1:]) >= 10
