"""Every write to alerts: raise, update, and the dispatcher actions (compare-and-set)."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from alerts.dispatch.outbound import delivery_auto_schedule, delivery_schedule
from alerts.models import Alert, AlertEvent, DispatchEndpoint, Evidence, NextChangeSeq
from alerts.push import push_alert_changed
from audit.models import AccessEvent
from audit.services import access_record
from venues.models import Camera, Zone
from watchlists.models import FaceTemplate, Subject

logger = logging.getLogger(__name__)

OPEN_STATUSES = (Alert.Status.NEW, Alert.Status.ACKNOWLEDGED, Alert.Status.ESCALATED, Alert.Status.DISPATCHED)


class AlertActionError(Exception):
    """An action that is not allowed for this alert (message says why)."""


class AlertConflict(AlertActionError):
    """Someone else changed the alert first; carries the status it has now."""

    def __init__(self, message: str, current_status: str) -> None:
        super().__init__(message)
        self.current_status = current_status


@dataclass(frozen=True)
class EvidenceFile:
    """Bytes to store as evidence of an alert."""

    kind: str
    content: bytes
    content_type: str
    filename: str


@dataclass
class RaiseResult:
    """What `alert_raise` did: the alert and whether it was new."""

    alert: Alert
    created: bool
    evidence: list[Evidence] = field(default_factory=list)
    folded: bool = False  # a repeated sighting counted on the subject's open alert


def alert_raise(
    *,
    kind: str,
    camera: Camera,
    score: float,
    severity: int | None = None,
    subject: Subject | None = None,
    template: FaceTemplate | None = None,
    zone: Zone | None = None,
    track_key: str = "",
    details: dict[str, Any] | None = None,
    evidence: Sequence[EvidenceFile] = (),
    probe_embedding: Sequence[float] | None = None,
    seen_at: datetime | None = None,
    subject_id: Any = None,
    template_id: Any = None,
    zone_id: Any = None,
) -> RaiseResult:
    """Raise an alert, update the open one on the same (camera, kind, track), or fold a repeated sighting of
    the same subject (any camera, within `CC_FACE_FOLD_WINDOW_S`) into its open alert; push after commit.

    A face match's severity is its watchlist's (`Watchlist.alert_severity`); every other kind needs `severity`.
    Stream workers pass ``subject_id``/``template_id``/``zone_id`` (what their stage results carry) instead
    of rows, so they never query for them; the rows are read here.
    """
    seen_at = seen_at or timezone.now()
    if subject is None and subject_id is not None:
        subject = Subject.objects.select_related("watchlist").get(pk=subject_id)
    if template is None and template_id is not None:
        template = FaceTemplate.objects.filter(pk=template_id).first()
    if zone is None and zone_id is not None:
        zone = Zone.objects.filter(pk=zone_id, camera=camera).first()
    face_match = kind == Alert.Kind.FACE_MATCH and subject is not None
    if subject is not None and face_match:
        severity = int(subject.watchlist.alert_severity)
    elif severity is None:
        raise ValueError(f"a {kind} alert needs a severity (only a face match takes its watchlist's)")
    new = _NewAlert(
        kind=kind,
        camera=camera,
        severity=severity,
        score=round(float(score), 4),
        subject=subject,
        template=template,
        zone=zone,
        track_key=track_key,
        details=details or {},
        probe_embedding=probe_embedding,
        seen_at=seen_at,
    )
    if subject is not None and face_match:
        new.fold_key = f"subject:{subject.pk}"
    with transaction.atomic():
        result = _raise_or_fold(new)
        result.evidence = evidence_attach(alert=result.alert, files=evidence)
        if result.folded:
            _sighting_record(result.alert, new, result.evidence)
        if result.created:  # kinds an endpoint takes without a dispatcher (never face matches)
            delivery_auto_schedule(alert=result.alert)
        push_alert_changed(alert_id=result.alert.pk, venue_id=result.alert.venue_id, change_seq=result.alert.change_seq)
    return result


@dataclass
class _NewAlert:
    """What a stage reported, on its way to a new alert or an existing one."""

    kind: str
    camera: Camera
    severity: int
    score: float
    subject: Subject | None
    template: FaceTemplate | None
    zone: Zone | None
    track_key: str
    details: dict[str, Any]
    probe_embedding: Sequence[float] | None
    seen_at: datetime
    fold_key: str = ""


def _raise_or_fold(new: _NewAlert) -> RaiseResult:
    """The same track updates its alert; else a sighting folds into the subject's open alert; else a new one.

    Two workers raising the same subject at once: the partial unique index on `fold_key` lets one insert
    win; the other's insert fails inside its savepoint and it folds into the winner instead."""
    for _attempt in range(3):
        existing = _open_alert_for_track(new.camera, new.kind, new.track_key)
        if existing is not None:
            return _alert_seen_again(existing, score=new.score, details=new.details, seen_at=new.seen_at)
        if new.fold_key:
            folded = _fold_into_open(new)
            if folded is not None:
                return folded
        try:
            with transaction.atomic():
                return RaiseResult(alert=_alert_create(new), created=True)
        except IntegrityError:
            logger.info("alert for %s raised concurrently; folding into it", new.fold_key or new.track_key)
    raise AlertActionError(f"could not raise or fold the alert for {new.fold_key or new.track_key}")


