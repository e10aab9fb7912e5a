"""Writes of the oversight app: deployment requests and decisions, the urgent path's lapse and purge,
and the counters of the transparency report. Every change is compare-and-set and audited in its transaction."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from alerts.models import Alert, Evidence
from audit.models import AccessEvent
from audit.services import access_record, access_require
from oversight.models import Deployment, DeploymentAlert, DeploymentMonth
from venues.models import Camera, Venue
from watchlists.matching import gallery_changed
from watchlists.models import NegativeExemplar, Watchlist

logger = logging.getLogger(__name__)

AUDIT_IDS_LIMIT = 1000


class DeploymentConflict(Exception):
    """The deployment is no longer in a state the action applies to (someone else acted first, or it lapsed)."""

    def __init__(self, deployment: Deployment, message: str) -> None:
        super().__init__(message)
        self.deployment = deployment
        self.message = message


@dataclass(frozen=True)
class DeploymentPlan:
    """What a deployment request names: where, against which lists, why, under which law, when."""

    title: str
    purpose: str
    legal_basis: str
    starts_at: datetime
    ends_at: datetime
    venues: tuple[Venue, ...] = ()
    cameras: tuple[Camera, ...] = ()
    watchlists: tuple[Watchlist, ...] = ()


def month_of(at: datetime) -> date:
    """The first day of the local month of ``at`` (the report's period)."""
    return timezone.localtime(at).date().replace(day=1)


def _require(actor: User, perm: str, deployment_id: object = "") -> None:
    access_require(user=actor, perm=perm, object_type="deployment", object_id=deployment_id)


def _not_the_requester(actor: User, deployment_id: uuid.UUID, action: str) -> None:
    """An officer never decides on their own request (refused and audited, outside any rolled-back block)."""
    requester = Deployment.objects.filter(pk=deployment_id).values_list("requested_by_id", flat=True).first()
    if requester == actor.pk:
        access_record(
            user=actor,
            action=AccessEvent.Action.DENIED,
            object_type="deployment",
            object_id=deployment_id,
            detail={"action": action, "reason": "requester"},
        )
        raise PermissionDenied(_("The officer who requested a deployment cannot decide on it."))


def _validate(plan: DeploymentPlan) -> None:
    errors: dict[str, list[str]] = {}
    if not plan.title.strip():
        errors["title"] = [_("Give the deployment a title.")]
    if not plan.purpose.strip():
        errors["purpose"] = [_("State the purpose of the deployment.")]
    if not plan.legal_basis.strip():
        errors["legal_basis"] = [_("State the legal basis of the deployment.")]
    if not plan.venues and not plan.cameras:
        errors["venues"] = [_("Name at least one venue or camera.")]
    if not plan.watchlists:
        errors["watchlists"] = [_("Name at least one watchlist to match against.")]
    if plan.ends_at <= plan.starts_at:
        errors["ends_at"] = [_("The deployment must end after it starts.")]
    elif plan.ends_at - plan.starts_at > timedelta(days=settings.CC_DEPLOYMENT_MAX_DAYS):
        errors["ends_at"] = [
            _("A deployment may last at most %(days)d days; request another one after it.")
            % {"days": settings.CC_DEPLOYMENT_MAX_DAYS}
        ]
    if errors:
        raise ValidationError(errors)


def _create(actor: User, plan: DeploymentPlan, **fields: Any) -> Deployment:
    deployment = Deployment.objects.create(
        title=plan.title.strip(),
        purpose=plan.purpose.strip(),
        legal_basis=plan.legal_basis.strip(),
        starts_at=plan.starts_at,
        ends_at=plan.ends_at,
        requested_by=actor,
        **fields,
    )
    deployment.venues.set(plan.venues)
    deployment.cameras.set(plan.cameras)
    deployment.watchlists.set(plan.watchlists)
    return deployment


def _describe(deployment: Deployment) -> dict[str, Any]:
    return {
        "title": deployment.title,
        "status": deployment.status,
        "venues": sorted(str(pk) for pk in deployment.venues.values_list("pk", flat=True)),
        "cameras": sorted(str(pk) for pk in deployment.cameras.values_list("pk", flat=True)),
        "watchlists": sorted(str(pk) for pk in deployment.watchlists.values_list("pk", flat=True)),
        "starts_at": deployment.starts_at.isoformat(),
        "ends_at": deployment.ends_at.isoformat(),
        "legal_basis": deployment.legal_basis,
    }


def _changed(deployment: Deployment, action: str, actor: User | None, note: str = "", **extra: Any) -> None:
    access_record(
        user=actor,
        username="" if actor else "system",
        action=AccessEvent.Action.CREATE if action == "request" else AccessEvent.Action.UPDATE,
        object_type="deployment",
        object_id=deployment.pk,
        purpose=deployment.purpose[:300],
        detail={"action": action, "note": note[:1000], **_describe(deployment), **extra},
    )


def deployment_request(*, actor: User, plan: DeploymentPlan) -> Deployment:
    """File a request for a deployment; face matching stays off until an authoriser authorises it."""
    _require(actor, "oversight.request_deployment")
    _validate(plan)
    with transaction.atomic():
        deployment = _create(actor, plan)
        _changed(deployment, "request", actor)
    logger.info("deployment %s requested by %s", deployment.pk, actor)
    return deployment


def deployment_start_urgent(*, actor: User, plan: DeploymentPlan, reason: str) -> Deployment:
    """Start at once in an emergency; matching stops and its data is purged unless authorised in time."""
    _require(actor, "oversight.request_deployment")
    if not reason.strip():
        raise ValidationError({"urgent_reason": [_("Say why this cannot wait for authorisation.")]})
    now = timezone.now()
    plan = DeploymentPlan(**{**plan.__dict__, "starts_at": min(plan.starts_at, now)})
    _validate(plan)
    deadline = now + timedelta(hours=settings.CC_URGENT_AUTHORISATION_HOURS)
    with transaction.atomic():
        deployment = _create(
            actor,
            plan,
            status=Deployment.Status.URGENT_PENDING,
            urgent_reason=reason.strip(),
            urgent_deadline=deadline,
        )
        _changed(deployment, "start_urgent", actor, reason, deadline=deadline.isoformat())
    logger.warning("urgent deployment %s started by %s; authorise by %s", deployment.pk, actor, deadline)
    return deployment


def _decide(
    *, deployment_id: uuid.UUID, actor: User, frm: Iterable[str], to: str, note: str, now: datetime
) -> Deployment:
    updated = Deployment.objects.filter(pk=deployment_id, status__in=list(frm)).update(
        status=to, decided_by=actor, decided_at=now, decision_note=note.strip()
    )
    deployment = Deployment.objects.get(pk=deployment_id)
    if not updated:
        raise DeploymentConflict(
            deployment, _("The deployment is already %(status)s.") % {"status": deployment.get_status_display()}
        )
    return deployment


def _lapsed(deployment: Deployment, now: datetime) -> bool:
    return (
        deployment.status == Deployment.Status.URGENT_PENDING
        and deployment.urgent_deadline is not None
        and deployment.urgent_deadline <= now
    )


def deployment_authorise(*, deployment_id: uuid.UUID, actor: User, note: str = "") -> Deployment:
    """Authorise a requested or urgent deployment; never by the officer who requested it."""
    _require(actor, "oversight.authorise_deployment", deployment_id)
    _not_the_requester(actor, deployment_id, "authorise")
    now = timezone.now()
    with transaction.atomic():
        deployment = Deployment.objects.select_for_update().get(pk=deployment_id)
        if _lapsed(deployment, now):
            raise DeploymentConflict(
                deployment, _("The urgent deployment was not authorised in time; its face-match data is purged.")
            )
        frm = (Deployment.Status.REQUESTED, Deployment.Status.URGENT_PENDING)
        deployment = _decide(
            deployment_id=deployment.pk, actor=actor, frm=frm, to=Deployment.Status.AUTHORISED, note=note, now=now
        )
        _changed(deployment, "authorise", actor, note)
    return deployment


def deployment_refuse(*, deployment_id: uuid.UUID, actor: User, note: str) -> Deployment:
    """Refuse a request; refusing an urgent deployment stops it and purges its face-match data."""
    _require(actor, "oversight.authorise_deployment", deployment_id)
    _not_the_requester(actor, deployment_id, "refuse")
    if not note.strip():
        raise ValidationError({"note": [_("Give the reason for the refusal.")]})
    now = timezone.now()
    with transaction.atomic():
        deployment = Deployment.objects.select_for_update().get(pk=deployment_id)
        was_urgent = deployment.status == Deployment.Status.URGENT_PENDING
        frm = (Deployment.Status.REQUESTED, Deployment.Status.URGENT_PENDING)
        deployment = _decide(
            deployment_id=deployment.pk, actor=actor, frm=frm, to=Deployment.Status.REFUSED, note=note, now=now
        )
        _changed(deployment, "refuse", actor, note)
        if was_urgent:
            face_matches_purge(deployment=deployment, now=now, reason="refused")
    return deployment


def deployment_end(*, deployment_id: uuid.UUID, actor: User, note: str = "") -> Deployment:
    """End a deployment early (requester or authoriser). Ending an urgent one before authorisation purges it."""
    if not (actor.has_perm("oversight.request_deployment") or actor.has_perm("oversight.authorise_deployment")):
        _require(actor, "oversight.request_deployment", deployment_id)
    now = timezone.now()
    with transaction.atomic():
        deployment = Deployment.objects.select_for_update().get(pk=deployment_id)
        was_urgent = deployment.status == Deployment.Status.URGENT_PENDING
        live = (Deployment.Status.AUTHORISED, Deployment.Status.URGENT_PENDING)
        ends_at = min(deployment.ends_at, max(now, deployment.starts_at + timedelta(seconds=1)))
        updated = Deployment.objects.filter(pk=deployment.pk, status__in=live).update(
            status=Deployment.Status.ENDED, ended_at=now, ended_by=actor, ends_at=ends_at
        )
        deployment.refresh_from_db()
        if not updated:
            raise DeploymentConflict(
                deployment, _("The deployment is already %(status)s.") % {"status": deployment.get_status_display()}
            )
        _changed(deployment, "end", actor, note)
        if was_urgent:
            face_matches_purge(deployment=deployment, now=now, reason="ended before authorisation")
    return deployment


def deployments_lapse(*, now: datetime | None = None) -> list[str]:
    """Urgent deployments not authorised by their deadline: mark refused and purge their face-match data."""
    now = now or timezone.now()
    lapsed = Deployment.objects.filter(status=Deployment.Status.URGENT_PENDING, urgent_deadline__lte=now)
    done = []
    for deployment_id in list(lapsed.values_list("pk", flat=True)):
        with transaction.atomic():
            updated = Deployment.objects.filter(
                pk=deployment_id, status=Deployment.Status.URGENT_PENDING, urgent_deadline__lte=now
            ).update(status=Deployment.Status.REFUSED, decided_at=now, decision_note="not authorised in time")
            if not updated:
                continue
            deployment = Deployment.objects.get(pk=deployment_id)
            _changed(deployment, "lapse", None, "not authorised in time")
            face_matches_purge(deployment=deployment, now=now, reason="not authorised in time")
            done.append(str(deployment_id))
    return done


def face_matches_purge(*, deployment: Deployment, now: datetime, reason: str) -> list[str]:
    """Delete every face-match alert raised under the deployment, its evidence and files (audited)."""
    alerts = Alert.objects.filter(deployment_link__deployment=deployment, kind=Alert.Kind.FACE_MATCH)
    pks = list(alerts.order_by("raised_at").values_list("pk", flat=True))
    ids = [str(pk) for pk in pks]
    names = [name for name in Evidence.objects.filter(alert__in=pks).values_list("file", flat=True) if name]
    negatives = list(NegativeExemplar.objects.filter(source_alert__in=pks).values_list("pk", flat=True))
    NegativeExemplar.objects.filter(pk__in=negatives).delete()  # "not this person" vectors from its probes
    if negatives:
        gallery_changed()
    DeploymentAlert.objects.filter(alert__in=pks).delete()
    Alert.objects.filter(pk__in=pks).delete()
    Deployment.objects.filter(pk=deployment.pk).update(purged_at=now)
    access_record(
        user=None,
        username="system",
        action=AccessEvent.Action.PURGE,
        object_type="deployment_face_matches",
        object_id=deployment.pk,
        purpose=reason,
        detail={
            "count": len(ids),
            "ids": ids[:AUDIT_IDS_LIMIT],
            "files": len(names),
            "negative_exemplars": [str(pk) for pk in negatives][:AUDIT_IDS_LIMIT],
            "now": now.isoformat(),
        },
    )
    transaction.on_commit(lambda: _delete_files(names))
    logger.warning("deployment %s: purged %d face-match alerts (%s)", deployment.pk, len(ids), reason)
    return ids


def _delete_files(names: list[str]) -> None:
    from django.core.files.storage import default_storage

    for name in names:
        default_storage.delete(name)


# --- counters of the transparency report (written by the stream workers) --------------------------------


def _month_row(deployment_id: uuid.UUID | str, month: date, model_name: str) -> None:
    DeploymentMonth.objects.get_or_create(
        deployment_id=deployment_id, month=month, defaults={"model_name": model_name[:60]}
    )


def deployment_count_faces(*, deployment_id: uuid.UUID | str, faces: int, at: datetime, model_name: str = "") -> None:
    """Add ``faces`` analysed faces to the deployment's month (a count only: no image, no vector)."""
    if faces <= 0:
        return
    month = month_of(at)
    with transaction.atomic():
        _month_row(deployment_id, month, model_name)
        DeploymentMonth.objects.filter(deployment_id=deployment_id, month=month).update(
            faces_analysed=F("faces_analysed") + faces
        )


def deployment_alert_raised(
    *, deployment_id: uuid.UUID | str, alert: Alert, faces: int = 0, model_name: str = ""
) -> None:
    """Link a new face-match alert to its deployment and count it (call inside the alert's transaction)."""
    month = month_of(alert.raised_at)
    with transaction.atomic():
        _month_row(deployment_id, month, model_name)
        DeploymentAlert.objects.create(alert=alert, deployment_id=deployment_id, month=month)
        DeploymentMonth.objects.filter(deployment_id=deployment_id, month=month).update(
            alerts_raised=F("alerts_raised") + 1, faces_analysed=F("faces_analysed") + max(0, faces)
        )
