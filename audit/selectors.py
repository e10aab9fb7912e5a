"""The auditor's reads of the access log: each checks its permission and is itself audited."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q, QuerySet

from audit.models import AccessEvent, ChainAnchor
from audit.services import ChainReport, access_record, access_require, chain_verify

ALERT_TYPES = ("alert", "alerts.alert")


@dataclass(frozen=True)
class EventFilter:
    """What the auditor asked for; every field optional."""

    user: str = ""
    action: str = ""
    object_type: str = ""
    object_id: str = ""
    since: datetime | None = None
    until: datetime | None = None

    def as_detail(self) -> dict[str, Any]:
        return {
            key: (value.isoformat() if isinstance(value, datetime) else value)
            for key, value in asdict(self).items()
            if value
        }


def _require(user: User | AnonymousUser, perm: str, detail: dict[str, Any] | None = None) -> None:
    access_require(user=user, perm=perm, object_type="audit.accessevent", detail=detail)


def _filtered(filters: EventFilter) -> QuerySet[AccessEvent]:
    queryset = AccessEvent.objects.order_by("-id")
    if filters.user:
        by_name = Q(username=filters.user)
        queryset = queryset.filter(by_name | Q(user_id=int(filters.user)) if filters.user.isdigit() else by_name)
    if filters.action:
        queryset = queryset.filter(action=filters.action)
    if filters.object_type:
        types = ALERT_TYPES if filters.object_type in ALERT_TYPES else (filters.object_type,)
        queryset = queryset.filter(object_type__in=types)
    if filters.object_id:
        queryset = queryset.filter(object_id=filters.object_id)
    if filters.since:
        queryset = queryset.filter(at__gte=filters.since)
    if filters.until:
        queryset = queryset.filter(at__lt=filters.until)
    return queryset


def events_search(*, user: User | AnonymousUser, filters: EventFilter, purpose: str = "") -> QuerySet[AccessEvent]:
    """The access log filtered as asked; the search (with its filter) is recorded."""
    _require(user, "audit.view_accessevent")
    access_record(
        user=user,
        action=AccessEvent.Action.SEARCH,
        object_type="audit.accessevent",
        purpose=purpose,
        detail={"filter": filters.as_detail()},
    )
    return _filtered(filters)


def events_export(*, user: User | AnonymousUser, filters: EventFilter, purpose: str = "") -> QuerySet[AccessEvent]:
    """The rows of a CSV export; the export (with its filter) is recorded before a byte leaves."""
    _require(user, "audit.view_accessevent")
    _require(user, "audit.export_accessevent", {"filter": filters.as_detail()})
    queryset = _filtered(filters)
    access_record(
        user=user,
        action=AccessEvent.Action.EXPORT,
        object_type="audit.accessevent",
        purpose=purpose,
        detail={"filter": filters.as_detail(), "format": "csv"},
    )
    return queryset


def object_history(
    *, user: User | AnonymousUser, object_type: str, object_id: str, purpose: str = ""
) -> QuerySet[AccessEvent]:
    """Every record about one object: direct reads and changes, listings that showed it, its evidence
    or templates, purges that named it."""
    _require(user, "audit.view_accessevent")
    access_record(
        user=user,
        action=AccessEvent.Action.VIEW,
        object_type="audit.accessevent",
        purpose=purpose,
        detail={"history_of": {"object_type": object_type, "object_id": object_id}},
    )
    types = ALERT_TYPES if object_type in ALERT_TYPES else (object_type,)
    about = Q(object_type__in=types, object_id=object_id)
    if object_id:
        about |= (
            Q(detail__contains={"alert": object_id})
            | Q(detail__contains={"subject": object_id})
            | Q(detail__contains={"shown": [object_id]})
            | Q(detail__contains={"ids": [object_id]})
            | Q(detail__contains={"alerts": [object_id]})
        )
    return AccessEvent.objects.filter(about).order_by("-id")


def chain_check(*, user: User | AnonymousUser) -> tuple[ChainReport, list[ChainAnchor]]:
    """Verify the chain now (recorded, with the head it reached) and list the retention anchors."""
    _require(user, "audit.verify_accessevent")
    report = chain_verify()
    access_record(
        user=user,
        action=AccessEvent.Action.VERIFY,
        object_type="audit.accessevent",
        detail={
            "ok": report.ok,
            "rows": report.rows_checked,
            "first_broken_id": report.first_broken_id,
            "head_id": report.head_id,
            "head_hash": report.head_hash,
        },
    )
    return report, list(ChainAnchor.objects.order_by("-id")[:50])