def _alert_create(new: _NewAlert) -> Alert:
    alert = Alert.objects.create(
        kind=new.kind,
        camera=new.camera,
        venue_id=new.camera.venue_id,
        zone=new.zone,
        severity=new.severity,
        score=new.score,
        subject=new.subject,
        template=new.template,
        track_key=new.track_key,
        fold_key=new.fold_key,
        details=new.details,
        raised_at=new.seen_at,
        last_seen_at=new.seen_at,
        probe_embedding=new.probe_embedding,
        review=Alert.Review.PENDING if new.kind == Alert.Kind.FACE_MATCH else Alert.Review.NOT_APPLICABLE,
    )
    alert.refresh_from_db(fields=["change_seq"])
    AlertEvent.objects.create(
        alert=alert,
        action=AlertEvent.Action.RAISED,
        to_status=alert.status,
        data={"score": alert.score, **_sighting_data(new)},
        created_at=new.seen_at,
    )
    access_record(
        user=None,
        action=AccessEvent.Action.CREATE,
        object_type="alert",
        object_id=alert.pk,
        username="system",
        detail={"kind": new.kind, "camera": str(new.camera.pk)},
    )
    return alert


def _sighting_data(new: _NewAlert) -> dict[str, Any]:
    return {
        "camera": str(new.camera.pk),
        "camera_name": new.camera.name,
        "track_key": new.track_key,
        "similarity": new.score,
    }


def _fold_into_open(new: _NewAlert) -> RaiseResult | None:
    """Count a sighting on the subject's open alert if its last sighting is within the window (compare-and-set
    on status and last sighting, counter by F()); a lapsed window releases the fold key. None: raise anew."""
    cutoff = new.seen_at - timedelta(seconds=settings.CC_FACE_FOLD_WINDOW_S)
    target = Alert.objects.filter(fold_key=new.fold_key, status__in=OPEN_STATUSES).first()
    if target is None:
        return None
    same_track = AlertEvent.objects.filter(
        alert=target,
        action__in=[AlertEvent.Action.RAISED, AlertEvent.Action.SIGHTING],
        data__track_key=new.track_key,
        data__camera=str(new.camera.pk),
    ).exists()
    rows = Alert.objects.filter(pk=target.pk, status__in=OPEN_STATUSES, last_seen_at__gte=cutoff).update(
        sightings=F("sightings") + (0 if same_track else 1),
        last_seen_at=Greatest(F("last_seen_at"), Value(new.seen_at)),
        score=Greatest(F("score"), Value(new.score)),
        change_seq=NextChangeSeq(),
        updated_at=timezone.now(),
    )
    if rows == 0:
        Alert.objects.filter(pk=target.pk, fold_key=new.fold_key, last_seen_at__lt=cutoff).update(fold_key="")
        return None
    target.refresh_from_db()
    return RaiseResult(alert=target, created=False, folded=not same_track)


