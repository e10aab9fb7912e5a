"""The API's shared contract pieces (core.filters, core.pagination, core.api), with exact outcomes."""

from __future__ import annotations

import uuid

import pytest

from audit.models import AccessEvent
from audit.services import access_record
from venues.models import Venue

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_api(api_client, admin_user):  # type: ignore[no-untyped-def]
    api_client.force_authenticate(admin_user)
    return api_client


def test_an_unknown_id_in_a_filter_is_an_empty_page_not_a_400(admin_api, camera):  # type: ignore[no-untyped-def]
    # given a camera, when the admin filters cameras and alerts by an id that names no row
    cameras = admin_api.get(f"/api/cameras/?venue={uuid.uuid4()}")
    alerts = admin_api.get(f"/api/alerts/?camera={uuid.uuid4()}")
    # then both are empty pages; the camera's own venue still finds it
    assert (cameras.status_code, cameras.json()["count"]) == (200, 0)
    assert (alerts.status_code, alerts.json()["count"]) == (200, 0)
    assert admin_api.get(f"/api/cameras/?venue={camera.venue_id}").json()["count"] == 1


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("enabled=maybe", "enabled"),
        ("enabled=", "enabled"),
        ("venue=", "venue"),
        ("venue=not-a-uuid", "venue"),
        ("page=0", "page"),
        ("page_size=0", "page_size"),
        ("page_size=501", "page_size"),
        ("page=%C2%B2", "page"),  # a superscript two is a digit to str.isdigit, not to int()
    ],
)
def test_a_bad_query_value_is_a_400_naming_it(admin_api, camera, query, field):  # type: ignore[no-untyped-def]
    response = admin_api.get(f"/api/cameras/?{query}")
    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_times_with_offsets_postgresql_refuses_are_compared_in_utc(admin_api, camera):  # type: ignore[no-untyped-def]
    # ISO 8601 allows +20:53; PostgreSQL refused it with a 500 before the filter converted to UTC
    response = admin_api.get("/api/alerts/?raised_before=8253-02-20T08:45:56.82%2B20:53")
    assert (response.status_code, response.json()["count"]) == (200, 0)


def test_the_alert_cursor_must_be_an_ascii_whole_number(admin_api):  # type: ignore[no-untyped-def]
    assert admin_api.get("/api/alerts/?after=%C2%B2").status_code == 400
    assert admin_api.get(f"/api/alerts/?after={2**63}").status_code == 400
    assert admin_api.get("/api/alerts/?after=0").json() == {"results": [], "cursor": 0, "more": False}


def test_a_taken_name_is_a_409_naming_the_field(admin_api, venue):  # type: ignore[no-untyped-def]
    response = admin_api.post("/api/venues/", {"name": venue.name}, format="json")
    assert response.status_code == 409
    assert list(response.json()) == ["name"]
    assert Venue.objects.filter(name=venue.name).count() == 1


def test_deleting_a_referenced_camera_is_a_409_and_keeps_it(admin_api, camera):  # type: ignore[no-untyped-def]
    from alerts.models import Alert

    Alert.objects.create(kind=Alert.Kind.FIGHT, camera=camera, venue=camera.venue, severity=3, score=0.9)
    response = admin_api.delete(f"/api/cameras/{camera.pk}/")
    assert response.status_code == 409
    assert "still referenced" in response.json()["detail"]
    assert camera.__class__.objects.filter(pk=camera.pk).exists()


@pytest.mark.parametrize(("field", "value"), [("active", 0), ("district", 7), ("latitude", "")])
def test_json_input_is_what_the_schema_says(admin_api, field, value):  # type: ignore[no-untyped-def]
    # a number is not a boolean or a text, "" is not a number (DRF's form habits accepted all three)
    body = {"name": "Arena", "latitude": 43.2, "longitude": 76.9, field: value}
    response = admin_api.post("/api/venues/", body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert not Venue.objects.filter(name="Arena").exists()


def test_coordinates_with_more_places_are_rounded_not_refused(admin_api):  # type: ignore[no-untyped-def]
    body = {"name": "Arena", "latitude": 43.238949123456, "longitude": -76.8897094999}
    response = admin_api.post("/api/venues/", body, format="json")
    assert response.status_code == 201, response.content
    assert (response.json()["latitude"], response.json()["longitude"]) == ("43.238949", "-76.889709")


def test_a_json_404_for_api_urls_no_route_matches(admin_api):  # type: ignore[no-untyped-def]
    response = admin_api.get("/api/alerts/0.5/")
    assert (response.status_code, response["Content-Type"], response.json()) == (
        404,
        "application/json",
        {"detail": "Not found."},
    )


def test_the_audit_keeps_a_nul_character_as_a_replacement(admin_user):  # type: ignore[no-untyped-def]
    # PostgreSQL text and jsonb hold no NUL: the read is still recorded instead of failing the request
    event = access_record(user=admin_user, action="view", purpose="case\x0042", detail={"q\x00": ["a\x00"]})
    event = AccessEvent.objects.get(pk=event.pk)
    assert (event.purpose, event.detail) == ("case\ufffd42", {"q\ufffd": ["a\ufffd"]})


def test_the_api_answers_403_without_the_token_or_with_a_forged_session(client, admin_user):  # type: ignore[no-untyped-def]
    # what schemathesis' ignored_auth replays: the probe's 200s without a token came from its own generated
    # `cc_session` cookie sitting next to a valid token, not from a hole
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=admin_user).key
    assert client.get("/api/alerts/").status_code == 403
    client.cookies["cc_session"] = "SCHEMATHESIS-INVALID-VALUE"
    assert client.get("/api/alerts/").status_code == 403
    assert client.get("/api/alerts/", HTTP_AUTHORIZATION="Token SCHEMATHESIS-INVALID-VALUE").status_code == 403
    assert client.get("/api/alerts/", HTTP_AUTHORIZATION=f"Token {token}").status_code == 200


def test_ordering_takes_the_published_fields_only(admin_api, venue):  # type: ignore[no-untyped-def]
    assert admin_api.get("/api/alerts/?ordering=-severity,-raised_at").status_code == 200
    refused = admin_api.get("/api/alerts/?ordering=kind_display")
    assert (refused.status_code, list(refused.json())) == (400, ["ordering"])
    assert admin_api.get("/api/venues/?ordering=").status_code == 400


def test_a_search_by_photo_may_come_as_multipart(api_client, supervisor):  # type: ignore[no-untyped-def]
    # the API parses JSON only unless a view names more; the event search takes a photo
    from django.core.files.uploadedfile import SimpleUploadedFile

    api_client.force_authenticate(supervisor)
    photo = SimpleUploadedFile("face.jpg", b"not a picture", content_type="image/jpeg")
    response = api_client.post("/api/event-search/", {"purpose": "Case 4", "photo": photo}, format="multipart")
    # then the photo is read (and refused as no picture), not the request as an unsupported media type
    assert (response.status_code, response.json()) == (400, {"photo": ["The file is not a JPEG, PNG or WebP image."]})
