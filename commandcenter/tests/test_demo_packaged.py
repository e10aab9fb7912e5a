"""The demo on a machine without ``../shared/data``: real footage from packages; faces, a crowd and no fight.

The cameras are the ones `demo_setup` creates with ``CC_SAMPLE_DATA`` pointing at an empty folder; each runs a
real camera session (capture, pipeline, alerts) on its real file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

from alerts.models import Alert
from commandcenter.demo import PACKAGED_PERSON_NAME
from commandcenter.demo_footage import PackagedFootage
from tests.support.demo import OPENCV_DOC, run_demo_camera
from tests.support.required import unavailable
from venues.models import Camera

pytestmark = pytest.mark.slow


@pytest.fixture
def packaged_demo(settings, tmp_path, admin_user, supervisor, authoriser) -> Path:  # type: ignore[no-untyped-def]
    """The demo set up on a machine with no sample folder; returns the var folder its clips went to."""
    from watchlists.matching import reset_cache

    if PackagedFootage.find(OPENCV_DOC) is None:
        unavailable("the Debian package opencv-doc is not installed (scripts/system-deps.sh installs it)")
    (tmp_path / "no-samples").mkdir()
    settings.CC_SAMPLE_DATA = str(tmp_path / "no-samples")
    settings.CC_OPENCV_DOC = str(OPENCV_DOC)
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.VAR_DIR = tmp_path / "var"
    call_command("demo_setup")
    reset_cache()
    return tmp_path / "var"


def test_packaged_demo_cameras_play_real_footage(packaged_demo):
    # given the demo set up without the sample folder
    # then the cameras loop opencv-doc's pedestrians and the generated entrance clip, and one person is enrolled
    urls = dict(Camera.objects.values_list("name", "stream_url"))
    assert urls == {
        "Entrance (faces)": f"file://{packaged_demo / 'demo' / 'entrance.mp4'}",
        "Concourse (crowd)": f"file://{OPENCV_DOC / 'examples' / 'data' / 'vtest.avi'}",
        "Street (incidents)": f"file://{OPENCV_DOC / 'examples' / 'data' / 'vtest.avi'}",
    }
    concourse = Camera.objects.get(name="Concourse (crowd)")
    assert (concourse.counting_view, [z.capacity for z in concourse.zones.all()]) == ("wide", [3])
    from watchlists.models import Subject

    subject = Subject.objects.get()
    assert (subject.display_name, subject.templates.count()) == (PACKAGED_PERSON_NAME, 1)


def test_packaged_demo_entrance_raises_face_candidates_for_the_enrolled_person(packaged_demo):
    # when the entrance camera plays its clip (a stranger for 5 s, then the enrolled person on another photo)
    kinds = run_demo_camera("Entrance (faces)", 60.0, until_alert=True)
    # then it raised face candidates, all for the enrolled person, and nothing else
    assert kinds == {"face_match"}
    names = set(Alert.objects.filter(kind="face_match").values_list("subject__display_name", flat=True))
    assert names == {PACKAGED_PERSON_NAME}


def test_packaged_demo_concourse_raises_a_crowd_alert(packaged_demo):
    # when the concourse camera watches the walkway (4 or more counted from 4 s in, for 4-25 s at a time)
    kinds = run_demo_camera("Concourse (crowd)", 120.0, until_alert=True)
    # then its zone for 3 raised a crowd alert and nothing else
    assert kinds == {"crowd"}


@pytest.mark.xfail(
    strict=False,
    reason="acceptance test of issue 12, still missed by the person-aware fight model: people standing in pairs "
    "open its people gate while small walkers' flow scores like a scuffle at 13-18 s of vtest.avi "
    "(bench/incident_accuracy.py: 4 fight alerts in 80 s); on a loaded machine the loop slows and it may pass; "
    "remove the mark when a model fixes vtest.avi (vision/tests/test_fight_people.py holds the strict version)",
)
def test_packaged_demo_street_raises_no_fight_on_pedestrians(packaged_demo):
    # when the street camera watches 35 s of people walking by (the clip's busiest stretches for a flow scorer)
    kinds = run_demo_camera("Street (incidents)", 35.0, until_alert=False)
    # then no fight or aggression is raised: there is none in the footage
    assert kinds & {"fight", "aggression"} == set()