def _sighting_record(alert: Alert, new: _NewAlert, evidence: list[Evidence]) -> None:
    """A folded sighting's history entry: where, when, how similar, its face crop."""
    crops = [str(e.pk) for e in evidence if e.kind == Evidence.Kind.FACE_CROP]
    AlertEvent.objects.create(
        alert=alert,
        action=AlertEvent.Action.SIGHTING,
        to_status=alert.status,
        data={**_sighting_data(new), "sighting": alert.sightings, "crop": crops[0] if crops else ""},
        created_at=new.seen_at,
    )


def _open_alert_for_track(camera: Camera, kind: str, track_key: str) -> Alert | None:
    if not track_key:
        return None
    return (
        Alert.objects.select_for_update()
        .filter(camera=camera, kind=kind, track_key=track_key, status__in=OPEN_STATUSES)
        .first()
    )


def _alert_seen_again(alert: Alert, *, score: float, details: dict[str, Any], seen_at: datetime) -> RaiseResult:
    alert.score = max(alert.score, round(float(score), 4))
    alert.details = {**alert.details, **details}
    alert.last_seen_at = max(alert.last_seen_at, seen_at)
    alert.change_seq = NextChangeSeq()
    alert.save(update_fields=["score", "details", "last_seen_at", "change_seq", "updated_at"])
    alert.refresh_from_db(fields=["change_seq"])
    return RaiseResult(alert=alert, created=False)


def evidence_attach(*, alert: Alert, files: Iterable[EvidenceFile]) -> list[Evidence]:
    """Store evidence files for an alert (private storage; served only by audited views)."""
    stored = []
    for item in files:
        evidence = Evidence(
            alert=alert,
            kind=item.kind,
            content_type=item.content_type,
            size_bytes=len(item.content),
            sha256=hashlib.sha256(item.content).hexdigest(),
        )
        evidence.file.save(item.filename, ContentFile(item.content), save=False)
        evidence.save()
        stored.append(evidence)
    return stored


def _transition(
    *,
    alert_id: uuid.UUID,
    actor: User,
    allowed_from: Iterable[str],
    expected_status: str | None,
    action: str,
    updates: dict[str, Any],
    note: str = "",
    data: dict[str, Any] | None = None,
    extra_filter: dict[str, Any] | None = None,
) -> Alert:
    """Compare-and-set: change the alert only if its status is still the one the actor acted on."""
    allowed = set(allowed_from)
    if expected_status is not None:
        if expected_status not in allowed:
            raise AlertActionError(
                _("This action is not possible for an alert that is %(status)s.") % {"status": expected_status}
            )
        allowed = {expected_status}
    with transaction.atomic():
        before = Alert.objects.select_for_update().filter(pk=alert_id).values_list("status", flat=True).first()
        rows = Alert.objects.filter(pk=alert_id, status__in=allowed, **(extra_filter or {})).update(
            **updates, change_seq=NextChangeSeq(), updated_at=timezone.now()
        )
        current = Alert.objects.get(pk=alert_id)
        if rows == 0:
            raise AlertConflict(
                _("Someone else changed this alert first; it is now %(status)s.")
                % {"status": current.get_status_display()},
                current.status,
            )
        AlertEvent.objects.create(
            alert=current,
            action=action,
            actor=actor,
            from_status=before or "",
            to_status=current.status,
            note=note,
            data=data or {},
        )
        access_record(
            user=actor,
            action=AccessEvent.Action.ALERT_ACTION,
            object_type="alert",
            object_id=current.pk,
            detail={"action": action, "note": note[:200]},
        )
        push_alert_changed(alert_id=current.pk, venue_id=current.venue_id, change_seq=current.change_seq)
    return current


def alert_acknowledge(*, alert_id: uuid.UUID, actor: User, note: str = "") -> Alert:
    """New -> acknowledged; exactly one of two dispatchers acting at once wins."""
    return _transition(
        alert_id=alert_id,
        actor=actor,
        allowed_from=[Alert.Status.NEW],
        expected_status=None,
        action=AlertEvent.Action.ACKNOWLEDGED,
        note=note,
        updates={"status": Alert.Status.ACKNOWLEDGED, "acknowledged_at": timezone.now(), "assigned_to": actor},
    )


