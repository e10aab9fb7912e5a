"""The person stage (MoveNet behind the motion gate at its own rate) and counting people once."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vision.incidents.people import PersonBox, default_person_detector
from vision.people.count import merge_counted
from vision.people.movenet import Person
from vision.people.stage import PersonStage, PersonStageSettings, shared_detector

VTEST = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"


class _Counting:
    """Wraps the real detector and counts its calls."""

    def __init__(self) -> None:
        self.inner = shared_detector(384, 0.2)
        self.calls = 0

    def detect(self, image):  # type: ignore[no-untyped-def]
        self.calls += 1
        return self.inner.detect(image)


def test_runs_at_its_own_rate_on_real_footage_and_keeps_ids(system_file):
    # given 6 s of vtest.avi (real pedestrians) offered at 10 frames per second to a 2 per second stage
    capture = cv2.VideoCapture(str(system_file("opencv-doc", VTEST)))
    fps = capture.get(cv2.CAP_PROP_FPS) or 10.0
    counting = _Counting()
    stage = PersonStage(PersonStageSettings(fps=2.0), detector=counting)  # type: ignore[arg-type]
    seen: dict[int, int] = {}
    for index in range(int(6 * fps)):
        ok, frame = capture.read()
        assert ok
        if index % round(fps / 10):
            continue
        tracks = stage.process(frame, index / fps)
        if stage.ran:
            for track in tracks:
                seen[track.track_id] = seen.get(track.track_id, 0) + 1
    capture.release()
    # then MoveNet ran about twice a second (12 of the 60 frames), and walkers kept their ids across runs
    assert 11 <= counting.calls <= 13
    assert stage.runs == counting.calls
    assert max(seen.values()) >= 10


def test_a_still_scene_is_not_looked_at_again_until_the_keepalive(system_file):
    # given one real frame of vtest.avi repeated for 5 s at 10 frames per second
    capture = cv2.VideoCapture(str(system_file("opencv-doc", VTEST)))
    ok, frame = capture.read()
    capture.release()
    assert ok
    counting = _Counting()
    stage = PersonStage(PersonStageSettings(fps=5.0), detector=counting)  # type: ignore[arg-type]
    held = [stage.process(frame, i / 10) for i in range(50)]
    # then the detector ran on the first frame and then only at the gate's 2 s keep-alive,
    # while the people of the last run were handed back in between, with their ids
    assert counting.calls == 3
    assert held[0]
    assert all([t.track_id for t in h] == [t.track_id for t in held[0]] for h in held)
    # and, as nothing moved, they stand still: no speed, no limb movement
    assert all(track.speed == 0.0 and track.limb_speed() == 0.0 for track in held[-1])


def test_settings_refuse_bad_values_precisely():
    with pytest.raises(ValueError, match="multiple of 32"):
        PersonStageSettings(input_size=300)
    with pytest.raises(ValueError, match="fps must be within 0-30"):
        PersonStageSettings(fps=-1)
    with pytest.raises(ValueError, match="off"):
        PersonStage(PersonStageSettings(fps=0))


def test_people_merged_with_faces_are_counted_once_on_a_real_photo(sample_file):
    # given a real photo of a couple, close to the camera
    image = cv2.imread(str(sample_file("faces", "deepface", "couple.jpg")))
    people = shared_detector(384, 0.2).detect(image)
    faces = default_person_detector("near").face.detect(image)  # type: ignore[attr-defined]
    assert (len(people), len(faces)) == (2, 2)
    # when MoveNet's people and the head counter's faces are merged
    counted = merge_counted(people, faces)
    # then each of the two is counted once, as a person (their faces absorbed), not four times
    assert len(counted) == 2
    assert all(box.source == "body" for box in counted)


def test_faces_no_person_holds_and_bodies_overlapping_nobody_are_more_people():
    keypoints = np.zeros((17, 3), dtype=np.float32)
    keypoints[0] = (50, 20, 0.9)  # a nose at the top of the person's box
    person = Person(box=(20, 0, 60, 200), score=0.8, keypoints=keypoints)
    own_face = PersonBox(35, 5, 30, 30, 0.9, "face")
    second_face = PersonBox(40, 10, 25, 25, 0.5, "face")  # a duplicate on the same head: a person has one face
    far_face = PersonBox(400, 50, 30, 30, 0.9, "face")
    own_body = PersonBox(18, 2, 64, 196, 1.2, "body")
    far_body = PersonBox(300, 0, 60, 200, 1.0, "body")
    counted = merge_counted([person], [own_face, second_face, far_face, own_body, far_body])
    # then the person absorbs one face and one body; the other three detections are three more people
    assert len(counted) == 4
    assert {(b.x, b.source) for b in counted} == {(20, "body"), (40, "face"), (400, "face"), (300, "body")}


def test_the_count_floor_cannot_be_below_the_tracking_floor():
    from vision.people.stage import PersonStageSettings

    # given a count floor under the floor people are tracked from, then the settings say so
    with pytest.raises(ValueError, match="person count score must be within"):
        PersonStageSettings(min_score=0.3, count_min_score=0.2)
