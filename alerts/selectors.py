"""Reads of alerts scoped to the user's venues, and the audited evidence gate."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.urls import reverse

from alerts.models import Alert, Evidence
from audit.models import AccessEvent
from audit.services import access_record, access_require
from venues.selectors import sees_all_venues, venues_for
from watchlists.models import Subject


def alerts_for(user: User | AnonymousUser):  # type: ignore[no-untyped-def]
    """Alerts at venues the user may see."""
    queryset = Alert.objects.select_related("camera", "venue", "zone", "assigned_to")
    if sees_all_venues(user):
        return queryset
    return queryset.filter(venue__in=venues_for(user))


def evidence_get(*, user: User | AnonymousUser, evidence_id: Any, purpose: str = "") -> Evidence:
    """One evidence file, if the user may see its alert; audited in the same transaction."""
    access_require(user=user, perm="alerts.view_evidence", object_type="alerts.evidence", object_id=evidence_id)
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


def face_cards(*, user: User | AnonymousUser, alerts: Iterable[Alert], purpose: str = "dashboard") -> dict[Any, Any]:
    """Who each face-match alert names (subject, reference, watchlist with colour and category, photo links),
    for users who may view subjects; one audit record lists every subject shown. Keyed by alert id."""
    faces = [a for a in alerts if a.kind == Alert.Kind.FACE_MATCH and a.subject_id is not None]
    if not faces or not user.has_perm("watchlists.view_subject"):
        return {}
    subjects = Subject.objects.select_related("watchlist").in_bulk({a.subject_id for a in faces})
    may_see_photos = user.has_perm("watchlists.view_facetemplate")
    cards = {a.pk: _face_card(subjects[a.subject_id], a, may_see_photos) for a in faces if a.subject_id in subjects}
    if cards:
        access_record(
            user=user,
            action=AccessEvent.Action.VIEW,
            object_type="watchlists.subject",
            purpose=purpose,
            detail={
                "shown": sorted({str(a.subject_id) for a in faces if a.pk in cards})[:200],
                "alerts": [str(pk) for pk in cards][:200],
            },
        )
    return cards


def _face_card(subject: Subject, alert: Alert, may_see_photos: bool) -> dict[str, Any]:
    watchlist = subject.watchlist
    return {
        "subject": str(subject.pk),
        "name": subject.display_name,
        "reference": subject.reference_number,
        "watchlist": {
            "id": str(watchlist.pk),
            "name": watchlist.name,
            "colour": watchlist.colour,
            "category": watchlist.category,
            "category_display": str(watchlist.get_category_display()),
        },
        "enrolled_photo_url": (
            reverse("template-crop", args=[alert.template_id]) if may_see_photos and alert.template_id else None
        ),
    }
