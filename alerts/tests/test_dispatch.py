"""Outbound CAD dispatch against the reference receiver on loopback: once, signed, retried, in order."""

# ruff: noqa: F811 - pytest fixtures imported from alerts.tests.dispatch_support

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from alerts import tasks
from alerts.cad import cap, eido
from alerts.dispatch import outbound
from alerts.models import Alert, AlertEvent, Delivery, DeliveryAttempt, DispatchEndpoint
from alerts.services import EvidenceFile, alert_dispatch
from alerts.tests.dispatch_support import (  # noqa: F401 - fixtures
    DashboardListener,
    advance_until_settled,
    dashboard,
    endpoint,
    healthy,
    public_base,
    queued,
    raise_alert,
    received,
    receiver,
    receiver_fail,
)
from audit.models import AccessEvent

JPEG = b"\xff\xd8\xff\xe0fake-but-stored-bytes\xff\xd9"


def _dispatch_events(alert: Alert) -> list[dict]:
    return [e.data for e in AlertEvent.objects.filter(alert=alert, action="note") if "dispatch" in e.data]


@pytest.mark.django_db
def test_real_alerts_render_schema_valid_eido_and_cap_without_faces_or_names(
    camera, watchlist, admin_user, public_base
):
    # given a fight with a snapshot and a face crop, and a confirmed face match on a named subject
    from watchlists.models import Subject

    fight = raise_alert(
        camera,
        evidence=[
            EvidenceFile(kind="snapshot", content=JPEG, content_type="image/jpeg", filename="s.jpg"),
            EvidenceFile(kind="face_crop", content=JPEG, content_type="image/jpeg", filename="f.jpg"),
        ],
    )
    subject = Subject.objects.create(
        watchlist=watchlist,
        display_name="Ivan Petrov",
        reference_number="WL-2026/0042",
        legal_basis_reference="Court order 12/2026",
        added_by=admin_user,
        expires_at=timezone.now() + timedelta(days=30),
    )
    match = raise_alert(camera, kind="face_match", severity=4, subject=subject)
    Alert.objects.filter(pk=match.pk).update(review=Alert.Review.CONFIRMED)
    match.refresh_from_db()
    eido_end = DispatchEndpoint(name="e", url="https://cad.example/e", format="eido", secret="k")
    cap_end = DispatchEndpoint(name="c", url="https://cad.example/c", format="cap", secret="k")

    # when both are rendered for each format
    now = timezone.now()
    payload = outbound.incident_payload_build(alert=fight, revision=0, reported_at=now, first_reported_at=None)
    match_payload = outbound.incident_payload_build(
        alert=match, revision=1, reported_at=now, first_reported_at=now - timedelta(minutes=1)
    )
    documents = [
        outbound.incident_render(endpoint=end, payload=p)
        for end in (eido_end, cap_end)
        for p in (payload, match_payload)
    ]

    # then every document validates against the schemas in the repo
    for body, content_type in documents:
        if content_type == eido.CONTENT_TYPE:
            eido.validate_eido(json.loads(body))
        else:
            cap.validate_cap(body)
    snapshot = fight.evidence.get(kind="snapshot")
    crop = fight.evidence.get(kind="face_crop")
    assert list(payload.evidence_links) == [f"https://cc.police.example.test/evidence/{snapshot.pk}/"]
    assert (payload.incident_id, payload.priority, payload.latitude) == (str(fight.pk), 2, 43.238949)
    assert payload.subject_reference is None
    assert match_payload.subject_reference == "WL-2026/0042"
    for body, _ in documents:
        assert str(crop.pk).encode() not in body
        assert b"Ivan" not in body
        assert b"Petrov" not in body


@pytest.mark.django_db
def test_dispatched_alert_arrives_once_with_a_valid_signature(
    camera, dispatcher, endpoint, healthy, queued, django_capture_on_commit_callbacks
):
    # given an alert and one active CAD endpoint
    alert = raise_alert(camera)

    # when a dispatcher dispatches it and the queued task runs (twice, as a redelivered message would)
    with django_capture_on_commit_callbacks(execute=True):
        alert_dispatch(alert_id=alert.pk, actor=dispatcher, note="Two units please")
    delivery = Delivery.objects.get(alert=alert)
    first, second = tasks.dispatch_deliver(delivery.pk), tasks.dispatch_deliver(delivery.pk)

    # then one delivery was queued on commit and the receiver (which verifies the HMAC) stored it once
    assert queued == [(delivery.pk, None)]
    assert (first, second) == ("delivered", "skipped")
    records = received(healthy, delivery.idempotency_key)
    assert len(records) == 1
    assert records[0]["body_sha256"] == delivery.body_sha256
    assert records[0]["document"]["incidentComponent"]["internalIncidentId"] == str(alert.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.revision) == ("delivered", 1, 0)
    assert [(a.number, a.http_status) for a in delivery.attempt_log.all()] == [(1, 201)]
    assert _dispatch_events(alert)[-1]["dispatch"] == "delivered"
    assert AccessEvent.objects.filter(object_id=str(alert.pk), action="export").count() == 1


