"""Writes to watchlists and subjects: thresholds above the floor, legal basis, expiry (audited)."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audited_delete, audited_save
from watchlists.matching import gallery_changed
from watchlists.models import NegativeExemplar, Subject, Watchlist

logger = logging.getLogger(__name__)

MAX_SUBJECT_LIFETIME = timedelta(days=3 * 366)


def watchlist_default_threshold() -> float:
    """The shipped match threshold (similarity) for new watchlists."""
    return float(settings.CC_FACE_DEFAULT_THRESHOLD)


def check_threshold(value: float) -> None:
    """Refuse thresholds below the system floor (they would raise too many false matches)."""
    floor = float(settings.CC_FACE_THRESHOLD_FLOOR)
    if value < floor:
        raise ValidationError(
            {
                "match_threshold": _("The threshold cannot be lower than the system floor of %(floor).2f.")
                % {"floor": floor}
            }
        )


def watchlist_save(*, actor: User | None, watchlist: Watchlist) -> Watchlist:
    """Create or update a watchlist; 'wanted' lists require a second confirmation by default."""
    if watchlist._state.adding and watchlist.match_threshold is None:
        watchlist.match_threshold = watchlist_default_threshold()
    check_threshold(watchlist.match_threshold)
    result: Watchlist = audited_save(actor=actor, instance=watchlist)
    gallery_changed()
    return result


def check_expiry(subject: Subject) -> None:
    """An entry must expire, in the future, within the maximum lifetime."""
    if subject.expires_at is None:
        raise ValidationError({"expires_at": _("Every watchlist entry needs an expiry date.")})
    now = timezone.now()
    if subject._state.adding and subject.expires_at <= now:
        raise ValidationError({"expires_at": _("The expiry date must be in the future.")})
    if subject.expires_at > now + MAX_SUBJECT_LIFETIME:
        raise ValidationError({"expires_at": _("Entries may be kept at most 3 years; renew them when due.")})


def subject_save(*, actor: User | None, subject: Subject) -> Subject:
    """Create or update a subject (expiry required); deactivating one removes its templates and photos."""
    if subject._state.adding and actor is not None and not subject.added_by_id:
        subject.added_by = actor  # type: ignore[assignment]
    check_expiry(subject)
    with transaction.atomic():
        result: Subject = audited_save(actor=actor, instance=subject)
        if result.status == Subject.Status.INACTIVE:
            _remove_templates(result, actor)
        gallery_changed()
    return result


def subject_deactivate(*, actor: User | None, subject: Subject, reason: str = "") -> Subject:
    """Stop matching a subject now and remove its face templates, photos and crops (audited)."""
    with transaction.atomic():
        subject.status = Subject.Status.INACTIVE
        subject.save(update_fields=["status", "updated_at"])
        _remove_templates(subject, actor)
        from audit.services import access_record

        access_record(
            user=actor,
            action="update",
            object_type="watchlists.subject",
            object_id=subject.pk,
            username="system" if actor is None else "",
            detail={"deactivated": True, "reason": reason},
        )
        gallery_changed()
    return subject


def _remove_templates(subject: Subject, actor: User | None) -> None:
    from watchlists.enrolment import template_delete

    for template in list(subject.templates.all()):
        template_delete(template=template, actor=actor)


def object_delete(*, actor: User | None, instance: Watchlist | Subject) -> None:
    """Delete a watchlist or subject; a subject's templates, photos and crops go with it."""
    with transaction.atomic():
        if isinstance(instance, Subject):
            _remove_templates(instance, actor)
        audited_delete(actor=actor, instance=instance)
        gallery_changed()


def negative_exemplar_record(
    *, subject: Subject, embedding: list[float], model_name: str, actor: User, alert_id: uuid.UUID | None
) -> NegativeExemplar:
    """Remember a probe a reviewer said is not this subject, so it does not alert again."""
    exemplar = NegativeExemplar.objects.create(
        subject=subject, embedding=embedding, model_name=model_name, created_by=actor, source_alert_id=alert_id
    )
    gallery_changed()
    return exemplar
