"""Reads of alerts scoped to the user's venues, and the audited evidence gate."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.db import transaction

from alerts.models import Alert, Evidence
from audit.models import AccessEvent
from audit.services import access_record
from venues.selectors import sees_all_venues, venues_for


def alerts_for(user: User | AnonymousUser):  # type: ignore[no-untyped-def]
    """Alerts at venues the user may see."""
    queryset = Alert.objects.select_related("camera", "venue", "zone", "assigned_to")
    if sees_all_venues(user):
        return queryset
    return queryset.filter(venue__in=venues_for(user))


def evidence_get(*, user: User | AnonymousUser, evidence_id: Any, purpose: str = "") -> Evidence:
    """One evidence file, if the user may see its alert; audited in the same transaction."""
    if not user.has_perm("alerts.view_evidence"):
        access_record(
            user=user,
            action=AccessEvent.Action.DENIED,
            object_type="alerts.evidence",
            object_id=evidence_id,
            detail={"permission": "alerts.view_evidence"},
        )
        raise PermissionDenied("alerts.view_evidence")
    with transaction.atomic():
        evidence = Evidence.objects.select_related("alert").get(pk=evidence_id)
        if not alerts_for(user).filter(pk=evidence.alert_id).exists():
            access_record(
                user=user,
                action=AccessEvent.Action.DENIED,
                object_type="alerts.evidence",
                object_id=evidence_id,
                detail={"reason": "outside venue scope"},
            )
            raise PermissionDenied("outside venue scope")
        access_record(
            user=user,
            action=AccessEvent.Action.VIEW,
            object_type="alerts.evidence",
            object_id=evidence.pk,
            purpose=purpose,
            detail={"alert": str(evidence.alert_id)},
        )
    return evidence


def alert_read_audit(*, user: User | AnonymousUser, alert: Alert, purpose: str = "") -> None:
    """Record that a user opened an alert's detail (face matches name a subject)."""
    access_record(
        user=user,
        action=AccessEvent.Action.VIEW,
        object_type="alert",
        object_id=alert.pk,
        purpose=purpose,
        detail={"kind": alert.kind},
    )
