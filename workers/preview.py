"""Camera pictures for the dashboard: the 1/s preview and, while someone watches, live video.

Preview: the latest analysed frame with boxes, as a small JPEG in Redis (about 1/s): faces (labelled
by match score, never by name) and tracked people (labelled by their track id, never by name).

The analysis loop only hands over references (``offer``); drawing, resizing and
JPEG encoding happen on this publisher's own thread at most once per interval, so
the preview never slows analysis. The key expires on its own when a session dies.

Live video: a viewer (the web process) keeps ``cc:live:want:<camera>`` alive with a short TTL;
while it exists the session's :class:`LivePublisher` stores each newly decoded frame (up to 10 fps,
with the latest analysis boxes) as ``cc:live:frame:<camera>`` and announces
it on ``cc:live:new:<camera>`` (the message is a number: pixels never go through pub/sub).
Nobody watching costs one EXISTS per half second. Never through Celery.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import redis

from core.live import pack_live_frame
from core.redis import live_channel, live_frame_key, live_want_key, preview_key
from workers.clips import Box, ImageBGR, draw_boxes

logger = logging.getLogger(__name__)


PersonMark = tuple[Box, int]  # a tracked person's box and track id
PERSON_COLOR = (90, 200, 60)  # BGR green: people; faces keep the amber of draw_boxes


@dataclass(frozen=True, slots=True)
class PreviewFrame:
    """What to draw: the frame (read-only), labelled face boxes and tracked people in its pixels."""

    image: ImageBGR
    boxes: tuple[Box, ...]
    labels: tuple[str, ...]
    people: tuple[PersonMark, ...] = ()


def render_preview(frame: PreviewFrame, width: int, quality: int = 70) -> bytes:
    """Downscale to ``width``, draw people (green, "#id") then faces over them, encode JPEG."""
    image = frame.image
    scale = min(1.0, width / image.shape[1])
    if scale < 1.0:
        size = (width, max(1, round(image.shape[0] * scale)))
        image = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    canvas = image
    if frame.people:
        people = [_scaled(box, scale) for box, _ in frame.people]
        canvas = draw_boxes(canvas, people, [f"#{track_id}" for _, track_id in frame.people], PERSON_COLOR)
    boxes = [_scaled(box, scale) for box in frame.boxes]
    canvas = draw_boxes(canvas, boxes, list(frame.labels)) if boxes else canvas
    ok, buffer = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("preview JPEG encoding failed")
    return bytes(buffer.tobytes())


def _scaled(box: Box, scale: float) -> Box:
    return (box[0] * scale, box[1] * scale, box[2] * scale, box[3] * scale)


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

    def offer(
        self, image: ImageBGR, boxes: Sequence[Box], labels: Sequence[str], people: Sequence[PersonMark] = ()
    ) -> None:
        """Keep a reference to the newest analysed frame (cheap; no copy, no encode)."""
        with self._lock:
            self._pending = PreviewFrame(image, tuple(boxes), tuple(labels), tuple(people))

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
        started = time.perf_counter()
        try:
            jpeg = render_preview(frame, self.width)
            self.client.set(self.key, jpeg, ex=self.ttl_s)
            self.published += 1
        except (redis.RedisError, ValueError, cv2.error) as exc:
            logger.warning("preview %s not published: %s", self.key, exc)
        self.encode_ms = (time.perf_counter() - started) * 1000.0


# --- live video: demand-driven, only while someone watches ------------------------------------------

FrameSource = Callable[[int, float], "tuple[int, ImageBGR, float] | None"]
Marks = tuple[tuple[Box, ...], tuple[str, ...], tuple[PersonMark, ...]]


class LivePublisher:
    """While a viewer's want key exists, publishes the newest captured frame with the latest analysis boxes.

    Frames come straight from the capture (``source(after_seq, timeout)`` looks at the newest decoded frame
    without taking it), so the picture stays fluid when analysis is slow; the boxes are those of the latest
    analysed frame (``offer_boxes``). Checking demand, drawing, resizing and JPEG encoding run on this
    thread: nobody watching costs one EXISTS every ``check_s``.
    """

    def __init__(
        self,
        client: redis.Redis,
        camera_id: object,
        source: FrameSource,
        *,
        width: int = 960,
        max_fps: float = 10.0,
        check_s: float = 0.5,
        ttl_s: int = 3,
        quality: int = 75,
        max_box_age_s: float = 1.0,
    ) -> None:
        self.client = client
        self.camera_id = camera_id
        self.source = source
        self.width = width
        self.period_s = 1.0 / max_fps
        self.check_s = check_s
        self.ttl_s = ttl_s
        self.quality = quality
        self.published = 0
        self.watched = False
        self.max_box_age_s = max_box_age_s
        self._boxes: Marks = ((), (), ())
        self._boxes_at = float("-inf")
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"live:{camera_id}", daemon=True)

    def start(self) -> None:
        """Start the publishing thread."""
        self._thread.start()

    def offer_boxes(
        self,
        boxes: Sequence[Box],
        labels: Sequence[str],
        captured_at: float,
        people: Sequence[PersonMark] = (),
    ) -> None:
        """The face boxes and tracked people of the latest analysed frame (captured at ``captured_at``), drawn on
        the frames that follow.

        They are drawn only on frames captured within ``max_box_age_s`` of it: when analysis lags, or the
        picture moved on (a looped file restarting), no box is better than a box on the wrong person.
        """
        with self._lock:
            self._boxes = (tuple(boxes), tuple(labels), tuple(people))
            self._boxes_at = captured_at

    def stop(self) -> None:
        """Stop the thread (the frame key expires by itself)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2.0)

    def _run(self) -> None:
        next_check, last_seq, last_new = 0.0, 0, time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_check:
                self.watched = self._wanted()
                next_check = now + self.check_s
            if not self.watched:
                self._stop.wait(self.check_s)
                continue
            found = self._safe_source(last_seq)
            if found is None:
                if now - last_new > 2.0:
                    last_seq = 0  # the capture restarted (a new source): its sequence starts again
                continue
            last_seq, image, captured_at = found
            last_new = now
            self._publish(image, captured_at, self.boxes_for(captured_at))
            self._stop.wait(max(0.0, self.period_s - (time.monotonic() - now)))

    def boxes_for(self, captured_at: float) -> Marks:
        """The latest analysis boxes (faces, their labels, people) if they belong to the moment ``captured_at``."""
        with self._lock:
            fresh = abs(captured_at - self._boxes_at) <= self.max_box_age_s
            return self._boxes if fresh else ((), (), ())

    def _safe_source(self, after_seq: int) -> tuple[int, ImageBGR, float] | None:
        try:
            return self.source(after_seq, self.check_s)
        except Exception:  # a capture being replaced must not end live video
            logger.debug("live video of %s: no frame source", self.camera_id, exc_info=True)
            self._stop.wait(self.check_s)
            return None

    def _wanted(self) -> bool:
        try:
            return bool(self.client.exists(live_want_key(self.camera_id)))
        except redis.RedisError as exc:
            logger.warning("live video of %s: demand unknown: %s", self.camera_id, exc)
            return False

    def _publish(self, image: ImageBGR, captured_at: float, boxes: Marks) -> None:
        try:
            jpeg = render_preview(PreviewFrame(image, *boxes), self.width, self.quality)
            pipe = self.client.pipeline(transaction=False)
            pipe.set(live_frame_key(self.camera_id), pack_live_frame(jpeg, captured_at), ex=self.ttl_s)
            pipe.publish(live_channel(self.camera_id), str(self.published + 1))
            pipe.execute()
            self.published += 1
        except (redis.RedisError, ValueError, cv2.error) as exc:
            logger.warning("live video of %s not published: %s", self.camera_id, exc)
