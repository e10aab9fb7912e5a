"""API tokens: scripts authenticate with a token; admins and auditors need a one-time code to get one."""

from __future__ import annotations

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_throttle_memory():  # type: ignore[no-untyped-def]
    from django.core.cache import cache

    cache.clear()


def test_dispatcher_gets_a_token_and_uses_it(api_client, dispatcher):
    response = api_client.post(
        "/api/token/", {"username": "dispatcher1", "password": "correct-horse-battery"}, format="json"
    )
    assert response.status_code == 200, response.content
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert api_client.get("/api/alerts/").status_code == 200


def test_wrong_password_gets_no_token(api_client, dispatcher):
    response = api_client.post("/api/token/", {"username": "dispatcher1", "password": "nope"}, format="json")
    assert (response.status_code, response.json()) == (400, {"detail": "Wrong username or password."})


def test_admin_needs_a_current_one_time_code(api_client, admin_user):
    device = TOTPDevice.objects.create(user=admin_user, name="phone", confirmed=True)
    body = {"username": "admin1", "password": "correct-horse-battery"}
    refused = api_client.post("/api/token/", body, format="json")
    assert refused.status_code == 400
    assert "one-time code" in refused.json()["detail"]
    code = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=0):06d}"
    accepted = api_client.post("/api/token/", {**body, "otp": code}, format="json")
    assert accepted.status_code == 200, accepted.content
    assert len(accepted.json()["token"]) == 40
