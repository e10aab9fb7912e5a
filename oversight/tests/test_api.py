"""The deployments API applies the service's rules: request, requester cannot authorise, 409 on a lost race."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AccessEvent
from oversight.models import Deployment

pytestmark = pytest.mark.django_db


def _body(camera, watchlist, **extra):  # type: ignore[no-untyped-def]
    now = timezone.now()
    return {
        "title": "Stadium match day",
        "purpose": "Find two missing children reported at the stadium",
        "legal_basis": "Court order 7/26",
        "starts_at": (now + timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(hours=5)).isoformat(),
        "cameras": [str(camera.pk)],
        "watchlists": [str(watchlist.pk)],
        **extra,
    }


def test_request_authorise_and_conflict_through_the_api(api_client, camera, watchlist, supervisor, authoriser):
    api_client.force_authenticate(supervisor)
    created = api_client.post("/api/deployments/", _body(camera, watchlist), format="json")
    assert created.status_code == 201, created.content
    assert created.json()["status"] == "requested"
    pk = created.json()["id"]
    # the requester cannot authorise it (and the attempt is audited)
    refused = api_client.post(f"/api/deployments/{pk}/authorise/", {}, format="json")
    assert refused.status_code == 403
    assert Deployment.objects.get(pk=pk).status == "requested"
    assert AccessEvent.objects.filter(action="denied", object_id=pk).exists()
    # the authoriser can, once
    api_client.force_authenticate(authoriser)
    done = api_client.post(f"/api/deployments/{pk}/authorise/", {"note": "necessary"}, format="json")
    assert done.status_code == 200
    assert done.json()["status"] == "authorised"
    again = api_client.post(f"/api/deployments/{pk}/refuse/", {"note": "no"}, format="json")
    assert again.status_code == 409
    assert again.json()["status"] == "authorised"


def test_bad_requests_change_nothing(api_client, camera, watchlist, supervisor, dispatcher):
    api_client.force_authenticate(supervisor)
    no_lists = api_client.post("/api/deployments/", _body(camera, watchlist, watchlists=[]), format="json")
    assert no_lists.status_code == 400
    assert "watchlists" in no_lists.json()
    now = timezone.now()
    backwards = _body(camera, watchlist, ends_at=(now - timedelta(hours=1)).isoformat())
    assert api_client.post("/api/deployments/", backwards, format="json").status_code == 400
    nowhere = api_client.post("/api/deployments/", _body(camera, watchlist, cameras=[]), format="json")
    assert nowhere.status_code == 400
    assert "venues" in nowhere.json()
    api_client.force_authenticate(dispatcher)
    assert api_client.post("/api/deployments/", _body(camera, watchlist), format="json").status_code == 403
    assert Deployment.objects.count() == 0


def test_urgent_start_through_the_api(api_client, camera, watchlist, supervisor, settings):
    api_client.force_authenticate(supervisor)
    body = _body(camera, watchlist, urgent_reason="Abduction reported ten minutes ago")
    response = api_client.post("/api/deployments/", body, format="json")
    assert response.status_code == 201
    deployment = Deployment.objects.get(pk=response.json()["id"])
    assert deployment.status == "urgent_pending"
    assert deployment.starts_at <= timezone.now()
    expected = deployment.requested_at + timedelta(hours=settings.CC_URGENT_AUTHORISATION_HOURS)
    assert abs((deployment.urgent_deadline - expected).total_seconds()) < 5
