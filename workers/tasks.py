"""Celery tasks of the stream workers: camera sessions, the camera assigner, video analysis jobs.

Session tasks are long-running and **ack early** (``acks_late=False``): with the Redis
broker an unacked message is re-delivered after ``visibility_timeout`` (and RabbitMQ
closes a channel whose delivery stays unacked past ``consumer_timeout``), which would
start a second copy of an hour-long task. Recovery after a crash therefore never relies on
re-delivery: the Redis lease lapses and ``assign_cameras`` (beat, every few seconds)
enqueues a new session. Sessions also time-box themselves (``CC_SESSION_MAX_S``) and hand
over, so the task time limits are just a backstop above that.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from celery import shared_task, signals
from django.conf import settings
from django.contrib.auth.models import User

from core.jobs import calibration_job_write, job_write
from core.redis import redis_client
from venues.services import CalibrationError, camera_calibrate_incidents
from workers import lease as leases
from workers.assignment import assign_cameras_once
from workers.camera_config import load_camera
from workers.recordings import analyse_file, recording_scores
from workers.session import CameraSession

logger = logging.getLogger(__name__)

SESSION_TIME_LIMIT_S = int(settings.CC_SESSION_MAX_S) + 120


def enqueue_session(camera_id: str) -> None:
    """Queue a session for a camera (claims the start so beat does not queue a second one)."""
    client = redis_client()
    leases.claim_start(client, camera_id, float(settings.CC_START_CLAIM_S))
    camera_session.apply_async((camera_id,), queue=settings.CC_STREAM_QUEUE, expires=float(settings.CC_START_CLAIM_S))


@shared_task(
    bind=True,
    name="workers.tasks.camera_session",
    acks_late=False,
    ignore_result=True,
    time_limit=SESSION_TIME_LIMIT_S,
    soft_time_limit=SESSION_TIME_LIMIT_S - 60,
    max_retries=0,
)
def camera_session(self: Any, camera_id: str) -> str:
    """Run one camera until disabled, lease lost, drained or time-boxed (one per camera)."""
    hostname = str(self.request.hostname or "")
    session = CameraSession(
        camera_id, hostname=hostname, handover=enqueue_session, watch_parent=not self.request.is_eager
    )
    return session.run().value


def _enqueue_plain(camera_id: str) -> None:
    camera_session.apply_async((camera_id,), queue=settings.CC_STREAM_QUEUE, expires=float(settings.CC_START_CLAIM_S))


@shared_task(name="workers.tasks.assign_cameras", ignore_result=True, time_limit=60, soft_time_limit=50)
def assign_cameras() -> list[str]:
    """Beat: enqueue sessions for enabled cameras whose lease lapsed (or never existed)."""
    return assign_cameras_once(enqueue=_enqueue_plain)


# --- recorded footage jobs (uploads from the UI/API; submitted by core.jobs.job_submit) ------------------


@shared_task(
    name="workers.tasks.analyze_video_job",
    ignore_result=True,
    acks_late=True,
    time_limit=3600,
    soft_time_limit=3540,
    max_retries=0,
)
def analyze_video_job(job_id: str, path: str, fps: float = 5.0, watchlist: str | None = None) -> None:
    """Analyse an uploaded video, writing progress and the result with ``core.jobs.job_write``."""
    started = time.monotonic()
    last = [0.0]

    def progress(fraction: float) -> None:
        if time.monotonic() - last[0] >= 0.5:
            last[0] = time.monotonic()
            job_write(job_id, state="running", progress=round(fraction, 3))

    try:
        result = analyse_file(path, fps=fps, watchlist=watchlist, progress=progress)
    except Exception as exc:
        logger.exception("video job %s failed", job_id)
        job_write(job_id, state="failed", progress=1.0, error=str(exc)[:500])
        return
    finally:
        _discard_upload(path)
    job_write(job_id, state="done", progress=1.0, result=result, seconds=round(time.monotonic() - started, 2))


def _discard_upload(path: str) -> None:
    """Uploaded footage is kept only while its job runs (files outside the upload folder are left alone)."""
    upload = Path(path).resolve()
    if upload.parent == Path(settings.CC_JOB_UPLOAD_DIR).resolve():
        upload.unlink(missing_ok=True)
        logger.info("video job: deleted uploaded footage %s", upload.name)


@shared_task(
    name="workers.tasks.calibrate_recording_job",
    ignore_result=True,
    acks_late=True,
    time_limit=3600,
    soft_time_limit=3540,
    max_retries=0,
)
def calibrate_recording_job(job_id: str, camera_id: str, path: str, name: str, user_id: int | None) -> None:
    """Score an uploaded recording as the camera and calibrate its alert budget (``core.jobs.calibration_submit``)."""

    def progress(fraction: float) -> None:
        calibration_job_write(job_id, state="running", progress=round(fraction, 3), camera=camera_id)

    try:
        loaded = load_camera(camera_id)
        if loaded is None:
            raise LookupError("the camera no longer exists")
        segments = recording_scores(path, loaded[1], progress=_every(0.5, progress))
        user = User.objects.filter(pk=user_id).first() if user_id is not None else None
        summary = camera_calibrate_incidents(
            camera=loaded[0], user=user, source="recording", segments=segments, window=name
        )
    except CalibrationError as exc:
        calibration_job_write(
            job_id, state="failed", progress=1.0, camera=camera_id, error=str(exc), result=exc.summary
        )
        return
    except Exception as exc:
        logger.exception("calibration job %s failed", job_id)
        calibration_job_write(job_id, state="failed", progress=1.0, camera=camera_id, error=str(exc)[:500])
        return
    finally:
        _discard_upload(path)
    calibration_job_write(job_id, state="done", progress=1.0, camera=camera_id, result=summary)


def _every(seconds: float, report: Callable[[float], None]) -> Callable[[float], None]:
    """A progress callback that passes at most one report per `seconds` on."""
    last = [0.0]

    def progress(fraction: float) -> None:
        if time.monotonic() - last[0] >= seconds:
            last[0] = time.monotonic()
            report(fraction)

    return progress


# --- worker lifecycle: draining on warm shutdown -----------------------------------------------


@signals.worker_shutting_down.connect
def _drain_on_shutdown(sender: Any = None, **_: Any) -> None:
    """SIGTERM/SIGINT: tell this worker's sessions to hand over now (they poll the flag)."""
    hostname = str(sender or "")
    if hostname:
        try:
            leases.mark_draining(redis_client(), hostname)
        except Exception as exc:  # never block a shutdown
            logger.warning("could not mark %s draining: %s", hostname, exc)


@signals.worker_ready.connect
def _undrain_on_start(sender: Any = None, **_: Any) -> None:
    """A worker that (re)starts under a name takes sessions again."""
    hostname = str(getattr(sender, "hostname", "") or "")
    if hostname:
        try:
            leases.clear_draining(redis_client(), hostname)
        except Exception as exc:
            logger.warning("could not clear draining flag of %s: %s", hostname, exc)


__all__ = ["analyze_video_job", "assign_cameras", "calibrate_recording_job", "camera_session", "enqueue_session"]
