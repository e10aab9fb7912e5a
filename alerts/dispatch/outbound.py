"""Dispatch to the city CAD, outbound: store signed deliveries and attempt them.

`delivery_schedule` renders one revision of the incident per endpoint inside the caller's
transaction (an outbox row with the exact bytes) and queues `alerts.tasks.dispatch_deliver` on
commit, by task name (`core.queue`), so neither this module nor the services import the tasks.
`delivery_attempt` claims the row (compare-and-set), POSTs it signed with a fresh timestamp and
nonce but the same Idempotency-Key and body, and records the outcome; failures are retried with
exponential back-off and full jitter up to the endpoint's max attempts. A later revision for the
same alert and endpoint waits while an earlier one is still pending.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import requests
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone, translation

from alerts.cad import cap, eido, signing
from alerts.cad.payload import (
    _SUBJECT_REF,
    AlertKind,
    IncidentPayload,
    IncidentStatus,
)
from alerts.models import (
    Alert,
    AlertEvent,
    Delivery,
    DeliveryAttempt,
    DispatchEndpoint,
    Evidence,
)
from alerts.push import alert_touch
from audit.models import AccessEvent
from audit.services import access_record
from core.queue import task_send

logger = logging.getLogger(__name__)

LEASE_MARGIN_S = 30  # a claimed attempt is not re-sent by the sweeper for timeout + this
DUE_TOLERANCE_S = 2.0  # a retry message arriving this early still counts as due (clock skew)
SWEEP_GRACE_S = 15  # the sweeper leaves deliveries this recently due to their own retry message
RETRYABLE_4XX = {408, 425, 429}
USER_AGENT = "commandcenter-dispatch/1"
DELIVER_TASK = "alerts.tasks.dispatch_deliver"  # sent by name: this module never imports the tasks
LINKED_EVIDENCE = (
    Evidence.Kind.SNAPSHOT,
    Evidence.Kind.CLIP,
    Evidence.Kind.SERIES,
)  # never face crops

_session = requests.Session()


class DeliveryActionError(Exception):
    """A delivery action that is not possible now (message says why)."""


@dataclass(frozen=True)
class AttemptOutcome:
    """What one run of `delivery_attempt` did; `retry_in` is set when the caller must requeue."""

    state: str  # delivered | retry | failed | waiting | not_due | skipped | missing
    retry_in: float | None = None
    http_status: int | None = None


# --- the incident payload -------------------------------------------------------------------------


def evidence_links(*, alert: Alert) -> list[str]:
    """Absolute links to the audited evidence views (snapshots, clips, series; no face crops)."""
    base = settings.CC_PUBLIC_BASE_URL
    files = alert.evidence.filter(kind__in=LINKED_EVIDENCE).order_by("created_at")
    return [f"{base}{reverse('evidence-file', args=[e.pk])}" for e in files]


def _subject_reference(alert: Alert) -> str | None:
    """A watchlist reference number, only for a face match a person confirmed; never a name."""
    if alert.kind != Alert.Kind.FACE_MATCH or alert.review != Alert.Review.CONFIRMED or alert.subject is None:
        return None
    reference = alert.subject.reference_number.strip()
    if not reference or not _SUBJECT_REF.match(reference):
        logger.warning("subject of alert %s has no sendable reference number; sent without one", alert.pk)
        return None
    return reference


def _notes(alert: Alert, note: str) -> str:
    parts = [f"Camera: {alert.camera.name}", f"Score: {alert.score:.2f}"]
    if alert.zone is not None:
        parts.insert(1, f"Zone: {alert.zone.name}")
    if note.strip():
        parts.append(f"Dispatcher: {note.strip()}")
    return ". ".join(parts)[:4000]


def incident_payload_build(
    *,
    alert: Alert,
    revision: int,
    reported_at: datetime,
    first_reported_at: datetime | None,
    note: str = "",
    priority: int | None = None,
) -> IncidentPayload:
    """The incident the CAD receives for one revision of an alert (ValueError if impossible)."""
    venue = alert.venue
    if venue.latitude is None or venue.longitude is None:
        raise ValueError(f"venue {venue.name!r} has no coordinates")
    with translation.override(settings.LANGUAGE_CODE):
        title = f"{Alert.Kind(alert.kind).label} at {venue.name}"[:160]
    return IncidentPayload(
        incident_id=str(alert.pk),
        alert_kind=AlertKind(alert.kind),
        title=title,
        priority=priority or 5 - alert.severity,  # the dispatcher's choice, else from the severity
        occurred_at=alert.raised_at,
        reported_at=reported_at,
        venue_name=venue.name,
        venue_address=venue.address or venue.name,
        venue_district=venue.district or "-",
        latitude=float(venue.latitude),
        longitude=float(venue.longitude),
        camera_name=alert.camera.name,
        agency_id=settings.CC_DISPATCH_AGENCY_ID,
        agency_name=settings.CC_DISPATCH_AGENCY_NAME,
        notes=_notes(alert, note),
        evidence_links=evidence_links(alert=alert),
        subject_reference=_subject_reference(alert),
        status=IncidentStatus.NEW if revision == 0 else IncidentStatus.UPDATED,
        revision=revision,
        first_reported_at=first_reported_at if revision else None,
    )


def incident_render(*, endpoint: DispatchEndpoint, payload: IncidentPayload) -> tuple[bytes, str]:
    """The document bytes and content type for the endpoint's format, checked against the schema."""
    if endpoint.format == DispatchEndpoint.Format.CAP:
        body = cap.to_cap_xml(payload)
        cap.validate_cap(body)
        return body, cap.CONTENT_TYPE
    body = eido.to_eido_json(payload)
    eido.validate_eido(json.loads(body))
    return body, eido.CONTENT_TYPE


