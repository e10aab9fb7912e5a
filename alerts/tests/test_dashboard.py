"""Dashboard pages: access, scope, camera previews from Redis, map counts, language persistence."""

from __future__ import annotations

import json
import uuid

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import Group
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from alerts import services
from alerts.models import Alert
from venues.models import Camera, OperatorScope, Venue

pytestmark = pytest.mark.django_db

JPEG = b"\xff\xd8\xff\xe0" + b"preview-bytes" + b"\xff\xd9"


def verified_login(client, user) -> None:
    """Sign in with a confirmed second factor, as admins and auditors must (see core.security)."""
    client.force_login(user)
    device = TOTPDevice.objects.create(user=user, name="test authenticator", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


@pytest.fixture
def other_camera(db):
    venue = Venue.objects.create(
        name="Central Park", kind="park", district="Almaly", latitude="43.25", longitude="76.95"
    )
    return Camera.objects.create(venue=venue, name="Gate", stream_url="rtsp://10.0.0.9/s")


@pytest.fixture
def scoped_dispatcher(django_user_model, venue):
    """A dispatcher who sees only the `venue` fixture."""
    user = django_user_model.objects.create_user(username="scoped1", password="correct-horse-battery")
    user.groups.add(Group.objects.get(name="dispatcher"))
    scope = OperatorScope.objects.create(user=user, all_venues=False)
    scope.venues.add(venue)
    return user


@pytest.fixture
def preview_store():
    """Raw Redis where stream workers put previews; keys written by a test are removed after it."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    written: list[str] = []

    def put(camera: Camera, data: bytes) -> None:
        key = f"cc:preview:{camera.pk}"
        client.set(key, data, ex=60)
        written.append(key)

    yield put
    if written:
        client.delete(*written)


def _raise(camera: Camera, kind: str = Alert.Kind.FIGHT, severity: int = 3) -> Alert:
    return services.alert_raise(kind=kind, camera=camera, severity=severity, score=0.8).alert


def _config(response) -> dict:
    return response.context["config"]


def test_feed_requires_login(client):
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_feed_gives_dispatcher_cursor_and_rights(client, dispatcher, camera):
    # given two alerts, when a dispatcher opens the feed
    _raise(camera)
    newest = _raise(camera, kind=Alert.Kind.CROWD)
    client.force_login(dispatcher)
    response = client.get(reverse("dashboard"))
    # then the page carries the newest change number and the dispatcher's rights
    assert response.status_code == 200
    config = _config(response)
    assert config["cursor"] == newest.change_seq
    assert config["canAct"] is True
    assert config["canReview"] is True
    assert config["api"] == "/api/alerts/"
    assert b'id="cc-config"' in response.content


def test_auditor_page_has_no_action_rights(client, auditor):
    verified_login(client, auditor)
    config = _config(client.get(reverse("dashboard")))
    assert config["canAct"] is False
    assert config["canReview"] is False


def test_user_without_role_is_refused(client, outsider):
    client.force_login(outsider)
    assert client.get(reverse("dashboard")).status_code == 403
    assert client.get(reverse("venue-map")).status_code == 403


def test_alert_detail_page_respects_scope(client, scoped_dispatcher, camera, other_camera):
    mine, theirs = _raise(camera), _raise(other_camera)
    client.force_login(scoped_dispatcher)
    assert client.get(reverse("alert-detail-page", args=[mine.pk])).status_code == 200
    assert client.get(reverse("alert-detail-page", args=[theirs.pk])).status_code == 404


def test_preview_served_from_redis(client, dispatcher, camera, preview_store):
    preview_store(camera, JPEG)
    client.force_login(dispatcher)
    response = client.get(reverse("camera-preview", args=[camera.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response.content == JPEG
    assert "no-store" in response["Cache-Control"]


def test_preview_absent_is_no_content(client, dispatcher, camera):
    client.force_login(dispatcher)
    response = client.get(reverse("camera-preview", args=[camera.pk]))
    assert response.status_code == 204
    assert response.content == b""


def test_preview_outside_scope_is_not_found(client, scoped_dispatcher, other_camera, preview_store):
    preview_store(other_camera, JPEG)
    client.force_login(scoped_dispatcher)
    response = client.get(reverse("camera-preview", args=[other_camera.pk]))
    assert response.status_code == 404
    assert JPEG not in response.content


def test_preview_needs_login_and_camera_permission(client, outsider, camera, preview_store):
    preview_store(camera, JPEG)
    url = reverse("camera-preview", args=[camera.pk])
    assert client.get(url).status_code == 302
    client.force_login(outsider)
    assert client.get(url).status_code == 403
    assert client.get(reverse("camera-preview", args=[uuid.uuid4()])).status_code == 403


def test_camera_wall_lists_only_cameras_in_scope(client, scoped_dispatcher, camera, other_camera):
    stats = {"fps": 4.5, "x": "y", "analysed_fps": 4.96, "lag_s": 0.08, "people": 12, "fight_score": 0.1234}
    Camera.objects.filter(pk=camera.pk).update(
        health_state="degraded", health_stats={**stats, "incidents_paused": False, "camera_moving": True}
    )
    client.force_login(scoped_dispatcher)
    page = client.get(reverse("camera-wall"))
    assert [c.pk for c in page.context["cameras"]] == [camera.pk]
    status = client.get(reverse("camera-status")).json()
    assert status["cameras"] == [
        {
            "id": str(camera.pk),
            "health": "degraded",
            "health_display": "Degraded",
            "figures": {"fps": 4.5, "analysed_fps": 4.96, "lag_s": 0.08, "people": 12, "fight_score": 0.1234},
            "summary": ["12 people in view"],
            "details": ["5.0 fps analysed", "lag 0.1 s", "fight score 0.12"],
            "notes": ["Camera moving: fight detection held until the view is steady."],
            "changed_at": None,
        }
    ]


@pytest.mark.parametrize(
    ("paused", "moving", "notes"),
    [
        (True, False, ["Incident detection paused: the venue is closed."]),
        (
            True,
            True,
            [
                "Incident detection paused: the venue is closed.",
                "Camera moving: fight detection held until the view is steady.",
            ],
        ),
        (False, False, []),
    ],
)
def test_camera_wall_says_why_incident_detection_is_not_running(client, dispatcher, camera, paused, moving, notes):
    Camera.objects.filter(pk=camera.pk).update(health_stats={"incidents_paused": paused, "camera_moving": moving})
    client.force_login(dispatcher)
    (row,) = client.get(reverse("camera-status")).json()["cameras"]
    assert (row["notes"], row["summary"]) == (notes, [])


def test_map_data_counts_open_alerts(client, dispatcher, camera, other_camera):
    # given two open alerts and one resolved at the first venue, none at the second
    first, _second = _raise(camera), _raise(camera, kind=Alert.Kind.CROWD)
    _raise(camera, kind=Alert.Kind.AGGRESSION, severity=2)
    services.alert_system_resolve(alert=first, outcome=Alert.Outcome.HANDLED)
    Camera.objects.filter(pk=other_camera.pk).update(latitude="43.2512", longitude="76.9501")
    client.force_login(dispatcher)
    data = client.get(reverse("map-data")).json()
    venues = {v["name"]: v for v in data["venues"]}
    assert venues["Club Almaty"]["open"] == 2
    assert venues["Club Almaty"]["lat"] == pytest.approx(43.238949)
    assert venues["Central Park"]["open"] == 0
    # then each venue and camera says its open alerts by severity and its most severe one
    assert (venues["Club Almaty"]["bySeverity"], venues["Club Almaty"]["top"]) == ({"3": 1, "2": 1}, 3)
    assert (venues["Central Park"]["bySeverity"], venues["Central Park"]["top"]) == ({}, 0)
    cameras = {c["name"]: c for c in data["cameras"]}
    assert (cameras["Entrance"]["placed"], cameras["Entrance"]["lat"], cameras["Entrance"]["open"]) == (
        False,
        pytest.approx(43.238949),
        2,
    )
    assert (cameras["Gate"]["placed"], cameras["Gate"]["lat"], cameras["Gate"]["top"]) == (True, 43.2512, 0)


def test_map_page_reads_tile_setting(client, dispatcher, settings):
    settings.CC_MAP_TILE_URL = "https://tiles.example.test/{z}/{x}/{y}.png"
    client.force_login(dispatcher)
    assert _config(client.get(reverse("venue-map")))["tileUrl"] == settings.CC_MAP_TILE_URL


def test_language_choice_is_saved_and_restored_at_login(client, dispatcher):
    # when the dispatcher switches to Russian
    client.force_login(dispatcher)
    response = client.post(reverse("language-set"), {"language": "ru", "next": "/"})
    assert response.status_code == 302
    assert OperatorScope.objects.get(user=dispatcher).language == "ru"
    # then a fresh sign-in restores it
    client.logout()
    client.cookies.clear()
    response = client.post(reverse("login"), {"username": "dispatcher1", "password": "correct-horse-battery"})
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ru"


def test_feed_page_is_translated(client, dispatcher):
    client.force_login(dispatcher)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ru"
    response = client.get(reverse("dashboard"))
    assert "Оповещения в реальном времени" in response.content.decode()
    labels = json.loads(json.dumps(_config(response)["labels"]))
    assert labels["acknowledge"] == "Принять"
