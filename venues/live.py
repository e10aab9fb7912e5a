"""Redis names and frame format of a camera's live video, shared by the stream worker and the web process.

A viewer keeps ``cc:live:want:<camera>`` alive with a short TTL; while it exists the camera's session
stores its newest frame as ``cc:live:frame:<camera>`` (capture time stamp, then the JPEG) and announces
it on the pub/sub channel ``cc:live:new:<camera>`` with a sequence number: pixels never go through pub/sub.
"""

from __future__ import annotations

LIVE_WANT_PREFIX = "cc:live:want:"
LIVE_FRAME_PREFIX = "cc:live:frame:"
LIVE_CHANNEL_PREFIX = "cc:live:new:"
LIVE_STAMP_BYTES = 18  # "%018.6f" seconds since the epoch


def live_want_key(camera_id: object) -> str:
    """The key viewers keep alive while they watch."""
    return f"{LIVE_WANT_PREFIX}{camera_id}"


def live_frame_key(camera_id: object) -> str:
    """The key holding the newest live frame."""
    return f"{LIVE_FRAME_PREFIX}{camera_id}"


def live_channel(camera_id: object) -> str:
    """The channel announcing a new live frame."""
    return f"{LIVE_CHANNEL_PREFIX}{camera_id}"


def pack_live_frame(jpeg: bytes, captured_at: float) -> bytes:
    """The stored value: fixed-width capture time, then the JPEG."""
    return f"{captured_at:018.6f}".encode() + jpeg


def unpack_live_frame(value: bytes) -> tuple[float, bytes]:
    """Split a stored live frame into (capture time, JPEG); raise ValueError on anything else."""
    if len(value) <= LIVE_STAMP_BYTES or not value[LIVE_STAMP_BYTES:].startswith(b"\xff\xd8"):
        raise ValueError("not a live frame")
    return float(value[:LIVE_STAMP_BYTES]), value[LIVE_STAMP_BYTES:]
