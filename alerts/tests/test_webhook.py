"""Inbound CAD unit status webhook: signed, fresh, once; precise 4xx that change nothing otherwise."""

# ruff: noqa: F811 - pytest fixtures imported from alerts.tests.dispatch_support

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest
from django.test import Client

from alerts.cad import signing
from alerts.cad.payload import StatusUpdate, UnitStatus
from alerts.dispatch import outbound
from alerts.models import Alert, AlertEvent, DispatchEndpoint, UnitStatusReport, WebhookNonce
from alerts.tests.dispatch_support import (  # noqa: F401 - fixtures
    KEY,
    dashboard,
    queued,
    raise_alert,
)
from audit.models import AccessEvent

URL = "/api/cad/status/"


@pytest.fixture
def cad(db):  # type: ignore[no-untyped-def]
    """An endpoint whose key the CAD also signs its status pushes with (no server needed here)."""
    return DispatchEndpoint.objects.create(name="City CAD", url="http://127.0.0.1:9/incidents", secret=KEY)


@pytest.fixture
def sent_alert(camera, dispatcher, cad, queued):  # type: ignore[no-untyped-def]
    """An alert already sent to the CAD (a delivery row exists)."""
    alert = raise_alert(camera)
    outbound.delivery_schedule(alert=alert, actor=dispatcher)
    return alert


def _signed(
    incident_id: object, status: str = "en_route", *, unit: str = "P-12", key: str = KEY, now: float | None = None
) -> tuple[bytes, dict[str, str]]:
    body = StatusUpdate(str(incident_id), UnitStatus(status), unit, datetime.now(UTC), "CAD-991").to_json()
    return body, signing.sign(body, key, now=now)


