"""The demo venue shows the pipeline working: each demo camera raises the alert it is named for."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

from alerts.models import Alert
from tests.support.demo import run_demo_camera
from venues.models import Camera

pytestmark = pytest.mark.slow

LINGER = {"Entrance (faces)": 1.0, "Concourse (crowd)": 1.0, "Street (incidents)": 4.0}  # aggression may come first
EXPECTED = {"Entrance (faces)": "face_match", "Concourse (crowd)": "crowd", "Street (incidents)": "fight"}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_demo_camera_raises_what_it_is_named_for(
    name, sample_data, settings, tmp_path, admin_user, supervisor, authoriser
):
    from watchlists.matching import reset_cache

    # given the demo venue set up from the sample footage (its deployment requested and authorised by the demo officers)
    settings.MEDIA_ROOT = tmp_path
    settings.VAR_DIR = tmp_path
    call_command("demo_setup")
    reset_cache()
    camera = Camera.objects.get(name=name)
    assert Path(camera.stream_url.removeprefix("file://")).resolve().is_relative_to(sample_data)  # not the fallback
    # when its session plays the clip (until a little after its first alert)
    run_demo_camera(name, 60.0, until_alert=True, linger_s=LINGER[name])
    # then it raised its kind of alert and no other (an aggression alert may precede a fight: lower threshold)
    kinds = set(Alert.objects.filter(camera=camera).values_list("kind", flat=True))
    assert EXPECTED[name] in kinds
    assert kinds - {EXPECTED[name]} <= ({"aggression"} if EXPECTED[name] == "fight" else set())
