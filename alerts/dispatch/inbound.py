"""Dispatch to the city CAD, inbound: signed unit status reports from the CAD.

`unit_status_receive` verifies the CAD's signature against the active endpoints' keys, rejects
stale timestamps and replayed nonces (durable nonce table), and records the unit status; a
`closed` report may resolve the alert (`CC_DISPATCH_CLOSED_RESOLVES`) through the alert services.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from alerts.cad import signing
from alerts.cad.payload import StatusUpdate, parse_status_update
from alerts.models import Alert, AlertEvent, Delivery, DispatchEndpoint, UnitStatusReport, WebhookNonce
from alerts.push import alert_touch
from alerts.services import alert_system_resolve
from audit.models import AccessEvent
from audit.services import access_record

logger = logging.getLogger(__name__)


class StatusRejected(Exception):
    """An inbound unit status that was refused: HTTP status, machine code and reason."""

    def __init__(self, http_status: int, code: str, reason: str) -> None:
        super().__init__(reason)
        self.http_status = http_status
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class StatusReceipt:
    """What `unit_status_receive` recorded (duplicate: same status of the unit as last time)."""

    report: UnitStatusReport
    duplicate: bool


# --- inbound unit status --------------------------------------------------------------------------


def unit_status_receive(*, headers: Mapping[str, str], body: bytes, now: float | None = None) -> StatusReceipt:
    """Verify and record a CAD unit status; SignatureError/StatusRejected change nothing."""
    with transaction.atomic():
        endpoint, nonce = _status_sender(headers, body, now=now)
        update = _status_parse(body)
        alert, delivery = _status_target(endpoint, update)
        return _status_record(endpoint=endpoint, alert=alert, delivery=delivery, update=update, nonce=nonce)


def _status_sender(headers: Mapping[str, str], body: bytes, *, now: float | None) -> tuple[DispatchEndpoint, str]:
    """The active endpoint whose key signed the request; the nonce is stored after a match."""
    candidates = [e for e in DispatchEndpoint.objects.filter(active=True).order_by("pk") if e.signing_keys()]
    if not candidates:
        raise signing.BadSignature("no active dispatch endpoint has a key configured")
    for endpoint in candidates:
        try:
            signing.verify(
                headers,
                body,
                endpoint.signing_keys(),
                now=now,
                window_s=settings.CC_DISPATCH_WEBHOOK_WINDOW_S,
                seen_nonce=partial(_nonce_seen, endpoint=endpoint),
            )
        except signing.BadSignature:
            continue
        nonce = {name.lower(): value for name, value in headers.items()}[signing.NONCE_HEADER.lower()]
        return endpoint, nonce.strip()
    raise signing.BadSignature(f"signature does not match the key(s) of any of {len(candidates)} active endpoint(s)")


def _nonce_seen(nonce: str, *, endpoint: DispatchEndpoint) -> bool:
    """Record the nonce durably; True if it was already there (a replay)."""
    try:
        with transaction.atomic():
            WebhookNonce.objects.create(nonce=nonce, endpoint=endpoint, seen_at=timezone.now())
    except IntegrityError:
        return True
    return False


def _status_parse(body: bytes) -> StatusUpdate:
    try:
        return parse_status_update(body)
    except (ValueError, TypeError) as exc:
        raise StatusRejected(400, "malformed_body", str(exc)[:300]) from None


def _status_target(endpoint: DispatchEndpoint, update: StatusUpdate) -> tuple[Alert, Delivery]:
    """The alert the status is about, which must have been sent to this endpoint."""
    alert = Alert.objects.select_for_update(of=("self",)).filter(pk=update.incident_id).first()
    delivery = None
    if alert is not None:
        delivery = Delivery.objects.filter(alert=alert, endpoint=endpoint).order_by("-revision").first()
    if alert is None or delivery is None:
        raise StatusRejected(
            404,
            "unknown_incident",
            f"incident {update.incident_id} was not sent to endpoint {endpoint.name!r}",
        )
    return alert, delivery


def _status_record(
    *,
    endpoint: DispatchEndpoint,
    alert: Alert,
    delivery: Delivery,
    update: StatusUpdate,
    nonce: str,
) -> StatusReceipt:
    latest = UnitStatusReport.objects.filter(alert=alert, unit=update.unit).order_by("-received_at", "-id").first()
    if latest is not None and latest.status == update.status.value:
        return StatusReceipt(report=latest, duplicate=True)
    report = UnitStatusReport.objects.create(
        alert=alert,
        endpoint=endpoint,
        delivery=delivery,
        status=update.status.value,
        unit=update.unit,
        cad_reference=update.cad_reference[:100],
        reported_at=update.at,
        nonce=nonce,
    )
    AlertEvent.objects.create(
        alert=alert,
        action=AlertEvent.Action.UNIT_STATUS,
        from_status=alert.status,
        to_status=alert.status,
        note=f"{update.unit}: {report.get_status_display()}",
        data={
            "unit": update.unit,
            "status": update.status.value,
            "cad_reference": report.cad_reference,
            "endpoint": endpoint.name,
            "reported_at": update.at.isoformat(),
        },
    )
    access_record(
        user=None,
        username=f"cad:{endpoint.name}",
        action=AccessEvent.Action.UPDATE,
        object_type="alert",
        object_id=alert.pk,
        detail={"unit_status": update.status.value, "unit": update.unit},
    )
    alert_touch(alert_id=alert.pk)
    if update.status.value == UnitStatusReport.Status.CLOSED and settings.CC_DISPATCH_CLOSED_RESOLVES:
        alert_system_resolve(alert=alert, outcome=Alert.Outcome.HANDLED, note=f"Closed by CAD ({update.unit})")
    return StatusReceipt(report=report, duplicate=False)


def webhook_nonce_purge(*, now: datetime | None = None) -> int:
    """Forget nonces older than twice the signing window (older requests are stale anyway)."""
    cutoff = (now or timezone.now()) - timedelta(seconds=2 * settings.CC_DISPATCH_WEBHOOK_WINDOW_S)
    deleted, _ = WebhookNonce.objects.filter(seen_at__lt=cutoff).delete()
    return deleted