def _post(body: bytes, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    client = Client(enforce_csrf_checks=True)  # no session, no CSRF token: the signature is the auth
    return client.post(URL, data=body, content_type="application/json", headers=headers)


def _state(alert: Alert) -> tuple[int, int, int, int, int]:
    alert.refresh_from_db()
    return (
        UnitStatusReport.objects.count(),
        AlertEvent.objects.filter(alert=alert).count(),
        WebhookNonce.objects.count(),
        AccessEvent.objects.count(),
        alert.change_seq,
    )


def test_valid_status_updates_history_audit_and_open_dashboards(
    sent_alert, dashboard, django_capture_on_commit_callbacks
):
    # given a signed "en route" report for a dispatched incident
    body, headers = _signed(sent_alert.pk)
    before = _state(sent_alert)

    # when the CAD posts it
    with django_capture_on_commit_callbacks(execute=True):
        answer = _post(body, headers)

    # then it is recorded once, in the history, in the audit log, and pushed to dashboards
    assert answer.status_code == 202
    assert answer.json() == {
        "accepted": True,
        "duplicate": False,
        "report": answer.json()["report"],
        "incident_id": str(sent_alert.pk),
        "status": "en_route",
        "unit": "P-12",
    }
    report = UnitStatusReport.objects.get()
    assert (report.alert_id, report.status, report.unit, report.cad_reference, report.nonce) == (
        sent_alert.pk,
        "en_route",
        "P-12",
        "CAD-991",
        headers[signing.NONCE_HEADER],
    )
    event = AlertEvent.objects.filter(alert=sent_alert).latest("id")
    assert (event.action, event.note, event.data["endpoint"]) == ("unit_status", "P-12: Unit en route", "City CAD")
    audit = AccessEvent.objects.order_by("-id").first()
    assert audit is not None
    assert (audit.username, audit.action, audit.object_id) == ("cad:City CAD", "update", str(sent_alert.pk))
    assert _state(sent_alert)[4] > before[4]
    sent_alert.refresh_from_db()
    assert sent_alert.status == "new"  # a unit status never changes the alert's own status
    assert dashboard.messages_for(sent_alert.pk) == [
        {"type": "alert.changed", "id": str(sent_alert.pk), "seq": sent_alert.change_seq}
    ]


def test_same_status_twice_is_accepted_without_duplicate_history(sent_alert):
    # given the unit's en-route status was already reported
    assert _post(*_signed(sent_alert.pk)).status_code == 202
    reports, events = UnitStatusReport.objects.count(), AlertEvent.objects.filter(alert=sent_alert).count()

    # when the CAD reports it again (new nonce), then a new status
    again = _post(*_signed(sent_alert.pk))
    on_scene = _post(*_signed(sent_alert.pk, "on_scene"))

    # then the repeat is acknowledged as a duplicate and adds nothing; the new status is recorded
    assert (again.status_code, again.json()["duplicate"]) == (200, True)
    assert on_scene.status_code == 202
    assert UnitStatusReport.objects.count() == reports + 1
    assert AlertEvent.objects.filter(alert=sent_alert).count() == events + 1


def test_replayed_request_is_rejected_and_changes_nothing(sent_alert):
    body, headers = _signed(sent_alert.pk)
    assert _post(body, headers).status_code == 202
    before = _state(sent_alert)

    replay = _post(body, headers)

    assert (replay.status_code, replay.json()["error"]) == (409, "replayed_nonce")
    assert replay.json()["reason"] == f"nonce {headers[signing.NONCE_HEADER]} was already used"
    assert _state(sent_alert) == before


@pytest.mark.parametrize(
    ("case", "http_status", "error"),
    [
        ("tampered", 401, "bad_signature"),
        ("wrong_key", 401, "bad_signature"),
        ("stale", 401, "stale_timestamp"),
        ("missing_signature", 400, "missing_header"),
        ("unknown_incident", 404, "unknown_incident"),
        ("not_sent_to_cad", 404, "unknown_incident"),
        ("malformed", 400, "malformed_body"),
    ],
)
def test_refused_status_gets_a_precise_4xx_and_changes_nothing(sent_alert, camera, case, http_status, error):
    # given a status update spoiled in one way
    body, headers = _signed(sent_alert.pk)
    if case == "tampered":
        body = body.replace(b'"P-12"', b'"P-99"')
    elif case == "wrong_key":
        body, headers = _signed(sent_alert.pk, key="not-the-cad-key")
    elif case == "stale":
        body, headers = _signed(sent_alert.pk, now=time.time() - 3600)
    elif case == "missing_signature":
        del headers[signing.SIGNATURE_HEADER]
    elif case == "unknown_incident":
        body, headers = _signed(uuid.uuid4())
    elif case == "not_sent_to_cad":
        body, headers = _signed(raise_alert(camera).pk)
    elif case == "malformed":
        body = body.replace(b'"en_route"', b'"flying"')
        headers = signing.sign(body, KEY)
    before = _state(sent_alert)

    # when it is posted
    answer = _post(body, headers)

    # then the refusal names the reason and nothing was recorded
    assert answer.status_code == http_status
    assert answer.json()["error"] == error
    assert answer.json()["reason"]
    assert _state(sent_alert) == before


def test_closed_resolves_the_alert_only_when_configured(sent_alert, camera, dispatcher, settings):
    # given the default: a dispatcher resolves
    assert _post(*_signed(sent_alert.pk, "closed")).status_code == 202
    sent_alert.refresh_from_db()
    assert sent_alert.status == "new"

    # when the setting lets the CAD close incidents
    settings.CC_DISPATCH_CLOSED_RESOLVES = True
    other = raise_alert(camera)
    outbound.delivery_schedule(alert=other, actor=dispatcher)
    assert _post(*_signed(other.pk, "closed")).status_code == 202

    # then the CAD's close resolves it as handled
    other.refresh_from_db()
    assert (other.status, other.outcome) == ("resolved", "handled")


def test_only_post_is_allowed(db):
    assert Client().get(URL).status_code == 405
