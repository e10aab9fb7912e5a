"""Purpose-gated event search: scope, filters, audit with parameters and result count; by photo only
against the embeddings stored with face-match alerts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from alerts.models import Alert
from audit.models import AccessEvent
from oversight.search import SearchQuery, event_search

pytestmark = pytest.mark.django_db

EXAMPLES = ("faces", "face_recognition", "examples")


@pytest.fixture
def two_venues(venue, camera):  # type: ignore[no-untyped-def]
    from venues.models import Camera, Venue

    other = Venue.objects.create(name="Riverside Park", kind="park")
    other_camera = Camera.objects.create(venue=other, name="Gate", stream_url="rtsp://10.0.0.9/s")
    now = timezone.now()
    mine = [
        Alert.objects.create(kind="fight", camera=camera, venue=venue, severity=3, score=0.8, raised_at=now),
        Alert.objects.create(
            kind="crowd", camera=camera, venue=venue, severity=2, score=0.7, raised_at=now - timedelta(days=2)
        ),
    ]
    theirs = Alert.objects.create(kind="fight", camera=other_camera, venue=other, severity=3, score=0.9)
    return mine, theirs, other


@pytest.fixture
def scoped_dispatcher(django_user_model, venue):  # type: ignore[no-untyped-def]
    from django.contrib.auth.models import Group

    from venues.models import OperatorScope

    user = django_user_model.objects.create_user(username="scoped1", password="correct-horse-battery")
    user.groups.add(Group.objects.get(name="dispatcher"))
    scope = OperatorScope.objects.create(user=user, all_venues=False)
    scope.venues.set([venue])
    return user


def test_search_respects_scope_and_writes_an_audit_row(two_venues, scoped_dispatcher, auditor):
    mine, theirs, _other = two_venues
    # when a dispatcher scoped to one venue searches for fights
    result = event_search(user=scoped_dispatcher, query=SearchQuery(purpose="Incident 77/26", kind="fight"))
    # then only their venue's fight is found
    assert [a.pk for a in result.alerts] == [mine[0].pk]
    # and the search is audited with its purpose, parameters and result count
    row = AccessEvent.objects.get(action="search", object_type="event_search", user_id=scoped_dispatcher.pk)
    assert row.purpose == "Incident 77/26"
    assert row.detail["parameters"] == {"kind": "fight"}
    assert row.detail["results"] == 1
    # an auditor (all venues) finds both fights; a time window narrows to the recent ones
    assert {a.pk for a in event_search(user=auditor, query=SearchQuery(purpose="p", kind="fight")).alerts} == {
        mine[0].pk,
        theirs.pk,
    }
    recent = event_search(user=auditor, query=SearchQuery(purpose="p", start=timezone.now() - timedelta(days=1)))
    assert mine[1].pk not in {a.pk for a in recent.alerts}


def test_search_needs_a_purpose_and_the_permission(two_venues, dispatcher, admin_user):
    with pytest.raises(ValidationError):
        event_search(user=dispatcher, query=SearchQuery(purpose="  "))
    assert not AccessEvent.objects.filter(action="search").exists()
    with pytest.raises(PermissionDenied):
        event_search(user=admin_user, query=SearchQuery(purpose="curious"))
    assert AccessEvent.objects.filter(action="denied", object_type="event_search", user_id=admin_user.pk).exists()


@pytest.mark.slow
def test_search_by_photo_finds_stored_face_matches_only(sample_file, camera, watchlist, admin_user, supervisor):
    from tests.support.subjects import subject_on
    from vision.faces.detectors import build_detector
    from vision.faces.embedders import build_embedder
    from vision.faces.image import decode_image
    from watchlists.matching import active_face_model

    embedder = build_embedder(active_face_model())

    def probe(name: str) -> list[float]:
        image = decode_image(sample_file(*EXAMPLES, name).read_bytes())
        face = build_detector("dlib-hog").detect(image)[0]
        return embedder.embed(image, face).tolist()

    def face_alert(name: str, probe_name: str) -> Alert:
        subject = subject_on(watchlist, admin_user, name, case="Case 5/26")
        return Alert.objects.create(
            kind="face_match",
            camera=camera,
            venue=camera.venue,
            severity=3,
            score=0.95,
            review="confirmed",
            subject=subject,
            probe_embedding=probe(probe_name),
            details={"model_name": embedder.model_name},
            track_key=name,
        )

    # given two face-match alerts whose stored probes are Obama and Biden, and a fight with no face vector
    obama = face_alert("Person O", "obama.jpg")
    face_alert("Person B", "biden.jpg")
    Alert.objects.create(kind="fight", camera=camera, venue=camera.venue, severity=3, score=0.9)
    # when a supervisor searches with another photo of Obama
    photo = sample_file(*EXAMPLES, "obama2.jpg").read_bytes()
    result = event_search(user=supervisor, query=SearchQuery(purpose="Sighting report 12", photo=photo))
    # then only the Obama alert is found, with its similarity; the audit row keeps the photo's hash, not the photo
    assert [a.pk for a in result.alerts] == [obama.pk]
    assert result.similarity[obama.pk] >= 0.9
    row = AccessEvent.objects.get(action="search", object_type="event_search")
    assert len(row.detail["parameters"]["photo_sha256"]) == 64
    assert (row.detail["results"], row.detail["faces_in_photo"]) == (1, 1)


def test_the_search_page_links_results_to_the_alert_detail(client, two_venues, dispatcher):
    mine, _theirs, _other = two_venues
    client.force_login(dispatcher)
    assert client.get("/oversight/search/").status_code == 200
    page = client.post("/oversight/search/", {"purpose": "Case 1", "kind": "crowd"})
    assert page.status_code == 200
    assert f"/alerts/{mine[1].pk}/" in page.content.decode()
    assert AccessEvent.objects.filter(action="search", purpose="Case 1").count() == 1


def test_the_api_searches_with_a_purpose(api_client, two_venues, scoped_dispatcher, admin_user):
    mine, _theirs, _other = two_venues
    api_client.force_authenticate(scoped_dispatcher)
    assert api_client.post("/api/event-search/", {"kind": "fight"}, format="json").status_code == 400
    response = api_client.post("/api/event-search/", {"purpose": "Case 4", "kind": "fight"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["count"], [r["id"] for r in body["results"]]) == (1, [str(mine[0].pk)])
    assert body["results"][0]["url"] == f"/alerts/{mine[0].pk}/"
    api_client.force_authenticate(admin_user)
    assert api_client.post("/api/event-search/", {"purpose": "x"}, format="json").status_code == 403
