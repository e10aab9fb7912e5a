"""Camera sessions in tests: the Hamilton clip and its enrolled people, quick session tuning, and running
a session on its own thread while the test watches its health."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from django.db import connection

from core.redis import health_key, redis_client
from tests.support.subjects import subject_on
from venues.models import Camera, Venue
from watchlists.enrolment import subject_enroll_photo
from watchlists.matching import reset_cache
from watchlists.models import Subject
from workers.camera_config import SessionConfig
from workers.capture import CaptureSettings
from workers.session import CameraSession

EXAMPLES = ("faces", "face_recognition", "examples")
HAMILTON = (*EXAMPLES, "short_hamilton_clip.mp4")
PEOPLE = {"Lin-Manuel Miranda": "lin-manuel-miranda.png", "Alex Lacamoire": "alex-lacamoire.png"}
DISTRACTOR = ("Not In The Clip", "img1.jpg")  # a deepface sample face; Obama is in the clip's audience
# The clip shows Alex Lacamoire only in profile (0.7-1.5 s) and tiny at the piano: the frontal HOG
# default never finds him, MTCNN does, his profile scores 0.90-0.92 against the frontal enrolment
# photo and its pose-penalised quality is ~0.15-0.2. So the test uses MTCNN, admits quality >= 0.1
# and sets the watchlist to the system floor 0.90 (strangers in the audience score <= 0.89).
HAMILTON_TUNING = {"face_detector": "mtcnn", "embed_min_quality": 0.1}
HAMILTON_THRESHOLD = 0.90


def enrol_people(sample_file: Any, watchlist: Any, actor: Any, people: dict[str, str]) -> dict[str, Subject]:
    """Create one subject per (name, photo) and enrol the photo through the real service."""
    subjects = {}
    for name, photo in people.items():
        parts = (*EXAMPLES, photo) if name != DISTRACTOR[0] else ("faces", "deepface", photo)
        subject = subject_on(watchlist, actor, name)
        path = sample_file(*parts)
        subject_enroll_photo(subject=subject, data=path.read_bytes(), filename=path.name, actor=actor)
        subjects[name] = subject
    reset_cache()
    return subjects


def file_camera(venue: Venue, path: Path, **flags: Any) -> Camera:
    """A camera playing a clip file, with every analyser off but those `flags` turn on."""
    values: dict[str, Any] = {
        "face_recognition_enabled": False,
        "crowd_enabled": False,
        "fight_enabled": False,
        "min_duration_s": 1.0,
        "analysis_fps": 2.0,
    }
    values.update(flags)
    return Camera.objects.create(venue=venue, name=path.stem, stream_url=f"file://{path}", **values)


def quick_config(**overrides: object) -> SessionConfig:
    """Session tuning for tests: short clips, fast capture retries, frequent heartbeats."""
    capture = CaptureSettings(open_timeout_s=2.0, read_timeout_s=2.0, backoff_initial_s=0.2, backoff_max_s=1.0)
    values: dict[str, object] = {
        "clip_pre_s": 2.0,
        "clip_post_s": 1.5,
        "heartbeat_s": 0.5,
        "lease_ttl_s": 3.0,
        "health_persist_s": 1.0,
        "capture": capture,
    }
    values.update(overrides)
    return SessionConfig.from_settings(**values)


def start_in_thread(session: CameraSession) -> threading.Thread:
    """Run a session on its own thread (closing that thread's DB connection at the end)."""

    def run() -> None:
        try:
            session.run()
        finally:
            connection.close()

    thread = threading.Thread(target=run, name=f"session:{session.camera_id}", daemon=True)
    thread.start()
    return thread


def health(camera_id: object) -> dict[str, Any]:
    """The camera's live health as its session last published it ({} when none)."""
    raw = redis_client().get(health_key(camera_id))
    return json.loads(raw) if raw else {}
