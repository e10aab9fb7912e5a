"""Scores kept for the false-alert budget: what live sessions record, how gaps split it, and what they then use."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import redis

from core.redis import redis_client
from venues.scores import score_log_append, score_log_clear, score_log_read
from vision.incidents.budget import CalibratedThresholds, model_fingerprint
from vision.incidents.fight import FightModel
from vision.incidents.scorelog import quantise
from workers.scores import ScoreRecorder

pytestmark = pytest.mark.django_db

MODEL, ZONES = "0123456789abcdef", "fedcba9876543210"


class _Stage:
    """What the recorder needs of an IncidentStage: its fingerprints, its fight rate and a sink slot."""

    fight_fps = 10.0
    score_fingerprints = (MODEL, ZONES)
    score_sink = None


@pytest.fixture
def history(camera):  # type: ignore[no-untyped-def]
    client = redis_client()
    score_log_clear(client, camera.pk)
    yield client
    score_log_clear(client, camera.pk)


def test_segments_end_where_the_camera_moved_or_paused(camera, history):
    # given a recorder writing a chunk every 5 s of samples
    recorder = ScoreRecorder(partial(score_log_append, history, camera.pk), chunk_s=5.0)
    stage = _Stage()
    recorder.attach(stage)  # type: ignore[arg-type]
    # when it gets 10 s of scores, a moment of camera motion, 10 s more, a 3 s pause and 7 s more
    times = [round(i * 0.1, 1) for i in range(100)]
    for t in times:
        stage.score_sink(t, 0.3, 0.3, False)  # type: ignore[misc]
    stage.score_sink(10.0, 0.0, 0.0, True)  # type: ignore[misc]
    for t in times:
        stage.score_sink(10.1 + t, 0.55, 0.5, False)  # type: ignore[misc]
    for t in [round(i * 0.1, 1) for i in range(70)]:
        stage.score_sink(23.0 + t, 0.9, 0.9, False)  # type: ignore[misc]
    recorder.close()
    # then three segments come back, whole, with their scores on the grid
    found = score_log_read(history, camera.pk, hours=1, model=MODEL, zones=ZONES)
    assert [len(s.t) for s in found] == [100, 100, 70]
    assert [round(s.duration_s(), 2) for s in found] == [10.0, 10.0, 7.0]
    assert [float(s.fight.max()) for s in found] == [0.3, 0.55, 0.9]
    assert found[1].aggression.tolist() == [0.5] * 100
    assert recorder.chunks_written == 2 + 2 + 2


def test_an_unreachable_redis_drops_the_chunk_and_the_camera_goes_on(camera):
    # given a recorder whose Redis does not answer
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    recorder = ScoreRecorder(partial(score_log_append, dead, camera.pk), chunk_s=1.0)
    recorder.attach(_Stage())  # type: ignore[arg-type]
    # when scores arrive for longer than a chunk, then nothing raises and nothing was written
    for i in range(30):
        recorder.add(i * 0.1, 0.4, 0.4, False)
    recorder.close()
    assert recorder.chunks_written == 0


@pytest.mark.slow
def test_recording_is_scored_as_the_live_stage_scores_it(camera, sample_file):
    from vision.incidents.video import iter_frames
    from workers.camera_config import load_camera
    from workers.pipeline import IncidentStage, StageTimer
    from workers.recordings import recording_scores

    clip = sample_file("fights", "violence_clips", "violence_4.mp4")
    loaded = load_camera(str(camera.pk))
    assert loaded is not None
    # when a recording is scored for calibration
    segments = recording_scores(str(clip), loaded[1])
    # then it holds exactly the quantised scores a live stage gives the same frames
    stage = IncidentStage(timer=StageTimer(), crowd=False, fight=True)
    live = []
    for t, frame in iter_frames(clip, stage.fight_fps):
        stage.process(frame, t)
        live.append(quantise(stage.fight_score or 0.0) / 100)
    assert len(segments) == 1
    assert segments[0].fight.tolist() == live


@pytest.mark.slow
def test_a_session_records_its_scores_for_the_budget(venue, sample_file, settings, tmp_path, history):
    from tests.support.sessions import file_camera, quick_config
    from venues.calibration import fingerprints, score_model
    from workers.session import CameraSession

    # given a fight-detecting camera playing a real 5 s street fight
    settings.MEDIA_ROOT = tmp_path
    camera = file_camera(venue, sample_file("fights", "violence_clips", "violence_4.mp4"), fight_enabled=True)
    score_log_clear(history, camera.pk)
    # when a session plays it once
    session = CameraSession(camera.pk, config=quick_config(), max_duration_s=6.5)
    session.run()
    assert session._stages.incidents is not None
    fed = list(session._stages.incidents._scores)  # every (t, score) its triggers saw (the last minute)
    # then exactly those scores are in the camera's history, made with the current model and excluded areas
    model, zones = fingerprints(camera, score_model())
    found = score_log_read(history, camera.pk, hours=1, model=model, zones=zones)
    assert len(found) == 1
    assert found[0].fight.tolist() == [quantise(score) / 100 for _, score in fed]
    offsets_cs = [round((t - fed[0][0]) * 100) for t, _ in fed]
    assert np.round(found[0].t * 100).astype(int).tolist() == offsets_cs
    score_log_clear(history, camera.pk)


def test_the_session_uses_the_thresholds_the_admin_page_shows(camera):
    from tests.support.sessions import quick_config
    from venues.calibration import operating_point
    from workers.camera_config import load_camera
    from workers.session import CameraSession

    current = model_fingerprint(FightModel.from_json())
    camera.face_recognition_enabled = False
    cases = [
        (0.5, None, None, ""),  # model default
        (0.9, None, None, ""),  # more sensitive
        (0.2, 0.66, 0.58, current),  # calibrated on this model: the sensitivity does not move it
        (0.7, 0.66, 0.58, "0000000000000000"),  # calibrated on another model: not in use
    ]
    for sensitivity, fight, aggression, model in cases:
        # given the camera's settings
        camera.sensitivity, camera.fight_threshold, camera.aggression_threshold = sensitivity, fight, aggression
        camera.incident_calibration = {"model": model} if model else {}
        camera.save()
        # when a session configures itself from the row
        session = CameraSession(camera.pk, config=quick_config())
        session._camera, snap = load_camera(str(camera.pk))  # type: ignore[misc]
        session._configure(snap)
        assert session._stages.incidents is not None
        used = [round(t.threshold, 4) for t in session._stages.incidents._triggers]
        # then it uses what the admin page says it uses
        point = operating_point(camera)
        assert used == [point.fight, point.aggression]
        assert point.calibrated == (model == current)
        if model == current:
            assert snap.calibrated == CalibratedThresholds(0.66, 0.58, current)
    assert np.isclose(session._stages.incidents._triggers[0].threshold, FightModel.from_json().threshold_fight - 0.04)
