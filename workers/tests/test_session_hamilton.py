"""A camera session on real footage raises face-match alerts for enrolled people, and only them."""

from __future__ import annotations

import pytest

from tests.support.oversight import authorised_deployment
from tests.support.sessions import (
    DISTRACTOR,
    HAMILTON,
    HAMILTON_THRESHOLD,
    HAMILTON_TUNING,
    PEOPLE,
    enrol_people,
    quick_config,
)
from workers.session import CameraSession, StopReason


@pytest.mark.slow
def test_session_on_hamilton_clip_alerts_enrolled_people_only(
    sample_file, watchlist, admin_user, venue, settings, tmp_path
):
    from alerts.models import Alert
    from venues.models import Camera
    from watchlists.models import FaceTemplate, NegativeExemplar

    # given Lin-Manuel Miranda and Alex Lacamoire enrolled, plus someone who is not in the clip
    settings.MEDIA_ROOT = tmp_path
    settings.CC_FACE_DETECTOR = HAMILTON_TUNING["face_detector"]
    watchlist.match_threshold = HAMILTON_THRESHOLD
    watchlist.save()
    subjects = enrol_people(sample_file, watchlist, admin_user, {**PEOPLE, DISTRACTOR[0]: DISTRACTOR[1]})
    camera = Camera.objects.create(
        venue=venue,
        name="Stage",
        stream_url=f"file://{sample_file(*HAMILTON)}",
        analysis_fps=4.0,
        crowd_enabled=False,
        fight_enabled=False,
    )
    deployment = authorised_deployment(cameras=[camera], watchlists=[watchlist])

    # when a session runs the clip once (real time, about 9 s)
    session = CameraSession(camera.pk, config=quick_config(**HAMILTON_TUNING), max_duration_s=11.0)
    reason = session.run()

    # then each of the two people raised face-match alerts with crop, snapshot and clip evidence
    assert reason is StopReason.DURATION
    alerts = list(Alert.objects.filter(camera=camera, kind="face_match").prefetch_related("evidence"))
    names = {alert.subject.display_name for alert in alerts}
    assert names == set(PEOPLE)
    for alert in alerts:
        assert {e.kind for e in alert.evidence.all()} == {"face_crop", "snapshot", "clip"}
        assert alert.score >= watchlist.match_threshold
        assert alert.details["watchlist"] == watchlist.name
        assert alert.track_key == f"{alert.subject_id}:{alert.details['track']}"
        assert alert.probe_embedding is not None
        assert alert.severity == 3  # a "wanted" list
    # and nobody else: no alert for the enrolled stranger, no stored vectors beyond enrolment and matches
    assert subjects[DISTRACTOR[0]].alerts.count() == 0
    assert FaceTemplate.objects.count() == 3
    assert NegativeExemplar.objects.count() == 0
    assert Alert.objects.exclude(probe_embedding=None).count() == len(alerts)
    assert session.health()["frames_analysed"] >= 20
    assert session.lease.holder() is None
    # and the deployment's counters (a count of faces, no vectors) agree with the alerts, in health too
    from oversight.models import DeploymentMonth

    month = DeploymentMonth.objects.get(deployment=deployment)
    assert month.alerts_raised == len(alerts) == deployment.alert_links.count()
    assert month.faces_analysed >= len(alerts)
    assert session.health()["face_deployment"] == str(deployment.pk)


@pytest.mark.slow
def test_session_at_default_settings_alerts_miranda_and_nobody_else(
    sample_file, watchlist, admin_user, venue, settings, tmp_path
):
    from alerts.models import Alert
    from venues.models import Camera

    # given the two people and a stranger enrolled with every setting at its default
    settings.MEDIA_ROOT = tmp_path
    watchlist.match_threshold = settings.CC_FACE_DEFAULT_THRESHOLD
    watchlist.save()
    subjects = enrol_people(sample_file, watchlist, admin_user, {**PEOPLE, DISTRACTOR[0]: DISTRACTOR[1]})
    camera = Camera.objects.create(
        venue=venue,
        name="Stage",
        stream_url=f"file://{sample_file(*HAMILTON)}",
        analysis_fps=4.0,
        crowd_enabled=False,
        fight_enabled=False,
    )
    authorised_deployment(venues=[venue], watchlists=[watchlist])

    # when a live session runs the clip once
    session = CameraSession(camera.pk, config=quick_config(), max_duration_s=11.0)
    session.run()

    # then Miranda raised a face-match candidate and the stranger none (Alex Lacamoire is not found at the
    # city-scale default: see test_analyze_video_at_default_settings_finds_miranda_and_alerts_nobody_else)
    alerts = list(Alert.objects.filter(camera=camera, kind="face_match"))
    assert "Lin-Manuel Miranda" in {a.subject.display_name for a in alerts}
    assert subjects[DISTRACTOR[0]].alerts.count() == 0
    # and each alert names the model its probe embedding belongs to (a rejection is kept under it)
    assert {a.details["model_name"] for a in alerts} == {"Dlib"}
