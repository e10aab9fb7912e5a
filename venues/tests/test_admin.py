"""The admin pages add venues and cameras through the services and show field errors."""

from __future__ import annotations

import pytest

from commandcenter.tests.otp import login_verified
from venues.models import Camera, Venue

pytestmark = pytest.mark.django_db


def _camera_form(venue, **overrides):  # type: ignore[no-untyped-def]
    data = {
        "venue": str(venue.pk),
        "name": "Bar",
        "stream_url": "rtsp://10.0.0.9/s",
        "rtsp_transport": "tcp",
        "enabled": "on",
        "analysis_fps": "2",
        "face_recognition_enabled": "on",
        "crowd_enabled": "on",
        "counting_view": "near",
        "fight_enabled": "on",
        "sensitivity": "0.5",
        "min_duration_s": "1",
        "cooldown_s": "120",
        "offline_after_s": "30",
        "alert_budget_per_hour": "1",
        "zones-TOTAL_FORMS": "0",
        "zones-INITIAL_FORMS": "0",
        "zones-MIN_NUM_FORMS": "0",
        "zones-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data


def _venue_form(**overrides):  # type: ignore[no-untyped-def]
    data = {
        "name": "Market 1",
        "kind": "market",
        "address": "",
        "district": "Almaly",
        "latitude": "",
        "longitude": "",
        "capacity": "100",
        "active": "on",
        "opening_hours-TOTAL_FORMS": "0",
        "opening_hours-INITIAL_FORMS": "0",
        "opening_hours-MIN_NUM_FORMS": "0",
        "opening_hours-MAX_NUM_FORMS": "1000",
        "cameras-TOTAL_FORMS": "0",
        "cameras-INITIAL_FORMS": "0",
        "cameras-MIN_NUM_FORMS": "0",
        "cameras-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data


def test_admin_adds_a_venue_and_a_camera(client, admin_user):
    login_verified(client, admin_user)
    response = client.post("/admin/venues/venue/add/", _venue_form())
    assert response.status_code == 302, response.content.decode()[:2000]
    venue = Venue.objects.get(name="Market 1")
    response = client.post("/admin/venues/camera/add/", _camera_form(venue))
    assert response.status_code == 302
    assert Camera.objects.get(venue=venue).stream_url == "rtsp://10.0.0.9/s"


def test_admin_shows_field_errors_for_bad_input(client, admin_user, venue):
    login_verified(client, admin_user)
    response = client.post("/admin/venues/camera/add/", _camera_form(venue, stream_url="ftp://x/y"))
    assert response.status_code == 200
    assert "Unsupported stream URL scheme &#x27;ftp&#x27;" in response.content.decode()
    response = client.post("/admin/venues/venue/add/", _venue_form(name="Neg", capacity="-4"))
    assert "Ensure this value is greater than or equal to 0." in response.content.decode()
    assert not Camera.objects.exists()
    assert not Venue.objects.filter(name="Neg").exists()


def test_admin_rejects_a_zone_with_two_points(client, admin_user, camera):
    login_verified(client, admin_user)
    response = client.post(
        "/admin/venues/zone/add/",
        {"camera": str(camera.pk), "name": "door", "polygon": "[[0, 0], [1, 1]]", "enabled": "on"},
    )
    assert response.status_code == 200
    assert "A zone polygon needs at least 3 points." in response.content.decode()
