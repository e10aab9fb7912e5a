"""The demo venue shows the pipeline working: each demo camera raises the alert it is named for."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

from alerts.models import Alert
from venues.models import Camera
from workers.session import CameraSession, StopReason
from workers.tests.test_session_hamilton import quick_config

pytestmark = pytest.mark.slow

SECONDS = {"Entrance (faces)": 9.5, "Concourse (crowd)": 5.0, "Street (incidents)": 6.0}
EXPECTED = {"Entrance (faces)": "face_match", "Concourse (crowd)": "crowd", "Street (incidents)": "fight"}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_demo_camera_raises_what_it_is_named_for(name, sample_data, settings, tmp_path, admin_user):
    from watchlists.matching import reset_cache

    # given the demo venue set up from the sample footage
    settings.MEDIA_ROOT = tmp_path
    settings.VAR_DIR = tmp_path
    call_command("demo_setup")
    reset_cache()
    camera = Camera.objects.get(name=name)
    assert Path(camera.stream_url.removeprefix("file://")).resolve().is_relative_to(sample_data)  # not the fallback
    # when its session plays the clip once
    session = CameraSession(camera.pk, config=quick_config(people_interval_s=0.5), max_duration_s=SECONDS[name])
    assert session.run() is StopReason.DURATION
    # then it raised its kind of alert and no other (an aggression alert may precede a fight: lower threshold)
    kinds = set(Alert.objects.filter(camera=camera).values_list("kind", flat=True))
    assert EXPECTED[name] in kinds
    assert kinds - {EXPECTED[name]} <= ({"aggression"} if EXPECTED[name] == "fight" else set())
