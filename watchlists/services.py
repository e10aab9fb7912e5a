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

from audit.models import AccessEvent
from audit.services import access_record, audited_delete, audited_save
from watchlists.matching import gallery_changed
from watchlists.models import FaceModelSwitch, NegativeExemplar, Subject, Watchlist

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
        subject.added_by = actor
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


def face_model_choices() -> list[str]:
    """The face models an admin can switch to (installed embedders; DeepFace models are set by operators)."""
    from vision.faces.embedders import embedder_names

    return [name for name in embedder_names(available_only=True) if not name.startswith("deepface:")]


def face_model_switch_check(model_name: str) -> str:
    """Raise ValidationError unless ``model_name`` can be switched to now; return the active model."""
    from watchlists.matching import active_face_model, pending_face_model

    choices = face_model_choices()
    if model_name not in choices:
        raise ValidationError(
            {"model_name": _("Unknown face model; choose one of: %(names)s.") % {"names": ", ".join(choices)}}
        )
    current = active_face_model()
    if model_name == current:
        message = _("%(name)s is already the active face model.") % {"name": model_name}
        raise ValidationError({"model_name": message})
    if pending_face_model() is not None:
        raise ValidationError(
            {"model_name": _("A switch of the face model is already running; wait for it to finish.")}
        )
    return current


def face_model_switch(*, actor: User, model_name: str) -> FaceModelSwitch:
    """Ask to match with another face model: audited; its templates are re-embedded in the background first."""
    current = face_model_switch_check(model_name)
    with transaction.atomic():
        switch = FaceModelSwitch.objects.create(model_name=model_name, previous_model=current, requested_by=actor)
        access_record(
            user=actor,
            action=AccessEvent.Action.UPDATE,
            object_type="watchlists.facemodelswitch",
            object_id=switch.pk,
            detail={"from": current, "to": model_name},
        )
        transaction.on_commit(lambda: _queue_switch(switch.pk))
    logger.info("face model switch %s requested: %s -> %s", switch.pk, current, model_name)
    return switch


SWITCH_TASK = "watchlists.tasks.face_model_switch_job"


def _queue_switch(switch_id: uuid.UUID) -> None:
    from core.queue import task_send

    task_send(SWITCH_TASK, args=[str(switch_id)])


def face_model_switch_run(*, switch: FaceModelSwitch, progress_every: int = 10) -> FaceModelSwitch:
    """Re-embed every template for the switch's model from its kept photo, then make the model active (audited).

    A template whose photo cannot be re-embedded is listed in ``failed``; the switch then fails
    and the previous model stays active (nobody on a list silently stops being matchable).
    """
    from vision.faces.embedders import build_embedder, storage_embedders
    from watchlists.enrolment import template_reembed
    from watchlists.models import FaceTemplate

    embedders = storage_embedders(build_embedder(switch.model_name))
    needed = [embedder.model_name for embedder in embedders]
    failed: list[dict[str, str]] = []
    done = 0
    while True:
        todo = _templates_missing(needed, exclude=[f["template"] for f in failed])
        if not todo:
            break
        FaceModelSwitch.objects.filter(pk=switch.pk).update(
            state=FaceModelSwitch.State.RUNNING, total=done + len(todo), done=done
        )
        for template in FaceTemplate.objects.filter(pk__in=todo).order_by("created_at"):
            try:
                template_reembed(template=template, embedders=embedders)
            except Exception as exc:  # a missing or unreadable photo must not stop the rest
                logger.warning("re-embedding template %s failed: %s", template.pk, exc)
                failed.append({"template": str(template.pk), "error": str(exc)[:300]})
            done += 1
            if done % progress_every == 0:
                FaceModelSwitch.objects.filter(pk=switch.pk).update(done=done)
    return _switch_finish(switch, done=done, failed=failed)


def _templates_missing(model_names: list[str], exclude: list[str]) -> list[uuid.UUID]:
    from django.db.models import Count, Q

    from watchlists.models import FaceTemplate

    complete = Count("embeddings", filter=Q(embeddings__model_name__in=model_names), distinct=True)
    rows = FaceTemplate.objects.annotate(have=complete).filter(have__lt=len(model_names)).exclude(pk__in=exclude)
    return list(rows.values_list("pk", flat=True))


def _switch_finish(switch: FaceModelSwitch, *, done: int, failed: list[dict[str, str]]) -> FaceModelSwitch:
    state = FaceModelSwitch.State.FAILED if failed else FaceModelSwitch.State.DONE
    error = _("%(count)d template(s) could not be re-embedded; the previous model stays active.") % {
        "count": len(failed)
    }
    with transaction.atomic():
        FaceModelSwitch.objects.filter(pk=switch.pk).update(
            state=state, done=done, total=done, failed=failed, error=error if failed else "", finished_at=timezone.now()
        )
        access_record(
            user=None,
            action=AccessEvent.Action.UPDATE,
            object_type="watchlists.facemodelswitch",
            object_id=switch.pk,
            username="system",
            detail={"to": switch.model_name, "state": state, "re_embedded": done, "failed": len(failed)},
        )
        gallery_changed()
    switch.refresh_from_db()
    logger.info("face model switch %s finished: %s (%d templates, %d failed)", switch.pk, state, done, len(failed))
    return switch
