"""Face-match alerts: severity from the watchlist, repeated sightings of one subject fold into one open alert
(per subject and window, across cameras and tracks, also when two workers raise at once), and the cards the
API gives the dashboard name the subject only through an audited read."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.db import connections
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from alerts.models import Alert, AlertEvent
from alerts.services import EvidenceFile, alert_raise, alert_resolve
from audit.models import AccessEvent
from venues.models import Camera
from watchlists.models import Subject, Watchlist

pytestmark = pytest.mark.django_db

T0 = timezone.now().replace(microsecond=0)


@pytest.fixture
def subject(watchlist, admin_user):  # type: ignore[no-untyped-def]
    return Subject.objects.create(
        watchlist=watchlist,
        display_name="Aidar Nurlanov",
        reference_number="WP-2026-0042",
        legal_basis_reference="Warrant 7/2026",
        added_by=admin_user,
        expires_at=timezone.now() + datetime.timedelta(days=30),
    )


@pytest.fixture
def second_camera(venue):  # type: ignore[no-untyped-def]
    return Camera.objects.create(venue=venue, name="Bar", stream_url="rtsp://10.0.0.6:554/stream1")


def _sight(camera, subject, track: int, at: datetime.datetime, score: float = 0.95):  # type: ignore[no-untyped-def]
    crop = EvidenceFile("face_crop", b"\xff\xd8crop" + str(track).encode(), "image/jpeg", "crop.jpg")
    return alert_raise(
        kind="face_match",
        camera=camera,
        severity=2,
        score=score,
        subject=subject,
        track_key=f"{subject.pk}:{track}",
        evidence=[crop],
        seen_at=at,
    )


def test_face_match_severity_follows_the_watchlist(camera, subject, admin_user):
    # given a wanted list (high) and a missing-persons list configured as critical
    missing = Watchlist.objects.create(
        name="Missing",
        category="missing",
        legal_basis="Report 3",
        owner=admin_user,
        match_threshold=0.93,
        alert_severity=Watchlist.AlertSeverity.CRITICAL,
    )
    child = Subject.objects.create(
        watchlist=missing,
        display_name="Child",
        legal_basis_reference="R",
        added_by=admin_user,
        expires_at=timezone.now() + datetime.timedelta(days=3),
    )
    # when the session raises both with severity 2
    wanted_alert = _sight(camera, subject, 1, T0).alert
    missing_alert = _sight(camera, child, 2, T0).alert
    # then each alert has its list's severity
    assert (wanted_alert.severity, missing_alert.severity) == (Alert.Severity.HIGH, Alert.Severity.CRITICAL)


def test_a_wanted_list_cannot_be_below_high(admin_user):
    from django.db import IntegrityError

    with pytest.raises(IntegrityError):
        Watchlist.objects.create(
            name="W", category="wanted", legal_basis="x", owner=admin_user, match_threshold=0.93, alert_severity=2
        )


def test_repeated_sightings_fold_into_one_alert_with_a_timeline(camera, second_camera, subject):
    # given a subject seen on one camera
    first = _sight(camera, subject, 1, T0, score=0.95)
    # when the same track matches again, then a new track on another camera 3 minutes later, then another
    again = _sight(camera, subject, 1, T0 + datetime.timedelta(seconds=5), score=0.96)
    later = _sight(second_camera, subject, 7, T0 + datetime.timedelta(minutes=3), score=0.97)
    last = _sight(camera, subject, 9, T0 + datetime.timedelta(minutes=9), score=0.94)
    # then there is one alert, counting three sightings (the same track is not a new sighting)
    assert (first.created, again.created, later.created, later.folded, last.folded) == (True, False, False, True, True)
    alert = Alert.objects.get()
    assert (alert.sightings, alert.score, alert.last_seen_at) == (3, 0.97, T0 + datetime.timedelta(minutes=9))
    timeline = list(
        alert.events.filter(action__in=["raised", "sighting"]).values_list("action", "data__camera_name", "created_at")
    )
    assert timeline == [
        ("raised", "Entrance", T0),
        ("sighting", "Bar", T0 + datetime.timedelta(minutes=3)),
        ("sighting", "Entrance", T0 + datetime.timedelta(minutes=9)),
    ]
    assert alert.evidence.filter(kind="face_crop").count() == 4


def test_a_sighting_after_the_window_raises_a_new_alert(camera, subject):
    first = _sight(camera, subject, 1, T0).alert
    # 11 minutes after the last sighting (window 10 min): a new alert, the old one keeps its count
    second = _sight(camera, subject, 2, T0 + datetime.timedelta(minutes=11))
    assert second.created
    assert second.alert.pk != first.pk
    assert Alert.objects.get(pk=first.pk).fold_key == ""
    assert Alert.objects.get(pk=second.alert.pk).fold_key == f"subject:{subject.pk}"


def test_a_resolved_alert_takes_no_more_sightings(camera, subject, dispatcher):
    first = _sight(camera, subject, 1, T0).alert
    alert_resolve(alert_id=first.pk, actor=dispatcher, outcome="no_action")
    second = _sight(camera, subject, 2, T0 + datetime.timedelta(minutes=1))
    assert second.created
    assert Alert.objects.count() == 2


@override_settings(CC_FACE_FOLD_WINDOW_S=0)
def test_window_zero_never_folds(camera, subject):
    _sight(camera, subject, 1, T0)
    assert _sight(camera, subject, 2, T0 + datetime.timedelta(seconds=1)).created


@pytest.mark.django_db(transaction=True)
def test_two_workers_raising_the_same_subject_at_once_make_one_alert(camera, second_camera, subject):
    # given two stream workers that see the subject in the same instant on two cameras
    barrier = threading.Barrier(2)
    results = []

    def worker(cam: Camera, track: int) -> None:
        try:
            barrier.wait()
            results.append(_sight(cam, subject, track, T0))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(c, t)) for c, t in ((camera, 1), (second_camera, 2))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then exactly one alert exists, counting both sightings
    assert sorted(r.created for r in results) == [False, True]
    assert list(Alert.objects.values_list("sightings", flat=True)) == [2]
    assert AlertEvent.objects.filter(action="sighting").count() == 1


def test_the_api_names_the_subject_on_cards_and_audits_the_read(camera, subject, dispatcher):
    alert = _sight(camera, subject, 1, T0).alert
    client = APIClient()
    client.force_authenticate(dispatcher)
    before = AccessEvent.objects.filter(object_type="watchlists.subject", user_id=dispatcher.pk).count()
    listed = client.get("/api/alerts/").json()["results"][0]
    face = listed["face"]
    assert (face["name"], face["reference"], face["watchlist"]["name"]) == (
        "Aidar Nurlanov",
        "WP-2026-0042",
        "Wanted persons",
    )
    assert (face["watchlist"]["category"], face["watchlist"]["colour"]) == ("wanted", "#ef4444")
    assert listed["thumbnail_url"].startswith(f"/evidence/{alert.evidence.get().pk}/")
    audit = AccessEvent.objects.filter(object_type="watchlists.subject", user_id=dispatcher.pk)
    assert audit.count() == before + 1
    assert audit.order_by("-id").first().detail["shown"] == [str(subject.pk)]  # type: ignore[union-attr]
    # and the cursor catch-up and the detail carry the same card
    after = client.get("/api/alerts/?after=0").json()["results"][0]
    detail = client.get(f"/api/alerts/{alert.pk}/").json()
    assert after["face"]["name"] == detail["face"]["name"] == "Aidar Nurlanov"


def test_a_role_without_subject_access_gets_no_names(camera, subject, django_user_model):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("viewer", password="x")
    user.user_permissions.add(Permission.objects.get(codename="view_alert"))
    from venues.models import OperatorScope

    OperatorScope.objects.create(user=user, all_venues=True)
    _sight(camera, subject, 1, T0)
    client = APIClient()
    client.force_authenticate(user)
    assert client.get("/api/alerts/").json()["results"][0]["face"] is None
