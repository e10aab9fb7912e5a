"""Tracker: stable ids on synthetic boxes, best observation, bounded embeds, expiry."""

from __future__ import annotations

import numpy as np
import pytest

from vision.tracking import EmbedPolicy, Observation, Tracker, face_quality, iou


def _walk(tracker: Tracker, steps: int, start: float = 0.0) -> list[list[int]]:
    """Two faces walking in opposite directions, 10 px per frame at 10 fps."""
    ids = []
    for n in range(steps):
        boxes = [(100.0 + 10 * n, 100.0, 60.0, 60.0), (500.0 - 10 * n, 120.0, 60.0, 60.0)]
        seen = tracker.update([Observation(box=b, quality=0.5) for b in boxes], start + n / 10)
        ids.append([t.track_id for t in seen])
    return ids


def test_iou_of_identical_and_disjoint_boxes():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 10, 10)) == 0.0
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(1 / 3)


def test_two_moving_faces_keep_their_ids():
    # given
    tracker = Tracker("face")
    # when
    ids = _walk(tracker, steps=15)
    # then
    assert ids == [[1, 2]] * 15
    assert len(tracker.tracks) == 2


def test_fast_mover_without_overlap_is_matched_by_centroid():
    # given a face that jumps 45 px (no IoU above threshold) between analysed frames
    tracker = Tracker("face")
    tracker.update([Observation(box=(100, 100, 60, 60), quality=0.5)], 0.0)
    # when
    seen = tracker.update([Observation(box=(145, 100, 60, 60), quality=0.5)], 0.2)
    # then
    assert [t.track_id for t in seen] == [1]


def test_far_away_detection_starts_a_new_track():
    tracker = Tracker("face")
    tracker.update([Observation(box=(100, 100, 60, 60), quality=0.5)], 0.0)
    seen = tracker.update([Observation(box=(400, 300, 60, 60), quality=0.5)], 0.1)
    assert [t.track_id for t in seen] == [2]


def test_track_keeps_best_quality_observation():
    # given
    tracker = Tracker("face")
    for n, quality in enumerate([0.3, 0.8, 0.5]):
        tracker.update([Observation(box=(100 + n, 100, 60, 60), quality=quality, frame_seq=n)], n)
    # when
    track = tracker.tracks[0]
    # then
    assert (track.best.quality, track.best.frame_seq, track.hits) == (0.8, 1, 3)


def test_embeds_are_bounded_per_track():
    # given a face whose quality keeps improving over 30 frames
    policy = EmbedPolicy(min_quality=0.3, improve_margin=0.09, max_embeds=3, min_hits=2)
    tracker = Tracker("face", policy=policy)
    embedded_at = []
    for n in range(30):
        quality = 0.3 + n * 0.02
        track = tracker.update([Observation(box=(100, 100, 60, 60), quality=quality)], n * 0.5)[0]
        # when the pipeline asks before each embed
        if tracker.should_embed(track):
            tracker.mark_embedded(track)
            embedded_at.append(n)
    # then: first good frame, then only after +0.09 quality, never more than 3 times
    assert embedded_at == [1, 6, 11]
    assert tracker.tracks[0].embeds == 3


def test_low_quality_track_is_never_embedded():
    tracker = Tracker("face", policy=EmbedPolicy(min_quality=0.5))
    for n in range(5):
        track = tracker.update([Observation(box=(100, 100, 60, 60), quality=0.2)], n)[0]
    assert tracker.should_embed(track) is False


def test_tracks_expire_after_max_age():
    # given
    tracker = Tracker("person")
    tracker.update([Observation(box=(100, 100, 60, 120), quality=0.5)], 0.0)
    # when
    kept = tracker.expire(1.0)
    gone = tracker.expire(2.0)
    # then
    assert kept == []
    assert [t.track_id for t in gone] == [1]
    assert tracker.tracks == []


def test_face_quality_prefers_large_sharp_faces():
    # given a sharp checkerboard image
    rng = np.random.default_rng(7)
    image = (rng.integers(0, 2, (300, 300, 3)) * 255).astype(np.uint8)
    # when
    big = face_quality(image, (10, 10, 120, 120), confidence=1.0)
    small = face_quality(image, (10, 10, 30, 30), confidence=1.0)
    blank = face_quality(np.zeros_like(image), (10, 10, 120, 120), confidence=1.0)
    # then
    assert big == 1.0
    assert small == pytest.approx(30 / 112, abs=1e-3)
    assert blank == 0.3
