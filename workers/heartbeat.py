"""A camera session's heartbeat thread: renew the lease, publish health, notice when to stop.

It runs beside the analysis loop from before the models load until the session ends. Each beat it
renews the Redis lease and publishes health to ``cc:health:<camera>``; between beats it watches for
a dead parent worker (orphaned) and for the worker draining (SIGTERM: hand the camera over).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from core.redis import health_key
from workers import lease as leases

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HeartbeatSettings:
    """Seconds between beats and the lease's time to live (health expires after two of them)."""

    interval_s: float
    lease_ttl_s: float


class Heartbeat:
    """The loop the heartbeat thread runs; ``stop(reason)`` is the session's, called from this thread."""

    def __init__(
        self,
        *,
        camera_id: str,
        client: redis.Redis,
        lease: leases.Lease,
        settings: HeartbeatSettings,
        hostname: str,
        parent_pid: int | None,
        stop_event: threading.Event,
        stop: Callable[[str], None],
        health: Callable[[], dict[str, Any]],
    ) -> None:
        self.camera_id = camera_id
        self.client = client
        self.lease = lease
        self.settings = settings
        self.hostname = hostname
        self.parent_pid = parent_pid
        self.stop_event = stop_event
        self._stop = stop
        self._health = health

    def run(self) -> None:
        """Beat until the session stops, the lease is lost or the worker goes away."""
        tick = min(0.5, self.settings.interval_s / 2)
        next_renew = time.monotonic() + self.settings.interval_s
        self.publish()
        while not self.stop_event.wait(tick):
            if self._watch_signals():
                return
            if time.monotonic() >= next_renew:
                next_renew = time.monotonic() + self.settings.interval_s
                if not self._renew():
                    return
                self.publish()

    def publish(self) -> None:
        """Publish the session's health for the dashboards (expires if the session dies)."""
        try:
            ttl = max(2, round(self.settings.lease_ttl_s * 2))
            self.client.set(health_key(self.camera_id), json.dumps(self._health()), ex=ttl)
        except redis.RedisError as exc:
            logger.warning("camera %s: health not published: %s", self.camera_id, exc)

    def _watch_signals(self) -> bool:
        if self.parent_pid is not None and os.getppid() != self.parent_pid:
            logger.warning("camera %s: parent worker died; stopping", self.camera_id)
            self._stop("orphaned")
            return True
        if self.hostname and self._draining():
            logger.info("camera %s: worker %s is draining; handing over", self.camera_id, self.hostname)
            self._stop("draining")
            return True
        return False

    def _draining(self) -> bool:
        try:
            return leases.is_draining(self.client, self.hostname)
        except redis.RedisError as exc:
            logger.warning("camera %s: drain check failed: %s", self.camera_id, exc)
            return False

    def _renew(self) -> bool:
        try:
            if self.lease.renew():
                return True
            logger.warning("camera %s: lease lost (held by %s)", self.camera_id, self.lease.holder())
            self._stop("lease_lost")
            return False
        except redis.RedisError as exc:
            logger.warning("camera %s: lease renew failed: %s", self.camera_id, exc)
            if not self.lease.held:
                self._stop("lease_lost")
                return False
            return True
