"""The process's Redis client and every key the command center keeps in Redis, in one place.

Two stores share the server: raw keys written with the client below (leases, health, previews,
recording jobs: read by other processes that must not depend on Django's cache format), and keys
in Django's cache (``django.core.cache``, which adds its own prefix and pickles values).
Each builder says which store its key lives in; no other module spells a ``cc:`` key.
"""

from __future__ import annotations

import hashlib
from functools import cache

import redis
from django.conf import settings


@cache
def redis_client(url: str | None = None) -> redis.Redis:
    """The process's Redis client (connection pools re-create themselves after fork)."""
    return redis.Redis.from_url(
        url or str(settings.REDIS_URL), socket_timeout=2.0, socket_connect_timeout=2.0, health_check_interval=30
    )


# --- raw keys (redis_client) ---------------------------------------------------------------------

PREVIEW_PATTERN = "cc:preview:*"


def lease_key(camera_id: object) -> str:
    """A camera's session lease (token of the holder; PX TTL renewed by the heartbeat)."""
    return f"cc:lease:camera:{camera_id}"


def start_claim_key(camera_id: object) -> str:
    """Short claim that a session for the camera is queued (guards a double enqueue)."""
    return f"cc:starting:camera:{camera_id}"


def draining_key(hostname: str) -> str:
    """Flag telling a stream worker's sessions that it is shutting down."""
    return f"cc:streams:draining:{hostname}"


def session_log_key(camera_id: object) -> str:
    """A camera's bounded list of session start/stop records."""
    return f"cc:session:log:{camera_id}"


def health_key(camera_id: object) -> str:
    """A camera's live health JSON (written every heartbeat)."""
    return f"cc:health:{camera_id}"


def preview_key(camera_id: object) -> str:
    """A camera's latest preview JPEG (TTL; matches ``PREVIEW_PATTERN``)."""
    return f"cc:preview:{camera_id}"


def live_want_key(camera_id: object) -> str:
    """Kept alive (short TTL) by the web process while someone watches the camera live."""
    return f"cc:live:want:{camera_id}"


def live_frame_key(camera_id: object) -> str:
    """A watched camera's newest live frame (``core.live`` format: capture time, then JPEG)."""
    return f"cc:live:frame:{camera_id}"


def live_channel(camera_id: object) -> str:
    """Pub/sub channel announcing a new live frame (the message is a number, never pixels)."""
    return f"cc:live:new:{camera_id}"


def recording_job_key(job_id: str) -> str:
    """A recorded-footage analysis job's state, progress and result JSON."""
    return f"cc:recording:{job_id}"


def scores_key(camera_id: object) -> str:
    """A camera's fight/aggression score history for its false-alert budget (sorted set of chunks)."""
    return f"cc:scores:{camera_id}"


def calibration_job_key(job_id: str) -> str:
    """A budget calibration job's state, progress and result JSON (a recording scored as a camera)."""
    return f"cc:calibration:{job_id}"


# --- keys in Django's cache (django.core.cache.cache) -------------------------------------------

GALLERY_VERSION_KEY = "cc:gallery:version"  # bumped on every change to what the face matcher may match


def recording_owner_key(job_id: str) -> str:
    """The user id who submitted a recorded-footage job (only they may read it)."""
    return f"cc:recording:owner:{job_id}"


def calibration_owner_key(job_id: str) -> str:
    """Who started a calibration job, as "<user id>:<camera id>" (only they read it, on that camera)."""
    return f"cc:calibration:owner:{job_id}"


def enrolment_job_key(job_id: str) -> str:
    """A bulk enrolment job's progress JSON."""
    return f"cc:enrolment:{job_id}"


def login_failures_key(username: str, ip: str | None) -> str:
    """Failed sign-ins of a username from an address (hashed: no usernames in key names)."""
    digest = hashlib.sha256(f"{username.strip().lower()}|{ip or '-'}".encode()).hexdigest()[:32]
    return f"cc:login-fail:{digest}"
