"""Every venues constraint is enforced by the database and explained by validation."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from venues.models import Camera, OpeningHours, Venue, Zone

pytestmark = pytest.mark.django_db


def _violates(factory) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(IntegrityError), transaction.atomic():
        factory()


def test_venue_capacity_cannot_be_negative_in_the_database():
    _violates(lambda: Venue.objects.create(name="A", capacity=-1))


def test_venue_coordinates_must_come_in_pairs_and_in_range():
    _violates(lambda: Venue.objects.create(name="B", latitude=43.2))
    _violates(lambda: Venue.objects.create(name="C", latitude=91, longitude=10))
    _violates(lambda: Venue.objects.create(name="D", latitude=10, longitude=181))


def test_venue_names_are_unique():
    Venue.objects.create(name="Same")
    _violates(lambda: Venue.objects.create(name="Same"))


def test_camera_settings_are_bounded_in_the_database(venue):
    base = {"venue": venue, "stream_url": "rtsp://10.0.0.1/s"}
    _violates(lambda: Camera.objects.create(name="fps", analysis_fps=0.0, **base))
    _violates(lambda: Camera.objects.create(name="sens", sensitivity=1.5, **base))
    _violates(lambda: Camera.objects.create(name="cool", cooldown_s=1, **base))
    _violates(lambda: Camera.objects.create(name="off", offline_after_s=1, **base))
    _violates(lambda: Camera.objects.create(name="dur", min_duration_s=99, **base))


def test_camera_url_scheme_is_checked_by_the_database_and_by_validation(venue):
    _violates(lambda: Camera.objects.create(venue=venue, name="ftp", stream_url="ftp://x/y"))
    camera = Camera(venue=venue, name="ftp", stream_url="ftp://x/y")
    with pytest.raises(ValidationError) as info:
        camera.full_clean()
    assert "Unsupported stream URL scheme 'ftp'" in info.value.message_dict["stream_url"][0]


def test_camera_names_are_unique_per_venue(camera):
    _violates(lambda: Camera.objects.create(venue=camera.venue, name=camera.name, stream_url="file:///a.mp4"))


@pytest.mark.parametrize(
    ("polygon", "message"),
    [
        ([[0, 0], [1, 1]], "at least 3 points"),
        ([[0, 0], [1.2, 0], [1, 1]], "outside the frame"),
        ([[0, 0], [0.5, 0.5], [1, 1]], "no area"),
        ([[0, 0], ["a", 0], [1, 1]], "pair of numbers"),
        ("not a list", "at least 3 points"),
    ],
)
def test_zone_polygon_validation_names_the_problem(camera, polygon, message):
    zone = Zone(camera=camera, name="door", polygon=polygon, capacity=10)
    with pytest.raises(ValidationError) as info:
        zone.full_clean()
    assert message in info.value.message_dict["polygon"][0]


def test_zone_capacity_and_rate_are_bounded(camera):
    polygon = [[0, 0], [1, 0], [1, 1]]
    _violates(lambda: Zone.objects.create(camera=camera, name="z1", polygon=polygon, capacity=-5))
    _violates(lambda: Zone.objects.create(camera=camera, name="z2", polygon=polygon, gathering_rate_per_min=0.1))


def test_opening_hours_weekday_and_window(venue):
    _violates(lambda: OpeningHours.objects.create(venue=venue, weekday=7, opens="10:00", closes="22:00"))
    _violates(lambda: OpeningHours.objects.create(venue=venue, weekday=1, opens="10:00", closes="10:00"))
    overnight = OpeningHours.objects.create(venue=venue, weekday=5, opens=datetime.time(22), closes=datetime.time(4))
    assert str(overnight) == "Saturday 22:00-04:00"
