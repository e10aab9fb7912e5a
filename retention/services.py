"""Retention: purge what is past its period (evidence, probe embeddings, expired subjects' faces,
old audit rows behind an anchor), refresh preview TTLs, and warn owners before subjects expire.

Every purge is audited (one PURGE record per kind with its ids; template deletions audit each
template) and files leave the disk only after the transaction that removed their rows commits.
Its own app, above alerts, watchlists and audit, because it imports what it deletes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from alerts.models import Alert, Evidence
from audit.models import AccessEvent
from audit.services import access_record, chain_purge_through
from core.redis import PREVIEW_PATTERN, redis_client
from watchlists.enrolment import template_delete
from watchlists.matching import gallery_changed
from watchlists.models import FaceTemplate, NegativeExemplar, Subject

logger = logging.getLogger(__name__)

_RETENTION_LOCK_KEY = 727_100_002
AUDIT_IDS_LIMIT = 1000  # ids listed inside one PURGE audit record; the report keeps them all


@dataclass(frozen=True)
class RetentionPolicy:
    """How long each kind of data is kept (from settings)."""

    unconfirmed_evidence: timedelta
    confirmed_evidence: timedelta
    audit_records: timedelta
    subject_grace: timedelta
    preview_ttl_s: int

    @classmethod
    def from_settings(cls) -> RetentionPolicy:
        return cls(
            unconfirmed_evidence=timedelta(days=settings.CC_RETENTION_UNCONFIRMED_EVIDENCE_DAYS),
            confirmed_evidence=timedelta(days=settings.CC_RETENTION_CONFIRMED_EVIDENCE_DAYS),
            audit_records=timedelta(days=settings.CC_RETENTION_AUDIT_DAYS),
            subject_grace=timedelta(days=settings.CC_RETENTION_SUBJECT_GRACE_DAYS),
            preview_ttl_s=settings.CC_PREVIEW_TTL_S,
        )


@dataclass
class RetentionReport:
    """What one run purged (or would purge, when dry): ids per kind and the files removed."""

    now: datetime
    dry_run: bool
    purged: dict[str, list[str]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {kind: len(ids) for kind, ids in self.purged.items()}

    def as_dict(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "dry_run": self.dry_run,
            "counts": self.counts(),
            "ids": self.purged,
            "files": self.files,
        }


def _confirmed_q() -> Q:
    """Alerts that became incidents: a confirmed face match, or any other alert that was dispatched."""
    return Q(review=Alert.Review.CONFIRMED) | (~Q(kind=Alert.Kind.FACE_MATCH) & Q(dispatched_at__isnull=False))


def expired_evidence(*, now: datetime, policy: RetentionPolicy) -> dict[str, list[Evidence]]:
    """Evidence of resolved alerts older than its period: unconfirmed (30 d) or confirmed (365 d)."""
    resolved = Evidence.objects.filter(alert__status=Alert.Status.RESOLVED).order_by("created_at", "pk")
    confirmed_alerts = Alert.objects.filter(_confirmed_q()).values("pk")
    return {
        "evidence_unconfirmed": list(
            resolved.filter(created_at__lt=now - policy.unconfirmed_evidence).exclude(alert__in=confirmed_alerts)
        ),
        "evidence_confirmed": list(
            resolved.filter(created_at__lt=now - policy.confirmed_evidence, alert__in=confirmed_alerts)
        ),
    }


def expired_probe_embeddings(*, now: datetime, policy: RetentionPolicy) -> list[str]:
    """Resolved alerts still holding a probe embedding past the evidence period that applies to them."""
    confirmed = _confirmed_q()
    due = (~confirmed & Q(raised_at__lt=now - policy.unconfirmed_evidence)) | (
        confirmed & Q(raised_at__lt=now - policy.confirmed_evidence)
    )
    holding = Alert.objects.filter(due, status=Alert.Status.RESOLVED, probe_embedding__isnull=False)
    return [str(pk) for pk in holding.order_by("raised_at", "pk").values_list("pk", flat=True)]


def _audit_purge(kind: str, ids: list[str], now: datetime, extra: dict[str, Any] | None = None) -> None:
    access_record(
        user=None,
        username="system",
        action=AccessEvent.Action.PURGE,
        object_type=kind,
        purpose="retention",
        detail={"count": len(ids), "ids": ids[:AUDIT_IDS_LIMIT], "now": now.isoformat(), **(extra or {})},
    )


def _delete_files_on_commit(names: list[str]) -> None:
    from django.core.files.storage import default_storage

    def remove() -> None:
        for name in names:
            default_storage.delete(name)
        if names:
            logger.info("retention: removed %s files from storage", len(names))

    transaction.on_commit(remove)


def evidence_purge(*, now: datetime, policy: RetentionPolicy, dry_run: bool, report: RetentionReport) -> None:
    """Delete expired evidence rows (audited) and, after commit, their files."""
    for kind, rows in expired_evidence(now=now, policy=policy).items():
        ids = [str(row.pk) for row in rows]
        names = [row.file.name for row in rows if row.file.name]
        report.purged[kind] = ids
        report.files.extend(names)
        if dry_run or not ids:
            continue
        with transaction.atomic():
            Evidence.objects.filter(pk__in=ids).delete()
            _audit_purge(kind, ids, now, {"alerts": sorted({str(row.alert_id) for row in rows})[:AUDIT_IDS_LIMIT]})
            _delete_files_on_commit(names)


def probe_embeddings_purge(*, now: datetime, policy: RetentionPolicy, dry_run: bool, report: RetentionReport) -> None:
    """Clear the probe embeddings of resolved alerts past their evidence period (audited)."""
    ids = expired_probe_embeddings(now=now, policy=policy)
    report.purged["probe_embeddings"] = ids
    if dry_run or not ids:
        return
    with transaction.atomic():
        Alert.objects.filter(pk__in=ids).update(probe_embedding=None)
        _audit_purge("alerts.alert.probe_embedding", ids, now)


def subjects_expire(*, now: datetime, dry_run: bool, report: RetentionReport) -> None:
    """Deactivate active subjects whose expiry has passed (each audited as an update)."""
    ids = [
        str(pk)
        for pk in Subject.objects.filter(status=Subject.Status.ACTIVE, expires_at__lte=now)
        .order_by("expires_at", "pk")
        .values_list("pk", flat=True)
    ]
    report.purged["subjects_deactivated"] = ids
    if dry_run or not ids:
        return
    with transaction.atomic():
        for subject_id in ids:
            changed = Subject.objects.filter(pk=subject_id, status=Subject.Status.ACTIVE).update(
                status=Subject.Status.INACTIVE, updated_at=now
            )
            if changed:
                access_record(
                    user=None,
                    username="system",
                    action=AccessEvent.Action.UPDATE,
                    object_type="watchlists.subject",
                    object_id=subject_id,
                    purpose="retention: expired",
                    detail={"status": Subject.Status.INACTIVE},
                )
        gallery_changed()


def subject_faces_purge(*, now: datetime, policy: RetentionPolicy, dry_run: bool, report: RetentionReport) -> None:
    """Remove templates (photo, crop, embedding) and negative exemplars of subjects expired past the grace."""
    expired = Subject.objects.filter(expires_at__lte=now - policy.subject_grace)
    templates = list(FaceTemplate.objects.filter(subject__in=expired).order_by("subject", "pk"))
    negatives = [
        str(pk)
        for pk in NegativeExemplar.objects.filter(subject__in=expired).order_by("pk").values_list("pk", flat=True)
    ]
    report.purged["subject_templates"] = [str(t.pk) for t in templates]
    report.purged["negative_exemplars"] = negatives
    report.files.extend(f.name for t in templates for f in (t.source_photo, t.face_crop) if f.name)
    if dry_run:
        return
    with transaction.atomic():
        for template in templates:
            template_delete(template=template, actor=None)
        if negatives:
            NegativeExemplar.objects.filter(pk__in=negatives).delete()
            _audit_purge("watchlists.negativeexemplar", negatives, now)


def audit_rows_purge(*, now: datetime, policy: RetentionPolicy, dry_run: bool, report: RetentionReport) -> None:
    """Purge the oldest audit rows past their period as one prefix behind a chain anchor."""
    cutoff = now - policy.audit_records
    first_kept = AccessEvent.objects.filter(at__gte=cutoff).order_by("id").values_list("id", flat=True).first()
    old = AccessEvent.objects.filter(at__lt=cutoff)
    if first_kept is not None:
        old = old.filter(id__lt=first_kept)
    through = old.order_by("-id").values_list("id", flat=True).first()
    if through is None:
        report.purged["audit_records"] = []
        return
    first = AccessEvent.objects.order_by("id").values_list("id", flat=True).first()
    report.purged["audit_records"] = [f"{first}..{through}"]
    if dry_run:
        return
    purged = chain_purge_through(through_id=through, reason=f"retention {policy.audit_records.days} days")
    _audit_purge("audit.accessevent", [f"{first}..{through}"], now, {"rows": purged})
    report.purged["audit_records"] = [f"{first}..{through}"]


def previews_ttl_enforce(*, policy: RetentionPolicy, dry_run: bool, report: RetentionReport) -> None:
    """Live previews must expire on their own; give any preview key without a TTL the configured one."""
    client = redis_client()
    stuck = [key.decode() for key in client.scan_iter(match=PREVIEW_PATTERN, count=500) if client.ttl(key) == -1]
    if not dry_run:
        for key in stuck:
            client.expire(key, policy.preview_ttl_s)
    report.purged["previews_without_ttl"] = stuck


UPLOAD_MAX_AGE = timedelta(hours=2)  # a video job's hard time limit is 1 h; its upload goes when it ends


def _unlink_all(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def uploads_purge(*, now: datetime, dry_run: bool, report: RetentionReport) -> None:
    """Footage left in the upload folder by a job that never ended (worker killed) is deleted too."""
    folder = Path(settings.CC_JOB_UPLOAD_DIR)
    cutoff = (now - UPLOAD_MAX_AGE).timestamp()
    stale = sorted(p for p in folder.glob("*") if p.is_file() and p.stat().st_mtime < cutoff) if folder.is_dir() else []
    report.purged["uploaded_footage"] = [p.name for p in stale]
    if stale and not dry_run:
        _audit_purge("recording_upload", [p.name for p in stale], now)
        transaction.on_commit(partial(_unlink_all, stale))  # only once the purge record is committed
        report.files.extend(str(p) for p in stale)


def retention_run(
    *, now: datetime | None = None, dry_run: bool = False, policy: RetentionPolicy | None = None
) -> RetentionReport:
    """Apply every retention period once; safe to run twice (a second run finds nothing)."""
    now = now or timezone.now()
    policy = policy or RetentionPolicy.from_settings()
    report = RetentionReport(now=now, dry_run=dry_run)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_RETENTION_LOCK_KEY])
        evidence_purge(now=now, policy=policy, dry_run=dry_run, report=report)
        probe_embeddings_purge(now=now, policy=policy, dry_run=dry_run, report=report)
        subjects_expire(now=now, dry_run=dry_run, report=report)
        subject_faces_purge(now=now, policy=policy, dry_run=dry_run, report=report)
        audit_rows_purge(now=now, policy=policy, dry_run=dry_run, report=report)
        uploads_purge(now=now, dry_run=dry_run, report=report)
    previews_ttl_enforce(policy=policy, dry_run=dry_run, report=report)
    logger.info("retention %s: %s", "dry run" if dry_run else "run", report.counts())
    for kind, ids in report.purged.items():
        if ids:
            logger.info("retention %s %s: %s", "would purge" if dry_run else "purged", kind, ",".join(ids[:200]))
    return report


def _owner_emails(subject: Subject) -> list[str]:
    users = [subject.watchlist.owner, subject.added_by]
    return sorted({user.email for user in users if user.email})


def subjects_notify_expiring(*, now: datetime | None = None) -> list[str]:
    """E-mail the watchlist owner (and whoever added it) once before a subject expires; audited."""
    now = now or timezone.now()
    due = (
        Subject.objects.filter(
            status=Subject.Status.ACTIVE,
            expiry_notified_at__isnull=True,
            expires_at__gt=now,
            expires_at__lte=now + timedelta(days=settings.CC_SUBJECT_EXPIRY_NOTICE_DAYS),
        )
        .select_related("watchlist__owner", "added_by")
        .order_by("expires_at", "pk")
    )
    notified = []
    for subject in due:
        recipients = _owner_emails(subject)
        if recipients:
            send_mail(
                subject=f"[Command Center] watchlist entry {subject.pk} expires {subject.expires_at:%Y-%m-%d}",
                message=_notice_text(subject),
                from_email=None,
                recipient_list=recipients,
                fail_silently=False,
            )
        else:
            logger.warning("subject %s expires soon but its owners have no e-mail address", subject.pk)
        with transaction.atomic():
            marked = Subject.objects.filter(pk=subject.pk, expiry_notified_at__isnull=True).update(
                expiry_notified_at=now
            )
            if marked:
                access_record(
                    user=None,
                    username="system",
                    action=AccessEvent.Action.NOTIFY,
                    object_type="watchlists.subject",
                    object_id=subject.pk,
                    purpose="expiry notice",
                    detail={"recipients": recipients, "expires_at": subject.expires_at.isoformat()},
                )
                notified.append(str(subject.pk))
    return notified


def _notice_text(subject: Subject) -> str:
    # no name or photo in e-mail: the reference is enough to find the entry in the audited views
    return (
        f"Watchlist entry {subject.pk} (reference {subject.reference_number or '-'}) on the list "
        f"'{subject.watchlist.name}' expires at {subject.expires_at.isoformat()}.\n"
        "After expiry it stops matching; after the grace period its photos and face templates are deleted.\n"
        "Renew it in the administration pages if the legal basis still applies.\n"
    )