def alert_assign(*, alert_id: uuid.UUID, actor: User, assignee: User, expected_status: str | None = None) -> Alert:
    """Give an open alert to a user."""
    return _transition(
        alert_id=alert_id,
        actor=actor,
        allowed_from=OPEN_STATUSES,
        expected_status=expected_status,
        action=AlertEvent.Action.ASSIGNED,
        updates={"assigned_to": assignee},
        data={"assignee": assignee.get_username()},
    )


def alert_escalate(*, alert_id: uuid.UUID, actor: User, note: str = "") -> Alert:
    """New or acknowledged -> escalated (to a supervisor), severity raised one step."""
    alert = Alert.objects.get(pk=alert_id)
    return _transition(
        alert_id=alert_id,
        actor=actor,
        allowed_from=[Alert.Status.NEW, Alert.Status.ACKNOWLEDGED],
        expected_status=None,
        action=AlertEvent.Action.ESCALATED,
        note=note,
        updates={"status": Alert.Status.ESCALATED, "severity": min(alert.severity + 1, Alert.Severity.CRITICAL)},
    )


def alert_dispatch(
    *,
    alert_id: uuid.UUID,
    actor: User,
    note: str = "",
    endpoint_id: int | None = None,
    priority: int | None = None,
) -> Alert:
    """Send units: only for confirmed face matches, never on a machine guess alone. The incident goes to the
    chosen CAD endpoint (default: every active one) with the chosen priority (1 most urgent; default from
    the severity)."""
    alert = Alert.objects.get(pk=alert_id)
    if alert.kind == Alert.Kind.FACE_MATCH and alert.review != Alert.Review.CONFIRMED:
        raise AlertActionError(_("A face match must be confirmed by a person before units are dispatched."))
    if priority is not None and not 1 <= priority <= 5:
        raise AlertActionError(_("The priority must be 1 (most urgent) to 5."))
    endpoints = None
    if endpoint_id is not None:
        endpoints = list(DispatchEndpoint.objects.filter(pk=endpoint_id, active=True))
        if not endpoints:
            raise AlertActionError(_("This dispatch endpoint does not exist or is not active."))
    with transaction.atomic():
        updated = _transition(
            alert_id=alert_id,
            actor=actor,
            allowed_from=[Alert.Status.NEW, Alert.Status.ACKNOWLEDGED, Alert.Status.ESCALATED],
            # compare-and-set on the status just read (a joined from_status overflows max_length=15)
            expected_status=alert.status,
            action=AlertEvent.Action.DISPATCHED,
            note=note,
            updates={"status": Alert.Status.DISPATCHED, "dispatched_at": timezone.now()},
            data={
                "endpoints": [e.name for e in endpoints] if endpoints is not None else "all",
                "priority": priority or 5 - alert.severity,
            },
        )
        # CAD deliveries are stored with the dispatch (outbox) and queued on commit
        delivery_schedule(alert=updated, actor=actor, note=note, endpoints=endpoints, priority=priority)
    return updated


def alert_resolve(*, alert_id: uuid.UUID, actor: User, outcome: str, note: str = "") -> Alert:
    """Close an open alert with an outcome."""
    if outcome not in Alert.Outcome.values or not outcome:
        raise AlertActionError(_("Choose an outcome to resolve the alert."))
    return _transition(
        alert_id=alert_id,
        actor=actor,
        allowed_from=OPEN_STATUSES,
        expected_status=None,
        action=AlertEvent.Action.RESOLVED,
        note=note,
        data={"outcome": outcome},
        updates={"status": Alert.Status.RESOLVED, "resolved_at": timezone.now(), "outcome": outcome},
    )


def alert_system_resolve(*, alert: Alert, outcome: str, note: str = "") -> bool:
    """Resolve an alert on the system's behalf (e.g. camera back online); False if already closed."""
    with transaction.atomic():
        rows = Alert.objects.filter(pk=alert.pk, status__in=OPEN_STATUSES).update(
            status=Alert.Status.RESOLVED,
            resolved_at=timezone.now(),
            outcome=outcome,
            change_seq=NextChangeSeq(),
            updated_at=timezone.now(),
        )
        if not rows:
            return False
        alert.refresh_from_db()
        AlertEvent.objects.create(
            alert=alert, action=AlertEvent.Action.RESOLVED, to_status=alert.status, note=note, data={"outcome": outcome}
        )
        access_record(
            user=None,
            action=AccessEvent.Action.UPDATE,
            object_type="alert",
            object_id=alert.pk,
            username="system",
            detail={"action": "resolved", "outcome": outcome},
        )
        push_alert_changed(alert_id=alert.pk, venue_id=alert.venue_id, change_seq=alert.change_seq)
    return True