# --- scheduling -----------------------------------------------------------------------------------


def delivery_schedule(
    *,
    alert: Alert,
    endpoints: Iterable[DispatchEndpoint] | None = None,
    actor: User | None,
    note: str = "",
    priority: int | None = None,
) -> list[Delivery]:
    """Store the next revision of the incident per endpoint (default all active); send on commit."""
    with transaction.atomic():
        locked = (
            Alert.objects.select_for_update(of=("self",))
            .select_related("venue", "camera", "zone", "subject")
            .get(pk=alert.pk)
        )
        targets = list(endpoints) if endpoints is not None else list(DispatchEndpoint.objects.filter(active=True))
        now = timezone.now()
        deliveries = [
            _delivery_create(alert=locked, endpoint=e, actor=actor, note=note, now=now, priority=priority)
            for e in targets
        ]
        for delivery in deliveries:
            if delivery.status == Delivery.Status.PENDING:
                transaction.on_commit(partial(delivery_enqueue, delivery_id=delivery.pk))
    return deliveries


def delivery_auto_schedule(*, alert: Alert) -> list[Delivery]:
    """Send a just-raised alert to endpoints that take its kind at once (never face matches)."""
    if alert.kind == Alert.Kind.FACE_MATCH:
        return []
    endpoints = list(DispatchEndpoint.objects.filter(active=True, auto_dispatch_kinds__contains=[alert.kind]))
    if not endpoints:
        return []
    return delivery_schedule(alert=alert, endpoints=endpoints, actor=None, note="Sent automatically")


def _delivery_create(
    *,
    alert: Alert,
    endpoint: DispatchEndpoint,
    actor: User | None,
    note: str,
    now: datetime,
    priority: int | None = None,
) -> Delivery:
    earlier = Delivery.objects.filter(alert=alert, endpoint=endpoint)
    last = earlier.order_by("-revision").values_list("revision", flat=True).first()
    revision = 0 if last is None else last + 1
    first_at = earlier.filter(revision=0).values_list("created_at", flat=True).first()
    delivery = Delivery(
        alert=alert,
        endpoint=endpoint,
        revision=revision,
        created_by_id=actor.pk if actor is not None else None,
        created_at=now,
        idempotency_key=f"{alert.pk}:{revision}:{endpoint.pk}",
        next_attempt_at=now,
    )
    try:
        payload = incident_payload_build(
            alert=alert,
            revision=revision,
            reported_at=now,
            first_reported_at=first_at or now,
            note=note,
            priority=priority,
        )
        body, delivery.content_type = incident_render(endpoint=endpoint, payload=payload)
    except ValueError as exc:
        logger.warning("cannot build incident %s for %s: %s", alert.pk, endpoint.name, exc)
        delivery.status, delivery.next_attempt_at = Delivery.Status.FAILED, None
        delivery.last_error = f"cannot build the incident: {exc}"[:500]
        delivery.save(force_insert=True)
        _history(
            delivery,
            note=f"Dispatch to CAD {endpoint.name!r} failed: {delivery.last_error}",
            outcome="failed",
        )
        return delivery
    delivery.body, delivery.body_sha256 = body.decode("utf-8"), hashlib.sha256(body).hexdigest()
    delivery.save(force_insert=True)
    access_record(
        user=actor,
        username="system",
        action=AccessEvent.Action.EXPORT,
        object_type="alert",
        object_id=alert.pk,
        detail={"to": endpoint.name, "revision": revision, "delivery": delivery.pk},
    )
    return delivery


