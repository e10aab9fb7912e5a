"""Live video of one camera as MJPEG over HTTP, from the stream worker already decoding it.

Opening the stream checks the viewer's scope and writes an audit row; while it is open the view keeps the
camera's want key alive, so the session publishes frames (``core.live``) only while somebody watches.
Each part carries ``X-Captured-At`` (the frame's capture time), which the page shows as the picture's age.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import redis
import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponseBase, HttpResponseRedirect, StreamingHttpResponse
from django.urls import reverse

from core.live import unpack_live_frame
from core.redis import live_channel, live_frame_key, live_want_key
from venues.models import Camera
from venues.selectors import cameras_for

logger = logging.getLogger(__name__)

BOUNDARY = "ccliveframe"
WANT_TTL_S = 5  # the session stops publishing this long after the last viewer left
WANT_REFRESH_S = 2.0
MAX_STREAM_S = 600.0  # a stream ends after ten minutes; the page reopens it (and the viewer is audited again)


def _camera_for_live(user: User, camera_id: Any) -> Camera:
    """The camera if the viewer may see it; records the viewing in the audit log."""
    from audit.services import access_record

    if not user.has_perm("venues.view_camera"):
        raise PermissionDenied("venues.view_camera")
    camera = cameras_for(user).select_related("venue").filter(pk=camera_id).first()
    if camera is None:
        raise Http404
    access_record(
        user=user,
        action="camera.live_view",
        object_type="camera",
        object_id=camera.pk,
        detail={"camera": camera.name, "venue": camera.venue.name},
    )
    return camera


async def camera_live(request: HttpRequest, camera_id: Any) -> HttpResponseBase:
    """``multipart/x-mixed-replace`` JPEG stream of the camera, for an ``<img>``."""
    user = await request.auser()
    if not user.is_authenticated:
        return HttpResponseRedirect(f"{reverse('login')}?next={request.path}")
    camera = await sync_to_async(_camera_for_live)(user, camera_id)
    response = StreamingHttpResponse(
        mjpeg_stream(str(camera.pk)), content_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}"
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Accel-Buffering"] = "no"  # a proxy in front must not buffer the stream
    return response


def _part(jpeg: bytes, captured_at: float) -> bytes:
    head = (
        f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n"
        f"X-Captured-At: {captured_at:.3f}\r\n\r\n"
    )
    return head.encode() + jpeg + b"\r\n"


async def mjpeg_stream(camera_id: str, *, max_s: float = MAX_STREAM_S) -> AsyncIterator[bytes]:
    """Frames of the camera as MJPEG parts, as the worker announces them, for up to ``max_s``."""
    client = aioredis.Redis.from_url(settings.REDIS_URL)
    pubsub = client.pubsub()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_s
    try:
        await pubsub.subscribe(live_channel(camera_id))
        next_want = 0.0
        while loop.time() < deadline:
            if loop.time() >= next_want:
                await client.set(live_want_key(camera_id), b"1", ex=WANT_TTL_S)
                next_want = loop.time() + WANT_REFRESH_S
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is None:
                continue
            part = await _newest_part(client, camera_id)
            if part is not None:
                yield part
    except redis.RedisError as exc:
        logger.warning("live video of camera %s ended: %s", camera_id, exc)
    finally:
        await pubsub.aclose()
        await client.aclose()


async def _newest_part(client: aioredis.Redis, camera_id: str) -> bytes | None:
    value = await client.get(live_frame_key(camera_id))
    if not isinstance(value, bytes):
        return None
    try:
        captured_at, jpeg = unpack_live_frame(value)
    except ValueError:
        logger.warning("live video of camera %s: malformed frame in Redis", camera_id)
        return None
    return _part(jpeg, captured_at)