def alert_confirm_match(*, alert_id: uuid.UUID, actor: User, note: str = "") -> Alert:
    """A person confirms a face-match candidate; watchlists may require a second, different person."""
    alert = Alert.objects.select_related("subject__watchlist").get(pk=alert_id)
    if alert.kind != Alert.Kind.FACE_MATCH:
        raise AlertActionError(_("Only face matches are confirmed or rejected."))
    needs_two = bool(alert.subject and alert.subject.watchlist.requires_second_confirmation)
    if alert.review == Alert.Review.PARTLY_CONFIRMED:
        if alert.confirmed_by_id == actor.pk:
            raise AlertActionError(_("The second confirmation must come from a different person."))
        return _review(
            alert_id=alert_id,
            actor=actor,
            expected=Alert.Review.PARTLY_CONFIRMED,
            new=Alert.Review.CONFIRMED,
            note=note,
            extra={},
        )
    new = Alert.Review.PARTLY_CONFIRMED if needs_two else Alert.Review.CONFIRMED
    return _review(
        alert_id=alert_id, actor=actor, expected=Alert.Review.PENDING, new=new, note=note, extra={"confirmed_by": actor}
    )


def alert_reject_match(*, alert_id: uuid.UUID, actor: User, note: str = "") -> Alert:
    """'Not this person': close the candidate and keep the probe as a negative exemplar of the subject."""
    from watchlists.services import negative_exemplar_record

    alert = Alert.objects.select_related("subject").get(pk=alert_id)
    if alert.kind != Alert.Kind.FACE_MATCH:
        raise AlertActionError(_("Only face matches are confirmed or rejected."))
    if alert.review not in (Alert.Review.PENDING, Alert.Review.PARTLY_CONFIRMED):
        raise AlertConflict(
            _("This match was already reviewed (%(review)s).") % {"review": alert.get_review_display()}, alert.status
        )
    with transaction.atomic():
        updated = _review(
            alert_id=alert_id,
            actor=actor,
            expected=alert.review,
            new=Alert.Review.REJECTED,
            note=note,
            extra={
                "status": Alert.Status.RESOLVED,
                "resolved_at": timezone.now(),
                "outcome": Alert.Outcome.FALSE_ALARM,
            },
        )
        if alert.subject is not None and alert.probe_embedding is not None:
            negative_exemplar_record(
                subject=alert.subject,
                embedding=list(alert.probe_embedding),
                model_name=str(alert.details.get("model_name", "Dlib")),
                actor=actor,
                alert_id=alert.pk,
            )
    return updated


def _review(*, alert_id: uuid.UUID, actor: User, expected: str, new: str, note: str, extra: dict[str, Any]) -> Alert:
    action = AlertEvent.Action.REJECTED if new == Alert.Review.REJECTED else AlertEvent.Action.CONFIRMED
    with transaction.atomic():
        rows = Alert.objects.filter(pk=alert_id, review=expected, status__in=OPEN_STATUSES).update(
            review=new, change_seq=NextChangeSeq(), updated_at=timezone.now(), **extra
        )
        current = Alert.objects.get(pk=alert_id)
        if rows == 0:
            raise AlertConflict(
                _("Someone else reviewed this match first; it is now %(review)s.")
                % {"review": current.get_review_display()},
                current.status,
            )
        AlertEvent.objects.create(
            alert=current,
            action=action,
            actor=actor,
            to_status=current.status,
            note=note,
            data={"review_from": expected, "review": new},
        )
        access_record(
            user=actor,
            action=AccessEvent.Action.ALERT_ACTION,
            object_type="alert",
            object_id=current.pk,
            detail={"action": action, "review": new},
        )
        push_alert_changed(alert_id=current.pk, venue_id=current.venue_id, change_seq=current.change_seq)
    return current
