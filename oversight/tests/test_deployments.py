"""Deployment authorisations: who may request and authorise, compare-and-set decisions, the worker's window,
and the urgent path lapsing unauthorised (its face-match data purged exactly, audited)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.utils import timezone

from alerts.models import Alert, Evidence
from audit.models import AccessEvent
from oversight.models import Deployment, DeploymentAlert, DeploymentMonth
from oversight.selectors import camera_face_window
from oversight.services import (
    DeploymentConflict,
    deployment_alert_raised,
    deployment_authorise,
    deployment_count_faces,
    deployment_end,
    deployment_refuse,
    deployment_request,
    deployments_lapse,
)
from tests.support.oversight import authorised_deployment, officer, plan, urgent_deployment

pytestmark = pytest.mark.django_db


def _face_alert(camera, subject, *, name):  # type: ignore[no-untyped-def]
    alert = Alert.objects.create(
        kind="face_match",
        camera=camera,
        venue=camera.venue,
        severity=2,
        score=0.95,
        review="pending",
        subject=subject,
        probe_embedding=[0.1] * 128,
        track_key=name,
    )
    evidence = Evidence(alert=alert, kind="snapshot", content_type="image/jpeg")
    evidence.file.save(f"{name}.jpg", ContentFile(b"\xff\xd8\xff" + name.encode()), save=False)
    evidence.save()
    return alert


@pytest.fixture
def subject(watchlist, admin_user):  # type: ignore[no-untyped-def]
    from watchlists.models import Subject

    return Subject.objects.create(
        watchlist=watchlist,
        display_name="Person A",
        legal_basis_reference="Case 1/26",
        added_by=admin_user,
        expires_at=timezone.now() + timedelta(days=30),
    )


def test_requester_cannot_authorise_their_own_deployment(camera, watchlist):
    # given a deployment requested by an officer who also holds the authoriser role
    requester = officer("both1", "supervisor")
    requester.groups.add(officer("authoriser1", "authoriser").groups.get())
    requester = type(requester).objects.get(pk=requester.pk)
    deployment = deployment_request(actor=requester, plan=plan(cameras=[camera], watchlists=[watchlist]))
    # when they try to authorise it
    with pytest.raises(PermissionDenied):
        deployment_authorise(deployment_id=deployment.pk, actor=requester)
    # then nothing changed, face matching stays off, and the attempt is in the audit log
    deployment.refresh_from_db()
    assert (deployment.status, deployment.decided_by) == ("requested", None)
    assert camera_face_window(camera.pk, camera.venue_id) is None
    denied = AccessEvent.objects.filter(action="denied", object_type="deployment", object_id=str(deployment.pk))
    assert denied.get().detail["reason"] == "requester"


def test_a_supervisor_cannot_authorise_and_an_authoriser_can_once(camera, watchlist, supervisor):
    deployment = deployment_request(
        actor=officer("requester1", "supervisor"), plan=plan(cameras=[camera], watchlists=[watchlist])
    )
    with pytest.raises(PermissionDenied):
        deployment_authorise(deployment_id=deployment.pk, actor=supervisor)
    authoriser = officer("authoriser1", "authoriser")
    done = deployment_authorise(deployment_id=deployment.pk, actor=authoriser, note="proportionate")
    assert (done.status, done.decided_by, done.decision_note) == ("authorised", authoriser, "proportionate")
    # a second decision loses the compare-and-set
    with pytest.raises(DeploymentConflict):
        deployment_refuse(deployment_id=deployment.pk, actor=officer("authoriser2", "authoriser"), note="late")
    assert Deployment.objects.get(pk=deployment.pk).status == "authorised"
    actions = list(
        AccessEvent.objects.filter(object_type="deployment", object_id=str(deployment.pk))
        .exclude(action="denied")
        .order_by("id")
        .values_list("detail__action", flat=True)
    )
    assert actions == ["request", "authorise"]
    assert AccessEvent.objects.filter(action="denied", object_id=str(deployment.pk), user_id=supervisor.pk).exists()


def test_the_window_covers_named_cameras_and_venues_and_only_the_named_watchlists(camera, watchlist, venue):
    from venues.models import Camera, Venue
    from watchlists.models import Watchlist

    other_list = Watchlist.objects.create(
        name="Other", category="missing", legal_basis="x", owner=watchlist.owner, match_threshold=0.94
    )
    elsewhere = Camera.objects.create(
        venue=Venue.objects.create(name="Elsewhere", kind="park"), name="Gate", stream_url="rtsp://10.0.0.7/s"
    )
    same_venue = Camera.objects.create(venue=venue, name="Back door", stream_url="rtsp://10.0.0.8/s")
    # before any deployment: no face matching anywhere
    assert camera_face_window(camera.pk, venue.pk) is None
    deployment = authorised_deployment(venues=[venue], watchlists=[watchlist])
    window = camera_face_window(camera.pk, venue.pk)
    assert window is not None
    assert window.deployment_id == str(deployment.pk)
    assert window.watchlist_ids == frozenset({watchlist.pk})
    assert other_list.pk not in window.watchlist_ids
    assert camera_face_window(same_venue.pk, venue.pk) is not None
    assert camera_face_window(elsewhere.pk, elsewhere.venue_id) is None
    # the window stops at the end time by itself (a time comparison, no job)
    assert window.active(deployment.ends_at.timestamp() - 1)
    assert not window.active(deployment.ends_at.timestamp())
    assert camera_face_window(camera.pk, venue.pk, now=deployment.ends_at) is None
    # ended early: gone at once
    deployment_end(deployment_id=deployment.pk, actor=officer("requester1", "supervisor"))
    assert camera_face_window(camera.pk, venue.pk) is None


def test_urgent_deployment_lapsing_unauthorised_purges_exactly_its_face_matches(
    camera, watchlist, subject, settings, tmp_path
):
    # given an urgent deployment with two face-match alerts, and an authorised one with its own alert
    settings.MEDIA_ROOT = tmp_path
    urgent = urgent_deployment(cameras=[camera], watchlists=[watchlist])
    assert urgent.status == "urgent_pending"
    assert abs((urgent.urgent_deadline - timezone.now()).total_seconds() - 24 * 3600) < 60
    window = camera_face_window(camera.pk, camera.venue_id)
    assert window is not None
    assert window.urgent
    urgent_alerts = [_face_alert(camera, subject, name=f"u{i}") for i in range(2)]
    for alert in urgent_alerts:
        deployment_alert_raised(deployment_id=urgent.pk, alert=alert, faces=3)
    from venues.models import Camera

    other_camera = Camera.objects.create(venue=camera.venue, name="Other", stream_url="rtsp://10.0.0.6/s")
    kept_deployment = authorised_deployment(cameras=[other_camera], watchlists=[watchlist])
    kept = _face_alert(other_camera, subject, name="kept")
    deployment_alert_raised(deployment_id=kept_deployment.pk, alert=kept, faces=1)
    fight = Alert.objects.create(kind="fight", camera=camera, venue=camera.venue, severity=3, score=0.9)
    from watchlists.models import NegativeExemplar

    def negative(alert):  # type: ignore[no-untyped-def]
        return NegativeExemplar.objects.create(
            subject=subject, embedding=[0.2] * 128, model_name="Dlib", source_alert=alert, created_by=subject.added_by
        )

    urgent_negative, kept_negative = negative(urgent_alerts[0]), negative(kept)
    files = [tmp_path / e.file.name for e in Evidence.objects.filter(alert__in=urgent_alerts)]
    assert all(path.exists() for path in files)

    # when the deadline passes: matching stops by itself (no job has run) ...
    deadline = urgent.urgent_deadline
    assert camera_face_window(camera.pk, camera.venue_id, now=deadline) is None
    assert not window.active(deadline.timestamp())
    # ... and the sweep purges its face-match alerts
    with django_capture_on_commit():
        lapsed = deployments_lapse(now=deadline + timedelta(seconds=1))

    # then exactly its alerts, evidence and files are gone, with audit rows; the rest stays
    assert lapsed == [str(urgent.pk)]
    assert not Alert.objects.filter(pk__in=[a.pk for a in urgent_alerts]).exists()
    assert set(Alert.objects.values_list("pk", flat=True)) == {kept.pk, fight.pk}
    assert not any(path.exists() for path in files)
    assert Evidence.objects.filter(alert=kept).count() == 1
    assert set(NegativeExemplar.objects.values_list("pk", flat=True)) == {kept_negative.pk}
    assert urgent_negative.pk is not None
    urgent.refresh_from_db()
    assert (urgent.status, urgent.purged_at is not None) == ("refused", True)
    purge = AccessEvent.objects.get(action="purge", object_type="deployment_face_matches")
    assert sorted(purge.detail["ids"]) == sorted(str(a.pk) for a in urgent_alerts)
    assert purge.object_id == str(urgent.pk)
    assert purge.purpose == "not authorised in time"
    assert AccessEvent.objects.filter(object_type="deployment", detail__action="lapse").count() == 1
    # the counters (a count, no biometric data) stay for the report
    assert DeploymentMonth.objects.get(deployment=urgent).alerts_raised == 2
    # and a late authorisation is refused; a second sweep finds nothing
    with pytest.raises(DeploymentConflict):
        deployment_authorise(deployment_id=urgent.pk, actor=officer("authoriser1", "authoriser"))
    assert deployments_lapse(now=deadline + timedelta(seconds=2)) == []


def test_urgent_deployment_authorised_in_time_keeps_its_data(camera, watchlist, subject):
    urgent = urgent_deployment(cameras=[camera], watchlists=[watchlist])
    alert = _face_alert(camera, subject, name="a")
    deployment_alert_raised(deployment_id=urgent.pk, alert=alert)
    deployment_authorise(deployment_id=urgent.pk, actor=officer("authoriser1", "authoriser"))
    assert deployments_lapse(now=urgent.urgent_deadline + timedelta(hours=1)) == []
    assert Alert.objects.filter(pk=alert.pk).exists()
    assert DeploymentAlert.objects.get(alert=alert).deployment_id == urgent.pk


def test_faces_analysed_is_a_count_added_with_f(camera, watchlist):
    deployment = authorised_deployment(cameras=[camera], watchlists=[watchlist])
    now = timezone.now()
    deployment_count_faces(deployment_id=deployment.pk, faces=7, at=now, model_name="Dlib")
    deployment_count_faces(deployment_id=deployment.pk, faces=5, at=now)
    row = DeploymentMonth.objects.get(deployment=deployment)
    assert (row.faces_analysed, row.alerts_raised, row.model_name) == (12, 0, "Dlib")


def test_no_migration_creates_a_deployment():
    # an installed or upgraded system has face matching off until someone authorises a deployment
    assert Deployment.objects.count() == 0


def django_capture_on_commit():  # type: ignore[no-untyped-def]
    """Run on_commit callbacks (file deletions) inside the test transaction."""
    from django.test import TestCase

    return TestCase.captureOnCommitCallbacks(execute=True)