def delivery_enqueue(*, delivery_id: int, countdown: float | None = None) -> None:
    """Queue one attempt on the `dispatch` queue; a lost message is re-sent by the sweeper."""
    try:
        task_send(DELIVER_TASK, args=[delivery_id], countdown=countdown)
    except Exception:  # broker unreachable: the row is pending and the sweeper finds it
        logger.warning("could not queue delivery %s; the sweeper will", delivery_id, exc_info=True)


# --- one attempt ----------------------------------------------------------------------------------


def delivery_attempt(
    *, delivery_id: int, now: datetime | None = None, rng: random.Random | None = None
) -> AttemptOutcome:
    """Make one attempt of a due, pending delivery; safe to run twice (compare-and-set)."""
    now = now or timezone.now()
    delivery = Delivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None:
        return AttemptOutcome("missing")
    if delivery.status != Delivery.Status.PENDING:
        return AttemptOutcome("skipped")
    due_in = (delivery.next_attempt_at - now).total_seconds() if delivery.next_attempt_at else 0.0
    if due_in > DUE_TOLERANCE_S:
        return AttemptOutcome("not_due")  # a duplicate message; the live retry chain or the sweeper owns it
    if _wait_for_earlier(delivery, now):
        return AttemptOutcome("waiting")
    number = delivery.attempts + 1
    lease = now + timedelta(seconds=delivery.endpoint.timeout_s + LEASE_MARGIN_S)
    claimed = Delivery.objects.filter(
        pk=delivery.pk, status=Delivery.Status.PENDING, attempts=delivery.attempts
    ).update(attempts=number, next_attempt_at=lease, updated_at=timezone.now())
    if not claimed:
        return AttemptOutcome("skipped")
    delivery.attempts = number
    attempt, retry_after = _post(delivery, number)
    return _conclude(delivery, attempt, retry_after, now=now, rng=rng or random.Random())


def _wait_for_earlier(delivery: Delivery, now: datetime) -> bool:
    """True (and the row parked) while an earlier revision for the same endpoint is pending."""
    blocker = (
        Delivery.objects.filter(
            alert_id=delivery.alert_id,
            endpoint_id=delivery.endpoint_id,
            revision__lt=delivery.revision,
            status=Delivery.Status.PENDING,
        )
        .order_by("revision")
        .first()
    )
    if blocker is None:
        return False
    park_until = max(blocker.next_attempt_at or now, now)
    Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING, attempts=delivery.attempts).update(
        next_attempt_at=park_until, updated_at=timezone.now()
    )
    logger.info("delivery %s waits for revision %s (delivery %s)", delivery.pk, blocker.revision, blocker.pk)
    return True


