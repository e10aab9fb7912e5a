"""Redis leases: exactly one camera session per camera, renewed by a heartbeat.

A lease is a key holding a random token, set with ``SET NX PX``. Only the holder
renews it (Lua compare-and-``PEXPIRE``) or releases it (Lua compare-and-``DEL``),
so a session that lost its lease can never extend or delete its successor's.
``valid_until`` is a conservative local deadline (taken *before* each request is
sent): a session checks it before acting, so it stops even if Redis is unreachable.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from typing import Any

import redis

from core.redis import draining_key, lease_key, session_log_key, start_claim_key

logger = logging.getLogger(__name__)

SESSION_LOG_MAX = 200

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


def new_token() -> str:
    """A token naming one session: host, pid and a random part (readable in logs)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


class Lease:
    """One holder's view of a Redis lease: acquire, renew, release, all compare-and-set."""

    def __init__(self, client: redis.Redis, key: str, ttl_s: float, token: str | None = None) -> None:
        self.client = client
        self.key = key
        self.ttl_ms = max(1, round(ttl_s * 1000))
        self.token = token or new_token()
        self.valid_until = 0.0
        self._renew: Any = client.register_script(_RENEW)
        self._release: Any = client.register_script(_RELEASE)

    @property
    def held(self) -> bool:
        """True while the local deadline has not passed (no Redis call)."""
        return time.monotonic() < self.valid_until

    def acquire(self) -> bool:
        """Take the lease if nobody holds it."""
        sent = time.monotonic()
        if self.client.set(self.key, self.token, nx=True, px=self.ttl_ms):
            self.valid_until = sent + self.ttl_ms / 1000.0
            return True
        return False

    def renew(self) -> bool:
        """Extend the lease if still ours; False means it was lost (never extend another's)."""
        sent = time.monotonic()
        if int(self._renew(keys=[self.key], args=[self.token, self.ttl_ms])):
            self.valid_until = sent + self.ttl_ms / 1000.0
            return True
        self.valid_until = 0.0
        return False

    def release(self) -> bool:
        """Delete the lease if still ours."""
        self.valid_until = 0.0
        return bool(int(self._release(keys=[self.key], args=[self.token])))

    def holder(self) -> str | None:
        """The token currently holding the key (any holder), or None."""
        value = self.client.get(self.key)
        return value.decode() if isinstance(value, bytes) else value


def lease_holder(client: redis.Redis, camera_id: object) -> str | None:
    """Token of the session holding a camera, or None."""
    value = client.get(lease_key(camera_id))
    return value.decode() if isinstance(value, bytes) else value


def claim_start(client: redis.Redis, camera_id: object, ttl_s: float) -> bool:
    """Short claim that a session for this camera was enqueued (guards double-enqueue)."""
    return bool(client.set(start_claim_key(camera_id), "1", nx=True, px=round(ttl_s * 1000)))


def clear_start_claim(client: redis.Redis, camera_id: object) -> None:
    """Drop the enqueue claim once a session holds the lease (or gave up)."""
    client.delete(start_claim_key(camera_id))


def mark_draining(client: redis.Redis, hostname: str, ttl_s: float = 120.0) -> None:
    """Tell the sessions of a worker that it is shutting down (they hand over at once)."""
    client.set(draining_key(hostname), "1", px=round(ttl_s * 1000))


def clear_draining(client: redis.Redis, hostname: str) -> None:
    """A (re)started worker of this name takes work again."""
    client.delete(draining_key(hostname))


def is_draining(client: redis.Redis, hostname: str) -> bool:
    """True when the worker called ``hostname`` is shutting down."""
    return bool(hostname) and bool(client.exists(draining_key(hostname)))


def log_session_event(client: redis.Redis, camera_id: object, event: str, token: str, **extra: object) -> None:
    """Append a start/stop record to the camera's session log (bounded; for ops and tests)."""
    record = json.dumps({"event": event, "token": token, "at": time.time(), **extra})
    key = session_log_key(camera_id)
    with client.pipeline() as pipe:
        pipe.rpush(key, record)
        pipe.ltrim(key, -SESSION_LOG_MAX, -1)
        pipe.expire(key, 7 * 24 * 3600)
        pipe.execute()


def session_log(client: redis.Redis, camera_id: object) -> list[dict[str, Any]]:
    """The camera's session log, oldest first."""
    return [json.loads(item) for item in client.lrange(session_log_key(camera_id), 0, -1)]
