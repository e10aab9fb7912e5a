"""Reports: exact counts, hours in the configured time zone, response-time quantiles, detectors, CSV export."""

from __future__ import annotations

import itertools
import zoneinfo
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from alerts import services
from alerts.models import Alert, Evidence
from alerts.reports import NOISY_HINT, Period, build_tables
from alerts.selectors import alerts_for
from audit.models import AccessEvent
from venues.models import Camera, OperatorScope, Venue
from watchlists.models import Subject, Watchlist

pytestmark = pytest.mark.django_db

ALMATY = zoneinfo.ZoneInfo("Asia/Almaty")
MARCH = {"start": "2026-03-01", "end": "2026-03-31"}


def verified_login(client, user) -> None:
    """Sign in with a confirmed second factor, as admins and auditors must (see core.security)."""
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
    assert [t.key for t in response.context["tables"]] == ["venue", "kind", "hour", "response", "reviews", "detectors"]
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


# --- detector performance: dispatchers' outcomes per camera and incident kind ---------------------

NOISY = str(NOISY_HINT)
FALSE_ALARM, HANDLED, ARREST = Alert.Outcome.FALSE_ALARM, Alert.Outcome.HANDLED, Alert.Outcome.ARREST
_tracks = itertools.count()


def _incidents(camera: Camera, kind: str, *outcomes: str, day: int = 15, month: int = 3) -> None:
    """One alert per outcome, each on its own track; "" leaves the alert open."""
    for outcome in outcomes:
        alert = services.alert_raise(
            kind=kind,
            camera=camera,
            severity=3,
            score=0.8,
            track_key=f"t{next(_tracks)}",
            seen_at=at(day, 21, month=month),
        ).alert
        if outcome:
            Alert.objects.filter(pk=alert.pk).update(
                status=Alert.Status.RESOLVED, outcome=outcome, resolved_at=alert.raised_at + timedelta(minutes=5)
            )


@pytest.fixture
def outcomes(camera, park_camera, watchlist):
    """Incident alerts at Club Almaty (Entrance, Bar) and Central Park (Gate) in March, plus ones that do not count."""
    Camera.objects.filter(pk=camera.pk).update(sensitivity=0.8, min_duration_s=0.5)
    bar = Camera.objects.create(venue=camera.venue, name="Bar", stream_url="rtsp://10.0.0.6/s")
    _incidents(camera, Alert.Kind.FIGHT, *[FALSE_ALARM] * 4, HANDLED, "")
    _incidents(park_camera, Alert.Kind.FIGHT, *[FALSE_ALARM] * 4, *[Alert.Outcome.NO_ACTION] * 4)
    _incidents(bar, Alert.Kind.CROWD, FALSE_ALARM, FALSE_ALARM, *[HANDLED] * 3, ARREST, "")
    _incidents(bar, Alert.Kind.AGGRESSION, FALSE_ALARM, *[HANDLED] * 9)
    _incidents(bar, Alert.Kind.FIGHT, FALSE_ALARM, "", "")
    _incidents(park_camera, Alert.Kind.CROWD, "")
    # not counted: outside the period, a face match, a camera outage
    _incidents(camera, Alert.Kind.FIGHT, FALSE_ALARM, day=1, month=4)
    face = _alert(camera, Alert.Kind.FACE_MATCH, at(15, 22), subject=_subject(watchlist, "Person 9"), resolve=60)
    Alert.objects.filter(pk=face.pk).update(outcome=FALSE_ALARM)
    _incidents(bar, Alert.Kind.CAMERA_OFFLINE, FALSE_ALARM)


DETECTOR_ROWS = [
    ["Club Almaty", "Entrance", "Fight", 6, 4, 1, 1, 0.8, 0.8, 0.5, 0, NOISY],
    ["Central Park", "Gate", "Fight", 8, 4, 4, 0, 0.5, 0.5, 1.0, 0, NOISY],
    ["Club Almaty", "Bar", "Crowd gathering", 7, 2, 4, 1, 0.33, 0.5, 1.0, None, ""],
    ["Club Almaty", "Bar", "Aggressive behaviour", 10, 1, 9, 0, 0.1, 0.5, 1.0, 0, "Reliable"],
    ["Club Almaty", "Bar", "Fight", 3, 1, 0, 2, 1.0, 0.5, 1.0, 0, ""],
    ["Central Park", "Gate", "Crowd gathering", 1, 0, 0, 1, None, 0.5, 1.0, None, ""],
]


def test_detectors_count_outcomes_per_camera_and_kind(outcomes, supervisor):
    # when a supervisor who sees every venue reads the table
    rows = _tables(supervisor)["detectors"]
    # then each camera and incident kind has exact counts, share, settings and hint, most false alarms first
    assert rows == DETECTOR_ROWS


