"""People in a live camera session and in recorded-footage analysis: tracked with ids, handed to the fight
scorer and the counter, drawn on the preview with their track ids."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytest
from django.core.exceptions import ValidationError

from core.redis import preview_key, redis_client
from tests.support.sessions import file_camera, quick_config
from workers.preview import PERSON_COLOR, PreviewFrame, render_preview
from workers.session import CameraSession, StopReason

VTEST = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
CCTV = ("fights", "surveillance", "noFight", "nofi001.mp4")  # real CCTV without a fight, 3 s, 1-3 people
WHOLE_FRAME = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]


@pytest.fixture
def scorer_people(monkeypatch):  # type: ignore[no-untyped-def]
    """Records the ``people`` every FightScorer.update call is given."""
    from vision.incidents.fight import FightScorer

    given: list[Any] = []
    original = FightScorer.update

    def update(self, frame, t, people=None):  # type: ignore[no-untyped-def]
        given.append(people)
        return original(self, frame, t, people=people)

    monkeypatch.setattr(FightScorer, "update", update)
    return given


def _green_pixels(jpeg: bytes) -> int:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    return int(np.count_nonzero(np.all(np.abs(image.astype(int) - PERSON_COLOR) < 40, axis=2)))


@pytest.mark.slow
def test_session_tracks_people_on_real_footage_and_hands_them_on(system_file, venue, settings, tmp_path, scorer_people):
    from venues.models import Zone

    # given a camera playing vtest.avi (real pedestrians) with fight detection and a counting zone
    settings.MEDIA_ROOT = tmp_path
    camera = file_camera(venue, system_file("opencv-doc", VTEST), fight_enabled=True, crowd_enabled=True)
    Zone.objects.create(camera=camera, name="Walkway", polygon=WHOLE_FRAME, capacity=40)
    session = CameraSession(camera.pk, config=quick_config(person_fps=2.0), max_duration_s=7.0)

    # when a session runs for 7 s
    assert session.run() is StopReason.DURATION

    # then MoveNet ran at about 2 per second behind the motion gate and followed walkers with stable ids
    stage = session._stages.people
    assert stage is not None
    assert 8 <= stage.runs <= 15
    assert stage.tracks
    assert max(len(track.history) for track in stage.tracks) >= 6  # one id over 6 runs or more
    health = session.health()
    assert health["person_tracks"] == len(stage.tracks)
    assert health["stage_ms"]["people"] > 0
    # and the counter merged them with its faces: the count holds at least the tracked people
    assert health["people"] >= 1
    # and the fight scorer was given the tracked people on every frame it scored
    assert scorer_people
    assert all(people is not None for people in scorer_people)
    assert any(people for people in scorer_people)
    # and the preview shows them as green boxes
    jpeg = redis_client().get(preview_key(camera.pk))
    assert jpeg is not None
    assert _green_pixels(jpeg) > 200


def test_preview_draws_people_with_their_track_ids_beside_face_boxes(system_file):
    # given a real vtest.avi frame, one tracked person (id 7) and one face box
    capture = cv2.VideoCapture(str(system_file("opencv-doc", VTEST)))
    ok, image = capture.read()
    capture.release()
    assert ok
    plain = PreviewFrame(image, (), ())
    marked = PreviewFrame(image, ((600.0, 100.0, 40.0, 40.0),), ("MATCH 0.97",), (((100.0, 100.0, 80.0, 200.0), 7),))
    # when rendered at 640 px
    before, after = render_preview(plain, 640), render_preview(marked, 640)
    # then the person's box is drawn in the people colour (the face keeps its own colour)
    assert _green_pixels(after) - _green_pixels(before) > 300
    decoded = cv2.imdecode(np.frombuffer(after, np.uint8), cv2.IMREAD_COLOR)
    scale = 640 / image.shape[1]
    left = round(100 * scale)
    column = decoded[round(150 * scale) : round(250 * scale), left - 1 : left + 2].astype(int)
    assert np.all(np.abs(column - PERSON_COLOR) < 60, axis=2).any(axis=1).all()
    face = decoded[round(120 * scale), round(600 * scale) - 1 : round(600 * scale) + 2].astype(int)
    assert np.any(np.abs(face - (0, 200, 255)).max(axis=1) < 60)


@pytest.mark.slow
def test_recorded_footage_runs_the_same_person_stage(sample_file, settings, scorer_people):
    from workers.recordings import analyse_file

    # given 3 s of real CCTV footage analysed offline at 5 fps, with people at 2 per second
    settings.CC_PERSON_FPS = 2.0
    report = analyse_file(str(sample_file(*CCTV)), fps=5.0, faces=False, incidents=True)

    # then every timeline point lists the tracked people's ids and some id lasts across points
    ids = [point["person_ids"] for point in report["timeline"]]
    assert all(isinstance(found, list) for found in ids)
    lasting = set(ids[0]).intersection(*ids[1:])
    assert lasting
    # and the fight scorer was given people on every frame, as live; the stage's cost is reported
    assert scorer_people
    assert all(people is not None for people in scorer_people)
    assert report["stage_ms"]["people"] > 0


@pytest.mark.django_db
def test_a_cameras_own_person_rate_overrides_the_default_and_zero_turns_people_off(venue, tmp_path):
    from workers.camera_config import load_camera
    from workers.pipeline import StageTimer
    from workers.stages import CameraStages

    # given a fight-detecting camera and workers whose default is 2 people runs per second
    camera = file_camera(venue, tmp_path / "clip.mp4", fight_enabled=True)
    stages = CameraStages(quick_config(person_fps=2.0), StageTimer())
    rates = {}
    # when the camera asks for the default, for 0.5 per second, and for none
    for wanted in (None, 0.5, 0.0):
        camera.person_fps = wanted
        camera.full_clean()
        camera.save()
        loaded = load_camera(str(camera.pk))
        assert loaded is not None
        stages.configure(loaded[1])
        rates[wanted] = None if stages.people is None else stages.people.settings.fps
    # then its sessions track people at 2 and 0.5 per second, and not at all
    assert rates == {None: 2.0, 0.5: 0.5, 0.0: None}
    # and a rate out of bounds is refused by validation
    camera.person_fps = 20.0
    with pytest.raises(ValidationError, match="15"):
        camera.full_clean()


def test_live_video_draws_the_people_of_its_own_moment_only():
    from workers.preview import LivePublisher

    # given a live publisher handed one face and one tracked person (id 4) of a frame captured at t=100
    publisher = LivePublisher(redis_client(), "cam", lambda after, timeout: None)
    person = ((10.0, 20.0, 30.0, 90.0), 4)
    publisher.offer_boxes([(1.0, 2.0, 3.0, 4.0)], [""], 100.0, people=[person])
    # then frames of that moment carry the person with its id, and frames 5 s later carry nothing
    assert publisher.boxes_for(100.4)[2] == (person,)
    assert publisher.boxes_for(105.0) == ((), (), ())
