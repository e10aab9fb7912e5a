"""Reports: exact counts, hours in the configured time zone, response-time quantiles, CSV export."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone, translation
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from alerts import services
from alerts.models import Alert
from alerts.reports import Period, build_tables
from alerts.selectors import alerts_for
from audit.models import AccessEvent
from venues.models import Camera, OperatorScope, Venue
from watchlists.models import Subject, Watchlist

pytestmark = pytest.mark.django_db

ALMATY = zoneinfo.ZoneInfo("Asia/Almaty")
MARCH = {"start": "2026-03-01", "end": "2026-03-31"}


def verified_login(client, user) -> None:
    """Sign in with a confirmed second factor, as admins and auditors must (see commandcenter.security)."""
    client.force_login(user)
    device = TOTPDevice.objects.create(user=user, name="test authenticator", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=ALMATY)


@pytest.fixture(autouse=True)
def _almaty(settings):
    settings.TIME_ZONE = "Asia/Almaty"


@pytest.fixture
def park_camera(db):
    park = Venue.objects.create(name="Central Park", kind="park", latitude="43.25", longitude="76.95")
    return Camera.objects.create(venue=park, name="Gate", stream_url="rtsp://10.0.0.9/s")


def _subject(watchlist: Watchlist, name: str) -> Subject:
    return Subject.objects.create(
        watchlist=watchlist,
        display_name=name,
        legal_basis_reference="case 1",
        added_by=watchlist.owner,
        expires_at=timezone.now() + timedelta(days=30),
    )


def _alert(camera: Camera, kind: str, raised: datetime, *, subject: Subject | None = None, **times: int) -> Alert:
    """Raise an alert at `raised`; `ack`/`dispatch`/`resolve` give seconds after raising."""
    alert = services.alert_raise(kind=kind, camera=camera, severity=2, score=0.9, subject=subject, seen_at=raised).alert
    fields = {
        "acknowledged_at": times.get("ack"),
        "dispatched_at": times.get("dispatch"),
        "resolved_at": times.get("resolve"),
    }
    updates = {name: raised + timedelta(seconds=s) for name, s in fields.items() if s is not None}
    if "resolved_at" in updates:
        updates["status"] = Alert.Status.RESOLVED
    Alert.objects.filter(pk=alert.pk).update(**updates)
    return alert


@pytest.fixture
def march(camera, park_camera, watchlist, admin_user):
    """Seven alerts in March 2026 (Almaty time) plus two just outside the month."""
    missing = Watchlist.objects.create(
        name="Missing persons", category="missing", legal_basis="Law 5", owner=admin_user, match_threshold=0.93
    )
    _alert(camera, Alert.Kind.FIGHT, at(10, 20, 30), ack=30, dispatch=120, resolve=600)
    _alert(camera, Alert.Kind.CROWD, at(10, 20, 45), ack=60, resolve=300)
    _alert(park_camera, Alert.Kind.FIGHT, at(11, 2, 10), ack=90)
    reviews = [(watchlist, "confirmed"), (watchlist, "rejected"), (watchlist, "pending"), (missing, "confirmed")]
    for number, (listed_on, review) in enumerate(reviews):
        face = _alert(park_camera, Alert.Kind.FACE_MATCH, at(12, 9), subject=_subject(listed_on, f"Person {number}"))
        Alert.objects.filter(pk=face.pk).update(review=review)
    _alert(camera, Alert.Kind.FIGHT, at(1, 0, 30, month=4))  # after the period
    _alert(camera, Alert.Kind.FIGHT, at(28, 23, 59, month=2))  # before it (18:59 UTC)


def _tables(user) -> dict[str, list[list]]:
    period = Period(start=datetime(2026, 3, 1).date(), end=datetime(2026, 3, 31).date())
    with translation.override("en"):
        return {t.key: t.rows for t in build_tables(scope=alerts_for(user), period=period)}


def test_counts_by_venue_kind_and_hour(march, supervisor):
    tables = _tables(supervisor)
    assert tables["venue"] == [["Central Park", 5, 5], ["Club Almaty", 2, 0]]
    assert tables["kind"] == [["Face match", 4], ["Fight", 2], ["Crowd gathering", 1]]
    hours = dict(tables["hour"])
    assert len(hours) == 24
    assert (hours["20:00"], hours["02:00"], hours["09:00"]) == (2, 1, 4)
    assert sum(hours.values()) == 7


def test_response_time_median_and_p90(march, supervisor):
    assert _tables(supervisor)["response"] == [
        ["Raised → acknowledged", 3, 60.0, 84.0],
        ["Raised → dispatched", 1, 120.0, 120.0],
        ["Raised → resolved", 2, 450.0, 570.0],
    ]


def test_face_reviews_per_watchlist(march, supervisor):
    assert _tables(supervisor)["reviews"] == [["Missing persons", 1, 0, 0], ["Wanted persons", 1, 1, 1]]


def test_report_follows_venue_scope(march, django_user_model, venue):
    user = django_user_model.objects.create_user(username="scoped-sup", password="correct-horse-battery")
    user.groups.add(Group.objects.get(name="supervisor"))
    OperatorScope.objects.create(user=user).venues.add(venue)
    assert _tables(user)["venue"] == [["Club Almaty", 2, 0]]


def test_reports_page_needs_permission(client, march, dispatcher, auditor):
    client.force_login(dispatcher)
    assert client.get(reverse("reports"), MARCH).status_code == 403
    verified_login(client, auditor)
    response = client.get(reverse("reports"), MARCH)
    assert response.status_code == 200
    assert [t.key for t in response.context["tables"]] == ["venue", "kind", "hour", "response", "reviews"]
    assert b'width="100.0"' in response.content


def test_csv_export_is_exact_and_audited(client, march, auditor):
    verified_login(client, auditor)
    response = client.get(reverse("reports"), {**MARCH, "format": "csv", "table": "venue"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="alerts-venue-2026-03-01-2026-03-31.csv"' in response["Content-Disposition"]
    assert response.content.decode() == "Venue,Alerts,Open\r\nCentral Park,5,5\r\nClub Almaty,2,0\r\n"
    record = AccessEvent.objects.filter(action=AccessEvent.Action.EXPORT).get()
    assert (record.username, record.object_type, record.object_id) == ("auditor1", "alerts.report", "venue")


def test_csv_neutralises_formulas_and_rejects_unknown_tables(client, auditor, camera):
    Venue.objects.filter(pk=camera.venue_id).update(name="=HYPERLINK(1)")
    services.alert_raise(kind=Alert.Kind.FIGHT, camera=camera, severity=2, score=0.5)
    verified_login(client, auditor)
    response = client.get(reverse("reports"), {"format": "csv", "table": "venue"})
    assert response.content.decode().splitlines()[1] == "'=HYPERLINK(1),1,1"
    assert client.get(reverse("reports"), {"format": "csv", "table": "users"}).status_code == 404
