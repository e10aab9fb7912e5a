"""Recorded-footage jobs: submitted by the web process, run by a worker, state kept in Redis.

Two kinds: analysing a recording (``recording_job_key``) and calibrating a camera's false-alert
budget on one (``calibration_job_key``). The state is JSON (state queued / running / done / failed,
progress 0-1, result or error), kept a day; the web process submits by task name through the queue seam.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from core.queue import task_send
from core.redis import calibration_job_key, recording_job_key, redis_client

ANALYSE_TASK = "workers.tasks.analyze_video_job"
CALIBRATE_TASK = "workers.tasks.calibrate_recording_job"
JOB_TTL_S = 24 * 3600


def job_write(job_id: str, **state: Any) -> None:
    """Store a job's state JSON (expires after a day)."""
    redis_client().set(recording_job_key(job_id), json.dumps({"id": job_id, **state}), ex=JOB_TTL_S)


def job_status(job_id: str) -> dict[str, Any] | None:
    """A job's state, or None when unknown or expired."""
    raw = redis_client().get(recording_job_key(job_id))
    return None if raw is None else dict(json.loads(raw))


def job_submit(*, path: Path, fps: float = 5.0, watchlist: str | None = None) -> str:
    """Queue analysis of an uploaded file; return the job id to poll with ``job_status``."""
    job_id = uuid.uuid4().hex
    job_write(job_id, state="queued", progress=0.0)
    task_send(ANALYSE_TASK, args=(job_id, str(path), fps, watchlist))
    return job_id


def calibration_job_write(job_id: str, **state: Any) -> None:
    """Store a calibration job's state JSON (expires after a day)."""
    redis_client().set(calibration_job_key(job_id), json.dumps({"id": job_id, **state}), ex=JOB_TTL_S)


def calibration_job_status(job_id: str) -> dict[str, Any] | None:
    """A calibration job's state, or None when unknown or expired."""
    raw = redis_client().get(calibration_job_key(job_id))
    return None if raw is None else dict(json.loads(raw))


def calibration_submit(*, camera_id: str, path: Path, name: str, user_id: int | None) -> str:
    """Queue calibrating a camera's alert budget on an uploaded recording (`name`: the file's own name)."""
    job_id = uuid.uuid4().hex
    calibration_job_write(job_id, state="queued", progress=0.0, camera=camera_id)
    task_send(CALIBRATE_TASK, args=(job_id, camera_id, str(path), name, user_id))
    return job_id
