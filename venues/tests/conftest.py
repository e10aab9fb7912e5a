"""Fixtures of the venues tests: a camera with its own recorded scores (the false-alert budget)."""

from __future__ import annotations

import pytest

from core.redis import redis_client
from venues.models import Camera
from venues.scores import score_log_clear

STREET = ("video", "intel_people", "one-by-one-person-detection.mp4")  # 139 s of people walking past


@pytest.fixture(scope="module")
def street_scores(sample_file):  # type: ignore[no-untyped-def]
    """The (t, fight, aggression, held) samples a live camera's IncidentStage gives on the street clip."""
    from vision.incidents.video import iter_frames
    from workers.pipeline import IncidentStage, StageTimer

    stage = IncidentStage(timer=StageTimer(), crowd=False, fight=True)
    samples: list[tuple[float, float, float, bool]] = []
    stage.score_sink = lambda *sample: samples.append(sample)
    for t, frame in iter_frames(sample_file(*STREET), stage.fight_fps):
        stage.process(frame, t)
    return samples


def record(camera: Camera, samples, loops: int) -> None:  # type: ignore[no-untyped-def]
    """Store the samples in the camera's live score history as `loops` sessions of a looping file camera."""
    from workers.camera_config import load_camera
    from workers.pipeline import IncidentStage, StageTimer
    from workers.scores import live_recorder

    loaded = load_camera(str(camera.pk))
    assert loaded is not None
    stage = IncidentStage(timer=StageTimer(), crowd=False, fight=True, zones=loaded[1].zones)
    recorder = live_recorder(redis_client(), str(camera.pk))
    for _ in range(loops):
        recorder.attach(stage)
        for sample in samples:
            recorder.add(*sample)
    recorder.close()


@pytest.fixture
def busy_camera(camera):  # type: ignore[no-untyped-def]
    """The camera with a budget of 30 alerts per hour and three loops (0.116 h) of the street in its history."""
    camera.alert_budget_per_hour = 30.0
    camera.cooldown_s = 10
    camera.save()
    score_log_clear(redis_client(), camera.pk)
    yield camera
    score_log_clear(redis_client(), camera.pk)
