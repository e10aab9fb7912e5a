"""No face candidate outside an authorised deployment: the real Hamilton clip through a camera session."""

from __future__ import annotations

import pytest

from tests.support.oversight import authorised_deployment
from tests.support.sessions import (
    HAMILTON,
    HAMILTON_THRESHOLD,
    HAMILTON_TUNING,
    PEOPLE,
    enrol_people,
    quick_config,
)
from workers.session import CameraSession, StopReason

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


@pytest.fixture
def stage(sample_file, watchlist, admin_user, venue, settings, tmp_path):  # type: ignore[no-untyped-def]
    """The two people of the clip enrolled on a wanted list, and a camera playing the clip."""
    from venues.models import Camera

    settings.MEDIA_ROOT = tmp_path
    settings.CC_FACE_DETECTOR = HAMILTON_TUNING["face_detector"]
    watchlist.match_threshold = HAMILTON_THRESHOLD
    watchlist.save()
    enrol_people(sample_file, watchlist, admin_user, PEOPLE)
    return Camera.objects.create(
        venue=venue,
        name="Stage",
        stream_url=f"file://{sample_file(*HAMILTON)}",
        analysis_fps=4.0,
        crowd_enabled=False,
        fight_enabled=False,
    )


def _run(camera):  # type: ignore[no-untyped-def]
    session = CameraSession(camera.pk, config=quick_config(**HAMILTON_TUNING), max_duration_s=11.0)
    assert session.run() is StopReason.DURATION
    return session


def test_without_a_deployment_no_face_is_even_analysed(stage):
    from alerts.models import Alert
    from oversight.models import DeploymentMonth

    # given the enrolled people on the clip and no deployment (a fresh or upgraded install)
    # when the session plays the clip
    session = _run(stage)
    # then no face candidate, no face stage at all, and health says matching is off
    assert Alert.objects.filter(kind="face_match").count() == 0
    assert session._stages.face is None
    assert session.health()["face_matching"] is False
    assert session.health()["frames_analysed"] >= 20
    assert DeploymentMonth.objects.count() == 0


def test_a_deployment_matches_only_against_the_watchlists_it_names(stage, watchlist, admin_user):
    from alerts.models import Alert
    from oversight.models import DeploymentMonth
    from watchlists.models import Watchlist

    # given an authorised deployment on the camera that names another list, not the people's
    other = Watchlist.objects.create(
        name="Other list", category="missing", legal_basis="x", owner=admin_user, match_threshold=0.94
    )
    deployment = authorised_deployment(cameras=[stage], watchlists=[other])
    # when the session plays the clip
    session = _run(stage)
    # then faces were analysed under it (a count) but nobody on an unnamed list became a candidate
    assert Alert.objects.filter(kind="face_match").count() == 0
    assert session.health()["face_deployment"] == str(deployment.pk)
    assert DeploymentMonth.objects.get(deployment=deployment).faces_analysed > 0
