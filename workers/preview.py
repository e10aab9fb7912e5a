"""Live preview: the latest analysed frame with boxes, as a small JPEG in Redis (about 1/s).

The analysis loop only hands over references (``offer``); drawing, resizing and
JPEG encoding happen on this publisher's own thread at most once per interval, so
the preview never slows analysis. The key expires on its own when a session dies.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import redis

from core.redis import preview_key
from workers.clips import Box, ImageBGR, draw_boxes

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PreviewFrame:
    """What to draw: the frame (read-only) and labelled boxes in its pixels."""

    image: ImageBGR
    boxes: tuple[Box, ...]
    labels: tuple[str, ...]


def render_preview(frame: PreviewFrame, width: int, quality: int = 70) -> bytes:
    """Downscale to ``width``, draw boxes, encode JPEG."""
    image = frame.image
    scale = min(1.0, width / image.shape[1])
    if scale < 1.0:
        size = (width, max(1, round(image.shape[0] * scale)))
        image = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    boxes = [tuple(v * scale for v in box) for box in frame.boxes]
    canvas = draw_boxes(image, boxes, list(frame.labels)) if boxes else image  # type: ignore[arg-type]
    ok, buffer = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("preview JPEG encoding failed")
    return bytes(buffer.tobytes())


class PreviewPublisher:
    """Publishes the newest offered frame to Redis every ``interval_s`` on a daemon thread."""

    def __init__(
        self,
        client: redis.Redis,
        camera_id: object,
        *,
        width: int = 640,
        interval_s: float = 1.0,
        ttl_s: int = 15,
    ) -> None:
        self.client = client
        self.key = preview_key(camera_id)
        self.width = width
        self.interval_s = interval_s
        self.ttl_s = ttl_s
        self.published = 0
        self.encode_ms = 0.0
        self._pending: PreviewFrame | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"preview:{camera_id}", daemon=True)

    def start(self) -> None:
        """Start the publishing thread."""
        self._thread.start()

    def offer(self, image: ImageBGR, boxes: Sequence[Box], labels: Sequence[str]) -> None:
        """Keep a reference to the newest analysed frame (cheap; no copy, no encode)."""
        with self._lock:
            self._pending = PreviewFrame(image, tuple(boxes), tuple(labels))

    def stop(self) -> None:
        """Stop the thread (the Redis key expires by itself)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2.0)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            with self._lock:
                frame, self._pending = self._pending, None
            if frame is not None:
                self._publish(frame)

    def _publish(self, frame: PreviewFrame) -> None:
        import time

        started = time.perf_counter()
        try:
            jpeg = render_preview(frame, self.width)
            self.client.set(self.key, jpeg, ex=self.ttl_s)
            self.published += 1
        except (redis.RedisError, ValueError, cv2.error) as exc:
            logger.warning("preview %s not published: %s", self.key, exc)
        self.encode_ms = (time.perf_counter() - started) * 1000.0
