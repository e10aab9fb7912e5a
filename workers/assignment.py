"""Handing enabled cameras without a live session to the stream workers (run by beat)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis
from django.conf import settings

from core.redis import redis_client
from venues.models import Camera
from workers import lease as leases

logger = logging.getLogger(__name__)


def assign_cameras_once(
    *, enqueue: Callable[[str], None], client: redis.Redis | None = None, claim_s: float | None = None
) -> list[str]:
    """Enqueue a session for each enabled camera with no live lease and no recent start claim."""
    client = client or redis_client()
    claim = claim_s if claim_s is not None else float(settings.CC_START_CLAIM_S)
    started = []
    for camera_id in Camera.objects.enabled().values_list("pk", flat=True):
        if leases.lease_holder(client, camera_id) is not None:
            continue
        if not leases.claim_start(client, camera_id, claim):
            continue
        enqueue(str(camera_id))
        started.append(str(camera_id))
    if started:
        logger.info("enqueued sessions for %d camera(s): %s", len(started), ", ".join(started))
    return started
