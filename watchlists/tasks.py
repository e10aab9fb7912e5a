"""Background jobs for watchlists (queue `faces`): bulk enrolment with progress."""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

from celery import shared_task
from django.contrib.auth import get_user_model

from watchlists.bulk import PhotoSource, job_progress_set, parse_rows, watchlist_import
from watchlists.enrolment import EnrolmentError
from watchlists.models import Watchlist

logger = logging.getLogger(__name__)


@shared_task(time_limit=3600, soft_time_limit=3550, acks_late=True)
def watchlist_import_job(job_id: str, watchlist_id: str, archive_path: str, actor_id: int) -> None:
    """Enrol a zip (a CSV plus photos) into a watchlist, reporting progress (enrolment_job_key)."""
    path = Path(archive_path)
    try:
        watchlist = Watchlist.objects.get(pk=watchlist_id)
        actor = get_user_model().objects.get(pk=actor_id)
        with zipfile.ZipFile(path) as archive:
            csv_names = [n for n in archive.namelist() if n.lower().endswith(".csv") and "/" not in n.strip("/")]
            if len(csv_names) != 1:
                raise EnrolmentError("bad_archive", "The zip must hold exactly one CSV at its top level.")
            rows = parse_rows(archive.read(csv_names[0]).decode("utf-8-sig"))
            job_progress_set(job_id, state="running", done=0, total=len(rows))
            report = watchlist_import(
                watchlist=watchlist,
                rows=rows,
                photos=PhotoSource(archive=archive),
                actor=actor,
                progress=lambda done, total: job_progress_set(job_id, state="running", done=done, total=total),
            )
        job_progress_set(job_id, state="done", done=len(rows), total=len(rows), summary=report.summary())
    except (EnrolmentError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        job_progress_set(job_id, state="failed", error=str(exc))
    finally:
        path.unlink(missing_ok=True)


@shared_task(time_limit=6 * 3600, soft_time_limit=6 * 3600 - 60, acks_late=True)
def face_model_switch_job(switch_id: str) -> None:
    """Re-embed every template for a requested face model, then make it active (progress on the switch row)."""
    from watchlists.models import FaceModelSwitch
    from watchlists.services import face_model_switch_run

    switch = FaceModelSwitch.objects.filter(pk=switch_id).exclude(state=FaceModelSwitch.State.DONE).first()
    if switch is None:
        logger.info("face model switch %s is done or gone", switch_id)
        return
    try:
        face_model_switch_run(switch=switch)
    except Exception as exc:
        FaceModelSwitch.objects.filter(pk=switch_id).update(state=FaceModelSwitch.State.FAILED, error=str(exc)[:500])
        raise