@pytest.mark.django_db
def test_outage_then_recovery_delivers_each_exactly_once_in_order_per_alert(
    camera, dispatcher, endpoint, receiver, queued
):
    # given the receiver is down, three dispatched alerts, and a second revision of the first one
    receiver.stop()
    alerts = [raise_alert(camera) for _ in range(3)]
    for alert in alerts:
        alert_dispatch(alert_id=alert.pk, actor=dispatcher)
    outbound.delivery_schedule(alert=alerts[0], actor=dispatcher, note="Suspect left by the north exit")
    deliveries = list(Delivery.objects.filter(alert__in=alerts).order_by("pk"))
    assert [d.revision for d in deliveries] == [0, 0, 0, 1]

    def world(round_number: int) -> None:
        if round_number == 3:  # back after three rounds of refused connections, then two 503s
            receiver.start()
            receiver_fail(receiver, 2)

    # when every due delivery is attempted (newest first) on a fake clock until all settle
    states = advance_until_settled([d.pk for d in deliveries], start=timezone.now(), before_round=world)

    # then all arrived exactly once, the second revision after the first, with the same bytes each try
    assert "waiting" in states
    records = received(receiver)
    keys = [r["idempotency_key"] for r in records]
    for delivery in deliveries:
        delivery.refresh_from_db()
        assert delivery.status == "delivered"
        assert keys.count(delivery.idempotency_key) == 1
        assert next(r for r in records if r["idempotency_key"] == delivery.idempotency_key)["body_sha256"] == (
            hashlib.sha256(delivery.body.encode()).hexdigest()
        )
    assert keys.index(deliveries[0].idempotency_key) < keys.index(deliveries[3].idempotency_key)
    errors = list(
        DeliveryAttempt.objects.filter(delivery__in=deliveries).exclude(error="").values_list("error", flat=True)
    )
    assert sum("ConnectionError" in e for e in errors) == 9  # 3 rounds x 3 first revisions
    assert sum(e.startswith("HTTP 503") for e in errors) == 2
    assert DeliveryAttempt.objects.filter(delivery__in=deliveries, http_status=201).count() == 4


@pytest.mark.django_db
def test_exhausted_attempts_fail_visibly_and_a_dispatcher_retries(
    camera,
    dispatcher,
    auditor,
    endpoint,
    healthy,
    queued,
    api_client,
    dashboard,
    django_capture_on_commit_callbacks,
):
    # given an endpoint allowing two attempts and a receiver failing the next ten posts
    DispatchEndpoint.objects.filter(pk=endpoint.pk).update(max_attempts=2)
    receiver_fail(healthy, 10)
    alert = raise_alert(camera)
    alert_dispatch(alert_id=alert.pk, actor=dispatcher)
    delivery = Delivery.objects.get(alert=alert)

    # when both attempts are used up
    with django_capture_on_commit_callbacks(execute=True):
        states = advance_until_settled([delivery.pk], start=timezone.now())

    # then the delivery failed, the history says so and open dashboards were told
    delivery.refresh_from_db()
    assert states == ["retry", "failed"]
    assert (delivery.status, delivery.attempts) == ("failed", 2)
    assert delivery.last_error.startswith("HTTP 503")
    assert _dispatch_events(alert)[-1]["dispatch"] == "failed"
    assert len(dashboard.messages_for(alert.pk)) == 2  # the scheduled retry ("retrying in N s"), then the failure

    # when an auditor tries to retry it: refused, nothing changed, the attempt is logged
    api_client.force_authenticate(auditor)
    denied = api_client.post(f"/api/deliveries/{delivery.pk}/retry/")
    delivery.refresh_from_db()
    assert denied.status_code == 403
    assert (delivery.status, delivery.attempts, queued) == ("failed", 2, [])
    assert AccessEvent.objects.filter(user_id=auditor.pk, action="denied", object_id=str(delivery.pk)).exists()

    # when a dispatcher retries it and the receiver is back
    receiver_fail(healthy, 0)
    api_client.force_authenticate(dispatcher)
    with django_capture_on_commit_callbacks(execute=True):
        answer = api_client.post(f"/api/deliveries/{delivery.pk}/retry/")
    state = tasks.dispatch_deliver(delivery.pk)

    # then it is delivered once, and the alert detail shows it
    assert answer.status_code == 202
    assert queued == [(delivery.pk, None)]
    assert state == "delivered"
    assert len(received(healthy, delivery.idempotency_key)) == 1
    detail = api_client.get(f"/api/alerts/{alert.pk}/").json()
    assert [(d["endpoint"], d["status"], d["attempts"]) for d in detail["deliveries"]] == [("City CAD", "delivered", 3)]
    again = api_client.post(f"/api/deliveries/{delivery.pk}/retry/")
    assert (again.status_code, again.json()["status"]) == (409, "delivered")


