"""Watchlists and subjects through API and admin: expiry required, threshold floor, audited reads."""

from __future__ import annotations

import datetime

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.models import AccessEvent
from commandcenter.tests.otp import login_verified
from watchlists.models import Subject, Watchlist

pytestmark = pytest.mark.django_db


def _subject_payload(watchlist, **overrides):  # type: ignore[no-untyped-def]
    data = {
        "watchlist": str(watchlist.pk),
        "display_name": "Person A",
        "reference_number": "W-1",
        "legal_basis_reference": "Warrant 77/2026",
        "expires_at": (timezone.now() + datetime.timedelta(days=90)).isoformat(),
    }
    data.update(overrides)
    return data


def test_admin_creates_a_wanted_watchlist_that_needs_two_confirmations(api_client, admin_user):
    api_client.force_authenticate(admin_user)
    response = api_client.post(
        "/api/watchlists/",
        {"name": "Wanted", "category": "wanted", "legal_basis": "Criminal Procedure Code art. 1"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["match_threshold"], body["requires_second_confirmation"]) == (0.94, True)
    missing = api_client.post(
        "/api/watchlists/", {"name": "Missing", "category": "missing", "legal_basis": "Report 5"}, format="json"
    ).json()
    assert missing["requires_second_confirmation"] is False


def test_threshold_below_the_floor_is_refused(api_client, admin_user):
    api_client.force_authenticate(admin_user)
    response = api_client.post(
        "/api/watchlists/",
        {"name": "Loose", "category": "other", "legal_basis": "x", "match_threshold": 0.5},
        format="json",
    )
    assert response.status_code == 400
    assert "cannot be lower than the system floor of 0.90" in response.json()["match_threshold"][0]
    assert not Watchlist.objects.exists()


def test_subject_without_expiry_is_rejected_by_api(api_client, admin_user, watchlist):
    api_client.force_authenticate(admin_user)
    payload = _subject_payload(watchlist)
    del payload["expires_at"]
    response = api_client.post("/api/subjects/", payload, format="json")
    assert response.status_code == 400
    assert response.json()["expires_at"] == ["This field is required."]
    response = api_client.post("/api/subjects/", _subject_payload(watchlist, expires_at=None), format="json")
    assert response.status_code == 400
    assert not Subject.objects.exists()


def test_subject_expiry_in_the_past_or_too_far_is_rejected(api_client, admin_user, watchlist):
    api_client.force_authenticate(admin_user)
    past = (timezone.now() - datetime.timedelta(days=1)).isoformat()
    response = api_client.post("/api/subjects/", _subject_payload(watchlist, expires_at=past), format="json")
    assert response.json()["expires_at"] == ["The expiry date must be in the future."]
    far = (timezone.now() + datetime.timedelta(days=4 * 365)).isoformat()
    response = api_client.post("/api/subjects/", _subject_payload(watchlist, expires_at=far), format="json")
    assert response.json()["expires_at"] == ["Entries may be kept at most 3 years; renew them when due."]


def test_subject_without_expiry_is_rejected_by_admin(client, admin_user, watchlist):
    login_verified(client, admin_user)
    response = client.post(
        "/admin/watchlists/subject/add/",
        {
            "watchlist": str(watchlist.pk),
            "display_name": "P",
            "legal_basis_reference": "W-2",
            "status": "active",
            "expires_at_0": "",
            "expires_at_1": "",
            "templates-TOTAL_FORMS": "0",
            "templates-INITIAL_FORMS": "0",
            "templates-MIN_NUM_FORMS": "0",
            "templates-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not Subject.objects.exists()


def test_subject_create_and_reads_are_audited(api_client, admin_user, dispatcher, watchlist):
    api_client.force_authenticate(admin_user)
    subject_id = api_client.post("/api/subjects/", _subject_payload(watchlist), format="json").json()["id"]
    api_client.force_authenticate(dispatcher)
    detail = api_client.get(f"/api/subjects/{subject_id}/?purpose=case 12")
    assert detail.status_code == 200
    view = AccessEvent.objects.get(user_id=dispatcher.pk, action="view")
    assert (view.object_type, view.object_id, view.purpose) == ("watchlists.subject", subject_id, "case 12")
    api_client.get("/api/subjects/")
    search = AccessEvent.objects.get(user_id=dispatcher.pk, action="search")
    assert search.detail["shown"] == [subject_id]


def test_subject_database_constraints(admin_user, watchlist):
    expires = timezone.now() + datetime.timedelta(days=10)
    with pytest.raises(IntegrityError), transaction.atomic():
        Subject.objects.create(
            watchlist=watchlist, display_name="X", legal_basis_reference="", added_by=admin_user, expires_at=expires
        )
    Subject.objects.create(
        watchlist=watchlist,
        display_name="Y",
        legal_basis_reference="r",
        reference_number="R1",
        added_by=admin_user,
        expires_at=expires,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Subject.objects.create(
            watchlist=watchlist,
            display_name="Z",
            legal_basis_reference="r",
            reference_number="R1",
            added_by=admin_user,
            expires_at=expires,
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Subject.objects.create(
            watchlist=watchlist, display_name="N", legal_basis_reference="r", added_by=admin_user, expires_at=None
        )


def test_expired_subject_is_not_matchable(admin_user, watchlist):
    now = timezone.now()
    live = Subject.objects.create(
        watchlist=watchlist,
        display_name="Live",
        legal_basis_reference="r",
        added_by=admin_user,
        expires_at=now + datetime.timedelta(days=1),
    )
    Subject.objects.create(
        watchlist=watchlist,
        display_name="Old",
        legal_basis_reference="r",
        added_by=admin_user,
        expires_at=now + datetime.timedelta(seconds=1),
    )
    later = now + datetime.timedelta(hours=1)
    assert list(Subject.objects.matchable(later)) == [live]