def _post(delivery: Delivery, number: int) -> tuple[DeliveryAttempt, float | None]:
    """Sign with a fresh timestamp and nonce, POST the stored bytes, record the attempt."""
    attempt = DeliveryAttempt(delivery=delivery, number=number, started_at=timezone.now())
    body = delivery.body.encode("utf-8")
    keys = delivery.endpoint.signing_keys()
    retry_after = None
    started = time.perf_counter()
    if not keys:
        attempt.error = "no signing key configured for this endpoint"
    else:
        headers = signing.sign(body, keys[0], idempotency_key=delivery.idempotency_key)
        headers.update({"Content-Type": delivery.content_type, "User-Agent": USER_AGENT})
        try:
            answer = _session.post(
                delivery.endpoint.url,
                data=body,
                headers=headers,
                timeout=delivery.endpoint.timeout_s,
                allow_redirects=False,
            )
            attempt.http_status, attempt.response_excerpt = answer.status_code, answer.text[:500]
            retry_after = _retry_after(answer.headers.get("Retry-After"))
            if not attempt.succeeded:
                attempt.error = f"HTTP {answer.status_code}: {answer.text[:200]}"
        except requests.RequestException as exc:
            attempt.error = f"{type(exc).__name__}: {exc}"[:500]
    attempt.duration_ms = int((time.perf_counter() - started) * 1000)
    attempt.save(force_insert=True)
    return attempt, retry_after


def _retry_after(value: str | None) -> float | None:
    return float(value) if value and value.strip().isdigit() else None


def _conclude(
    delivery: Delivery,
    attempt: DeliveryAttempt,
    retry_after: float | None,
    *,
    now: datetime,
    rng: random.Random,
) -> AttemptOutcome:
    if attempt.succeeded:
        _mark_delivered(delivery, attempt)
        return AttemptOutcome("delivered", http_status=attempt.http_status)
    permanent = attempt.http_status is None and not delivery.endpoint.signing_keys()
    permanent |= (
        attempt.http_status is not None
        and 400 <= attempt.http_status < 500
        and attempt.http_status not in RETRYABLE_4XX
    )
    used = delivery.attempts - delivery.budget_start
    if permanent or used >= delivery.endpoint.max_attempts:
        _mark_failed(delivery, attempt)
        return AttemptOutcome("failed", http_status=attempt.http_status)
    delay = backoff_delay(attempt=used, rng=rng, retry_after=retry_after)
    Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING, attempts=delivery.attempts).update(
        next_attempt_at=now + timedelta(seconds=delay),
        last_error=attempt.error[:500],
        updated_at=timezone.now(),
    )
    alert_touch(alert_id=delivery.alert_id)  # dashboards show "retrying in N s" with the reason
    logger.info(
        "delivery %s attempt %s failed (%s); next in %.1f s",
        delivery.pk,
        attempt.number,
        attempt.error,
        delay,
    )
    return AttemptOutcome("retry", retry_in=delay, http_status=attempt.http_status)


def backoff_delay(*, attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
    """Full-jitter back-off: uniform(0, min(cap, base * 2^(n-1))), at least Retry-After."""
    cap_s = float(settings.CC_DISPATCH_BACKOFF_CAP_S)
    ceiling = min(cap_s, float(settings.CC_DISPATCH_BACKOFF_BASE_S) * 2 ** max(0, attempt - 1))
    delay = rng.uniform(0.0, ceiling)
    return min(cap_s, max(delay, retry_after or 0.0))


def _mark_delivered(delivery: Delivery, attempt: DeliveryAttempt) -> None:
    with transaction.atomic():
        rows = Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING).update(
            status=Delivery.Status.DELIVERED,
            delivered_at=timezone.now(),
            next_attempt_at=None,
            last_error="",
            updated_at=timezone.now(),
        )
        if rows:
            _history(
                delivery,
                note=f"Incident delivered to CAD {delivery.endpoint.name!r} "
                f"(revision {delivery.revision}, attempt {attempt.number})",
                outcome="delivered",
                http_status=attempt.http_status,
            )
            transaction.on_commit(partial(_wake_next_revision, delivery))


def _mark_failed(delivery: Delivery, attempt: DeliveryAttempt) -> None:
    with transaction.atomic():
        rows = Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING).update(
            status=Delivery.Status.FAILED,
            next_attempt_at=None,
            last_error=attempt.error[:500],
            updated_at=timezone.now(),
        )
        if rows:
            logger.warning(
                "delivery %s to %s failed after %s attempt(s): %s",
                delivery.pk,
                delivery.endpoint.name,
                delivery.attempts,
                attempt.error,
            )
            _history(
                delivery,
                note=f"Dispatch to CAD {delivery.endpoint.name!r} failed after "
                f"{delivery.attempts} attempt(s): {attempt.error[:200]}",
                outcome="failed",
                http_status=attempt.http_status,
            )
            transaction.on_commit(partial(_wake_next_revision, delivery))