@pytest.mark.django_db
def test_auto_dispatch_on_raise_for_configured_kinds_never_for_face_matches(
    camera, dispatcher, endpoint, queued, django_capture_on_commit_callbacks
):
    # given an endpoint that takes fights as soon as they are raised
    DispatchEndpoint.objects.filter(pk=endpoint.pk).update(auto_dispatch_kinds=["fight"])

    # when a fight and a crowd alert are raised, then the fight is dispatched by a person
    with django_capture_on_commit_callbacks(execute=True):
        fight = raise_alert(camera, kind="fight")
        crowd = raise_alert(camera, kind="crowd")
        alert_dispatch(alert_id=fight.pk, actor=dispatcher)

    # then the fight went at once (revision 0, by the system) and again on dispatch (revision 1)
    rows = list(Delivery.objects.filter(alert=fight).order_by("revision"))
    assert [(d.revision, d.created_by_id) for d in rows] == [(0, None), (1, dispatcher.pk)]
    assert json.loads(rows[1].body)["incidentComponent"]["incidentStatusCommonRegistryText"] == ["Updated"]
    assert [q[0] for q in queued] == [rows[0].pk, rows[1].pk]
    assert not Delivery.objects.filter(alert=crowd).exists()
    with pytest.raises(IntegrityError):
        DispatchEndpoint.objects.filter(pk=endpoint.pk).update(auto_dispatch_kinds=["face_match"])


@pytest.mark.django_db
def test_incident_that_cannot_be_built_fails_visibly_without_blocking_the_dispatch(
    camera, venue, dispatcher, endpoint, queued
):
    # given a venue without coordinates
    type(venue).objects.filter(pk=venue.pk).update(latitude=None, longitude=None)
    alert = raise_alert(camera)

    # when the alert is dispatched
    updated = alert_dispatch(alert_id=alert.pk, actor=dispatcher)

    # then units are dispatched, the CAD delivery is failed with the reason, and nothing was queued
    delivery = Delivery.objects.get(alert=alert)
    assert updated.status == "dispatched"
    assert (delivery.status, delivery.body, queued) == ("failed", "", [])
    assert delivery.last_error == "cannot build the incident: venue 'Club Almaty' has no coordinates"
    assert _dispatch_events(alert)[-1]["dispatch"] == "failed"


def test_backoff_is_full_jitter_capped_and_respects_retry_after(settings):
    import random

    settings.CC_DISPATCH_BACKOFF_BASE_S, settings.CC_DISPATCH_BACKOFF_CAP_S = 2.0, 30.0
    rng = random.Random(1)
    delays = [outbound.backoff_delay(attempt=n, rng=rng) for n in range(1, 9) for _ in range(50)]
    assert all(0.0 <= d <= 30.0 for d in delays)
    assert max(delays[:50]) <= 2.0
    assert max(delays[-50:]) > 20.0
    assert outbound.backoff_delay(attempt=1, rng=rng, retry_after=7) >= 7
    assert outbound.backoff_delay(attempt=1, rng=rng, retry_after=9999) == 30.0


@pytest.mark.django_db
def test_a_pending_delivery_is_cancelled_once_with_history_and_audit(camera, dispatcher, endpoint, queued):
    # given a dispatched alert whose delivery is still pending
    alert = raise_alert(camera)
    alert_dispatch(alert_id=alert.pk, actor=dispatcher)
    delivery = Delivery.objects.get(alert=alert)
    # when a dispatcher cancels it
    outbound.delivery_cancel(delivery_id=delivery.pk, actor=dispatcher)
    # then it stops, the alert's history says so and the action is audited
    delivery.refresh_from_db()
    assert (delivery.status, delivery.next_attempt_at) == ("cancelled", None)
    assert _dispatch_events(alert)[-1]["dispatch"] == "cancelled"
    assert AccessEvent.objects.filter(
        user_id=dispatcher.pk, object_id=str(alert.pk), detail__action="dispatch_cancel"
    ).exists()
    # and a second cancel is refused by name, changing nothing
    with pytest.raises(outbound.DeliveryActionError, match="Only a pending delivery can be cancelled"):
        outbound.delivery_cancel(delivery_id=delivery.pk, actor=dispatcher)
