"""MoveNet MultiPose people and the person tracker, on real photos and real footage."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vision.people.movenet import KP, Person, PoseDetector, PoseSettings, letterbox
from vision.people.tracker import PersonTracker

VTEST = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"


@pytest.fixture(scope="module")
def detector() -> PoseDetector:
    return PoseDetector(PoseSettings(input_size=384))


def test_finds_each_person_in_a_group_photo_with_keypoints_inside_their_box(detector, sample_file):
    # given a real photo of four men (dlib's bald_guys.jpg)
    image = cv2.imread(str(sample_file("faces", "dlib_detection", "bald_guys.jpg")))
    # when people are detected
    people = detector.detect(image)
    # then at least three are found, each with a nose inside its own box and boxes inside the frame
    assert len(people) >= 3
    height, width = image.shape[:2]
    for person in people[:3]:
        x, y, w, h = person.box
        assert min(x, y) >= 0
        assert x + w <= width + 1
        assert y + h <= height + 1
        nose = person.keypoints[KP["nose"]]
        assert x - 0.1 * w <= nose[0] <= x + 1.1 * w
        assert y - 0.1 * h <= nose[1] <= y + 1.1 * h


def test_a_photo_without_people_gives_nobody(detector, sample_file):
    # given a real photo of dogs
    image = cv2.imread(str(sample_file("faces", "dlib_detection", "dogs.jpg")))
    # when detected with the live threshold, then no confident person comes back
    assert [p for p in detector.detect(image) if p.score >= 0.35] == []


def test_letterbox_keeps_aspect_and_pads_to_multiples_of_32():
    # given a 768x576 frame
    frame = np.full((576, 768, 3), 200, dtype=np.uint8)
    # when prepared for a 256 px input
    tensor, scale = letterbox(frame, 256)
    # then the longer side is 256, the shorter padded to a multiple of 32, RGB int32
    assert tensor.shape == (1, 192, 256, 3)
    assert tensor.dtype == np.int32
    assert scale == pytest.approx(256 / 768)


def test_tracks_walkers_with_stable_ids_on_real_footage(detector, system_file):
    # given 10 s of vtest.avi (real pedestrians), analysed at 3.3 frames per second
    capture = cv2.VideoCapture(str(system_file("opencv-doc", VTEST)))
    fps = capture.get(cv2.CAP_PROP_FPS) or 10.0
    tracker = PersonTracker()
    lifetimes: dict[int, int] = {}
    speeds: list[float] = []
    for index in range(100):
        ok, frame = capture.read()
        assert ok
        if index % 3:
            continue
        for track in tracker.update(detector.detect(frame), index / fps):
            lifetimes[track.track_id] = lifetimes.get(track.track_id, 0) + 1
            speeds.append(track.speed)
    capture.release()
    # then some walkers keep one id for most of the clip, ids are not churned per frame,
    # and walking speeds stay at walking pace (body heights per second)
    assert max(lifetimes.values()) >= 25
    assert len(lifetimes) <= 20
    assert float(np.median(speeds)) < 1.5


def test_velocity_is_in_body_heights_per_second():
    # given one person of height 100 px moving 50 px right in 0.5 s
    keypoints = np.zeros((17, 3), dtype=np.float32)
    tracker = PersonTracker()
    tracker.update([Person(box=(0, 0, 40, 100), score=0.9, keypoints=keypoints)], 0.0)
    (track,) = tracker.update([Person(box=(50, 0, 40, 100), score=0.9, keypoints=keypoints)], 0.5)
    # then the track keeps its id and moves at one body height per second
    assert track.track_id == 1
    assert track.velocity == pytest.approx((1.0, 0.0))