def _wake_next_revision(delivery: Delivery) -> None:
    """An earlier revision is settled: send the next pending one (same alert, endpoint) now."""
    following = (
        Delivery.objects.filter(
            alert_id=delivery.alert_id,
            endpoint_id=delivery.endpoint_id,
            revision__gt=delivery.revision,
            status=Delivery.Status.PENDING,
        )
        .order_by("revision")
        .values_list("pk", flat=True)
        .first()
    )
    if following is not None:
        Delivery.objects.filter(pk=following, status=Delivery.Status.PENDING).update(next_attempt_at=timezone.now())
        delivery_enqueue(delivery_id=following)


def _history(
    delivery: Delivery,
    *,
    note: str,
    outcome: str,
    http_status: int | None = None,
    actor: User | None = None,
) -> None:
    """An alert history entry about a delivery, and a push so open dashboards refresh the alert."""
    AlertEvent.objects.create(
        alert_id=delivery.alert_id,
        action=AlertEvent.Action.NOTE,
        actor_id=actor.pk if actor is not None else None,
        note=note,
        data={
            "dispatch": outcome,
            "endpoint": delivery.endpoint.name,
            "delivery": delivery.pk,
            "revision": delivery.revision,
            "attempts": delivery.attempts,
            "http_status": http_status,
        },
    )
    alert_touch(alert_id=delivery.alert_id)


# --- dispatcher and system actions ----------------------------------------------------------------


def delivery_retry(*, delivery_id: int, actor: User) -> Delivery:
    """Send a failed delivery again (same bytes, same key), with a fresh attempt budget."""
    with transaction.atomic():
        rows = Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.FAILED).update(
            status=Delivery.Status.PENDING,
            budget_start=F("attempts"),
            next_attempt_at=timezone.now(),
            updated_at=timezone.now(),
        )
        delivery = Delivery.objects.select_related("endpoint").get(pk=delivery_id)
        if not rows:
            raise DeliveryActionError(f"Only a failed delivery can be retried; this one is {delivery.status}.")
        _record_action(delivery, actor, outcome="retried", action="dispatch_retry")
        transaction.on_commit(partial(delivery_enqueue, delivery_id=delivery.pk))
    return delivery


def delivery_cancel(*, delivery_id: int, actor: User) -> Delivery:
    """Stop retrying a pending delivery."""
    with transaction.atomic():
        rows = Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.PENDING).update(
            status=Delivery.Status.CANCELLED, next_attempt_at=None, updated_at=timezone.now()
        )
        delivery = Delivery.objects.select_related("endpoint").get(pk=delivery_id)
        if not rows:
            raise DeliveryActionError(f"Only a pending delivery can be cancelled; this one is {delivery.status}.")
        _record_action(delivery, actor, outcome="cancelled", action="dispatch_cancel")
        transaction.on_commit(partial(_wake_next_revision, delivery))
    return delivery


def _record_action(delivery: Delivery, actor: User, *, outcome: str, action: str) -> None:
    """A person's action on a delivery: a line in the alert's history and an audit row."""
    _history(delivery, note=f"Dispatch to CAD {delivery.endpoint.name!r} {outcome}", outcome=outcome, actor=actor)
    access_record(
        user=actor,
        action=AccessEvent.Action.ALERT_ACTION,
        object_type="alert",
        object_id=delivery.alert_id,
        detail={"action": action, "delivery": delivery.pk},
    )


def delivery_sweep(*, now: datetime | None = None, limit: int = 500) -> int:
    """Re-queue pending deliveries that are overdue (lost message, dead worker, broker outage)."""
    cutoff = (now or timezone.now()) - timedelta(seconds=SWEEP_GRACE_S)
    overdue = list(
        Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=cutoff)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    for delivery_id in overdue:
        delivery_enqueue(delivery_id=delivery_id)
    if overdue:
        logger.info("sweeper re-queued %s overdue deliveries", len(overdue))
    return len(overdue)
