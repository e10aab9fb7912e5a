"""The one gate for reading subjects and face templates: permission check and audit record."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction

from audit.models import AccessEvent
from audit.services import access_record, access_require
from watchlists.models import FaceTemplate, Subject


def _require(user: User | AnonymousUser, perm: str, object_type: str, object_id: Any = "") -> None:
    access_require(user=user, perm=perm, object_type=object_type, object_id=object_id)


def subject_list(*, user: User | AnonymousUser, purpose: str = ""):  # type: ignore[no-untyped-def]
    """Subjects the user may list; the listing itself is audited by `subject_list_audit`."""
    _require(user, "watchlists.view_subject", "watchlists.subject")
    return Subject.objects.select_related("watchlist").order_by("display_name")


def subject_list_audit(
    *,
    user: User | AnonymousUser,
    subjects: Iterable[Subject],
    purpose: str = "",
    query: dict[str, Any] | None = None,
) -> None:
    """Record which subjects a listing showed."""
    access_record(
        user=user,
        action=AccessEvent.Action.SEARCH,
        object_type="watchlists.subject",
        purpose=purpose,
        detail={"shown": [str(s.pk) for s in subjects][:200], "query": query or {}},
    )


def subject_get(*, user: User | AnonymousUser, subject_id: Any, purpose: str = "") -> Subject:
    """One subject, permission-checked and audited in the same transaction."""
    _require(user, "watchlists.view_subject", "watchlists.subject", subject_id)
    with transaction.atomic():
        subject = Subject.objects.select_related("watchlist").get(pk=subject_id)
        access_record(
            user=user,
            action=AccessEvent.Action.VIEW,
            object_type="watchlists.subject",
            object_id=subject.pk,
            purpose=purpose,
        )
    return subject


def template_get(*, user: User | AnonymousUser, template_id: Any, purpose: str = "") -> FaceTemplate:
    """One face template (for its image), permission-checked and audited."""
    _require(user, "watchlists.view_facetemplate", "watchlists.facetemplate", template_id)
    with transaction.atomic():
        template = FaceTemplate.objects.select_related("subject").get(pk=template_id)
        access_record(
            user=user,
            action=AccessEvent.Action.VIEW,
            object_type="watchlists.facetemplate",
            object_id=template.pk,
            purpose=purpose,
        )
    return template