def test_detectors_count_the_reviewed_clips_a_retraining_can_use(outcomes, supervisor):
    # given clips on some of the Entrance fights: two false alarms, the handled one, the open one
    fights = Alert.objects.filter(camera__name="Entrance", kind=Alert.Kind.FIGHT, raised_at__month=3)
    chosen = [
        *fights.filter(outcome=FALSE_ALARM)[:2],
        fights.get(outcome=HANDLED),
        fights.get(status=Alert.Status.NEW),
    ]
    for alert in chosen:
        Evidence.objects.create(alert=alert, kind="clip", file=f"evidence/{alert.pk}.webm", content_type="video/webm")
        Evidence.objects.create(
            alert=alert, kind="snapshot", file=f"evidence/{alert.pk}.jpg", content_type="image/jpeg"
        )
    # then the row counts the three resolved ones with a telling outcome, once each, and nothing else changes
    rows = _tables(supervisor)["detectors"]
    assert rows[0] == [*DETECTOR_ROWS[0][:10], 3, NOISY]
    assert rows[1:] == DETECTOR_ROWS[1:]


def test_detectors_exclude_face_matches_and_outages(camera, watchlist, supervisor):
    # given only a face match and a camera outage, both closed as false alarms
    _alert(camera, Alert.Kind.FACE_MATCH, at(15, 22), subject=_subject(watchlist, "Person 1"), resolve=60)
    Alert.objects.update(outcome=FALSE_ALARM)
    _incidents(camera, Alert.Kind.CAMERA_OFFLINE, FALSE_ALARM)
    # then the detector table is empty while the kind table counts both
    tables = _tables(supervisor)
    assert tables["detectors"] == []
    assert tables["kind"] == [["Camera offline", 1], ["Face match", 1]]


def test_detectors_follow_venue_scope(outcomes, django_user_model, venue):
    # given a supervisor scoped to Club Almaty only
    user = django_user_model.objects.create_user(username="scoped-sup", password="correct-horse-battery")
    user.groups.add(Group.objects.get(name="supervisor"))
    OperatorScope.objects.create(user=user).venues.add(venue)
    # then Central Park's Gate camera is not in the table
    assert _tables(user)["detectors"] == [row for row in DETECTOR_ROWS if row[0] == "Club Almaty"]


def test_detectors_table_is_one_query(outcomes, supervisor):
    # given three cameras with incident alerts
    scope = alerts_for(supervisor)
    period = Period(start=datetime(2026, 3, 1).date(), end=datetime(2026, 3, 31).date())
    # when the table is built
    with CaptureQueriesContext(connection) as queries:
        (table,) = build_tables(scope=scope, period=period, only="detectors")
    # then one aggregate query served all six rows
    assert len(table.rows) == 6
    assert len(queries) == 1, [q["sql"] for q in queries]


def test_detectors_csv_export(client, outcomes, auditor):
    verified_login(client, auditor)
    response = client.get(reverse("reports"), {**MARCH, "format": "csv", "table": "detectors"})
    assert response.status_code == 200
    assert 'filename="alerts-detectors-2026-03-01-2026-03-31.csv"' in response["Content-Disposition"]
    lines = response.content.decode().splitlines()
    assert lines[0] == (
        "Venue,Camera,Kind,Alerts,False alarms,Other outcomes,Open,False-alarm share,Sensitivity,"
        "Minimum duration (s),Clips for retraining,Hint"
    )
    assert lines[1] == f'Club Almaty,Entrance,Fight,6,4,1,1,0.8,0.8,0.5,0,"{NOISY}"'
    assert lines[4] == "Club Almaty,Bar,Aggressive behaviour,10,1,9,0,0.1,0.5,1.0,0,Reliable"
    assert lines[6] == "Central Park,Gate,Crowd gathering,1,0,0,1,,0.5,1.0,,"
    assert len(lines) == 7
    record = AccessEvent.objects.filter(action=AccessEvent.Action.EXPORT).get()
    assert (record.object_type, record.object_id) == ("alerts.report", "detectors")


def test_detectors_table_on_the_page(client, outcomes, auditor):
    verified_login(client, auditor)
    response = client.get(reverse("reports"), MARCH)
    page = response.content.decode()
    assert 'id="report-detectors"' in page
    assert "Incident detector performance per camera" in page
    assert "No incident alerts in this period." not in page
    assert "<td>Entrance</td><td>Fight</td><td>6</td><td>4</td><td>1</td><td>1</td><td>0.8</td>" in page
    assert "<td>Gate</td><td>Crowd gathering</td><td>1</td><td>0</td><td>0</td><td>1</td><td>—</td>" in page
    assert "<td>Reliable</td>" in page


def test_detectors_empty_state(client, auditor, camera):
    # given one face match and no incident alert in the period
    services.alert_raise(kind=Alert.Kind.FACE_MATCH, camera=camera, severity=2, score=0.9)
    verified_login(client, auditor)
    response = client.get(reverse("reports"))
    # then the table says so, and the venue table still has its row
    detectors = response.content.decode().split('id="report-detectors"')[1]
    assert "No incident alerts in this period." in detectors
    assert "<table>" not in detectors
    assert [t.rows for t in response.context["tables"] if t.key == "venue"] == [[["Club Almaty", 1, 1]]]
