"""The frame format of a camera's live video, shared by the stream worker and the web process.

A viewer keeps ``live_want_key`` alive with a short TTL; while it exists the camera's session stores its
newest frame under ``live_frame_key`` (capture time stamp, then the JPEG) and announces it on
``live_channel`` with a sequence number: pixels never go through pub/sub. The keys are in ``core.redis``.
"""

from __future__ import annotations

LIVE_STAMP_BYTES = 18  # "%018.6f" seconds since the epoch


def pack_live_frame(jpeg: bytes, captured_at: float) -> bytes:
    """The stored value: fixed-width capture time, then the JPEG."""
    return f"{captured_at:018.6f}".encode() + jpeg


def unpack_live_frame(value: bytes) -> tuple[float, bytes]:
    """Split a stored live frame into (capture time, JPEG); raise ValueError on anything else."""
    if len(value) <= LIVE_STAMP_BYTES or not value[LIVE_STAMP_BYTES:].startswith(b"\xff\xd8"):
        raise ValueError("not a live frame")
    return float(value[:LIVE_STAMP_BYTES]), value[LIVE_STAMP_BYTES:]
