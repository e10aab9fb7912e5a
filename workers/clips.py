"""Evidence clips: a bounded ring of recent JPEG frames and a background clip writer.

The analysis loop calls ``ClipRecorder.add(image, at)`` (one JPEG encode when due);
``trigger`` snapshots the seconds before an event and keeps collecting until the
seconds after it, then a single writer thread encodes the video. Nothing here
blocks the analysis loop on disk or video encoding, and memory stays bounded.

Codec: this OpenCV wheel's FFmpeg has no H.264 encoder ('avc1' fails to open), so
the default is VP8 in WebM, which Chrome, Firefox, Edge and Safari play in a
``<video>`` tag. 'mp4v' (MPEG-4 Part 2 in .mp4) is 20x cheaper to encode but
browsers do not play it; keep it for download-only exports.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

ImageBGR = npt.NDArray[np.uint8]
Box = tuple[float, float, float, float]


class ClipFormat(Enum):
    """Container suffix and FourCC of a clip."""

    WEBM_VP8 = (".webm", "VP80")
    MP4_MP4V = (".mp4", "mp4v")

    @property
    def suffix(self) -> str:
        """File suffix including the dot."""
        return self.value[0]

    @property
    def fourcc(self) -> str:
        """The FourCC handed to cv2.VideoWriter."""
        return self.value[1]


@dataclass(frozen=True, slots=True)
class JpegFrame:
    """One stored frame: wall-clock time (epoch seconds) and JPEG bytes."""

    at: float
    jpeg: bytes
    width: int
    height: int


class FrameRing:
    """Recent frames as JPEG, bounded by age (seconds) and total bytes; rate-limited to ``fps``."""

    def __init__(
        self,
        *,
        max_seconds: float = 10.0,
        max_bytes: int = 32 * 1024 * 1024,
        fps: float = 10.0,
        quality: int = 80,
        max_width: int | None = 1280,
    ) -> None:
        self.max_seconds = max_seconds
        self.max_bytes = max_bytes
        self.fps = fps
        self.quality = quality
        self.max_width = max_width
        self._frames: deque[JpegFrame] = deque()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def bytes_used(self) -> int:
        """Total JPEG bytes held."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._frames)

    def due(self, at: float) -> bool:
        """True when a frame taken at ``at`` should be stored (rate limit)."""
        with self._lock:
            last = self._frames[-1].at if self._frames else None
        return last is None or at - last >= 1.0 / self.fps - 1e-3 or at < last

    def add(self, image: ImageBGR, at: float) -> JpegFrame | None:
        """Encode and store a frame when due; return it (None when skipped)."""
        if not self.due(at):
            return None
        frame = encode_jpeg(image, at, self.quality, self.max_width)
        self.append(frame)
        return frame

    def append(self, frame: JpegFrame) -> None:
        """Store an already encoded frame and evict what exceeds the bounds."""
        with self._lock:
            self._frames.append(frame)
            self._bytes += len(frame.jpeg)
            while self._frames and (self._bytes > self.max_bytes or frame.at - self._frames[0].at > self.max_seconds):
                self._bytes -= len(self._frames.popleft().jpeg)

    def window(self, start: float, end: float) -> list[JpegFrame]:
        """Frames with ``start <= at <= end``, oldest first."""
        with self._lock:
            return [f for f in self._frames if start <= f.at <= end]


def encode_jpeg(image: ImageBGR, at: float, quality: int = 80, max_width: int | None = None) -> JpegFrame:
    """Encode a BGR image (downscaled to ``max_width``) as a JpegFrame."""
    if max_width is not None and image.shape[1] > max_width:
        height = round(image.shape[0] * max_width / image.shape[1])
        image = np.asarray(cv2.resize(image, (max_width, height), interpolation=cv2.INTER_AREA))
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return JpegFrame(at=at, jpeg=buffer.tobytes(), width=image.shape[1], height=image.shape[0])


@dataclass(slots=True)
class ClipJob:
    """One requested clip; ``done`` is set when written (``error`` says why not)."""

    path: Path
    start: float
    end: float
    frames: list[JpegFrame] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    error: str = ""
    frames_written: int = 0

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the clip is written or failed; True when finished."""
        return self.done.wait(timeout)


class ClipRecorder:
    """Turns events into clips of ``pre_s`` + ``post_s`` seconds without blocking the caller."""

    def __init__(
        self,
        ring: FrameRing | None = None,
        *,
        pre_s: float = 4.0,
        post_s: float = 4.0,
        clip_format: ClipFormat = ClipFormat.WEBM_VP8,
        max_pending: int = 4,
    ) -> None:
        self.ring = ring if ring is not None else FrameRing()
        self.pre_s = pre_s
        self.post_s = post_s
        self.clip_format = clip_format
        self._collecting: list[ClipJob] = []
        self._queue: queue.Queue[ClipJob | None] = queue.Queue(maxsize=max_pending)
        self._thread = threading.Thread(target=self._write_loop, name="clip-writer", daemon=True)
        self._thread.start()

    def add(self, image: ImageBGR, at: float) -> None:
        """Offer a frame (wall-clock ``at``); store it when due and feed collecting clips."""
        frame = self.ring.add(image, at)
        if frame is not None:
            for job in self._collecting:
                if job.start <= frame.at <= job.end:
                    job.frames.append(frame)
        self.poll(at)

    def trigger(self, path: Path, at: float | None = None) -> ClipJob:
        """Start a clip around ``at`` (default now); its suffix is set by the clip format."""
        moment = time.time() if at is None else at
        job = ClipJob(
            path=path.with_suffix(self.clip_format.suffix),
            start=moment - self.pre_s,
            end=moment + self.post_s,
        )
        job.frames = self.ring.window(job.start, job.end)
        self._collecting.append(job)
        return job

    def poll(self, now: float) -> None:
        """Hand clips whose post-event window has passed to the writer."""
        ready = [job for job in self._collecting if now >= job.end]
        for job in ready:
            self._collecting.remove(job)
            self._submit(job)

    def close(self, timeout: float = 30.0) -> None:
        """Write what is being collected, then stop the writer thread."""
        for job in self._collecting:
            self._submit(job)
        self._collecting.clear()
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            logger.warning("clip writer busy; closing without waiting")
            return
        self._thread.join(timeout)

    def _submit(self, job: ClipJob) -> None:
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            job.error = "clip writer busy: too many pending clips"
            job.done.set()
            logger.warning("dropped clip %s: writer busy", job.path)

    def _write_loop(self) -> None:
        while (job := self._queue.get()) is not None:
            try:
                job.frames_written = write_clip(job.path, job.frames, job.start, job.end, self)
            except Exception as exc:  # evidence writing must not kill the writer
                logger.exception("clip %s failed", job.path)
                job.error = str(exc) or type(exc).__name__
            finally:
                job.done.set()

    @property
    def fps(self) -> float:
        """Output frame rate (the ring's storage rate)."""
        return self.ring.fps


def write_clip(path: Path, frames: Sequence[JpegFrame], start: float, end: float, recorder: ClipRecorder) -> int:
    """Write frames resampled to a constant rate up to ``end``; return the frame count."""
    if not frames:
        raise ValueError("no frames in the clip window")
    first = frames[0]
    size = (first.width, first.height)
    fps = recorder.fps
    temp = path.with_name(f".{path.name}.part{path.suffix}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fourcc = cv2.VideoWriter.fourcc(*recorder.clip_format.fourcc)
    writer = cv2.VideoWriter(str(temp), cv2.CAP_FFMPEG, fourcc, fps, size)
    if not writer.isOpened():
        raise RuntimeError(f"cannot open video writer for {recorder.clip_format.name}")
    try:
        written = _write_resampled(writer, frames, max(first.at, start), end, fps, size)
    finally:
        writer.release()
    os.replace(temp, path)
    logger.info("clip %s: %d frames at %.1f fps", path, written, fps)
    return written


def _write_resampled(
    writer: cv2.VideoWriter,
    frames: Sequence[JpegFrame],
    start: float,
    end: float,
    fps: float,
    size: tuple[int, int],
) -> int:
    count = max(1, round((min(end, frames[-1].at + 1.0 / fps) - start) * fps))
    index = 0
    decoded: ImageBGR | None = None
    for n in range(count):
        t = start + n / fps
        while index + 1 < len(frames) and frames[index + 1].at <= t + 1e-6:
            index += 1
            decoded = None
        if decoded is None:
            decoded = _decode(frames[index], size)
        writer.write(decoded)
    return count


def _decode(frame: JpegFrame, size: tuple[int, int]) -> ImageBGR:
    image = cv2.imdecode(np.frombuffer(frame.jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("corrupt JPEG in clip buffer")
    if (image.shape[1], image.shape[0]) != size:
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return np.asarray(image, dtype=np.uint8)


def draw_boxes(
    image: ImageBGR,
    boxes: Sequence[Box],
    labels: Sequence[str] | None = None,
    color: tuple[int, int, int] = (0, 200, 255),
) -> ImageBGR:
    """Return a copy of ``image`` with (x, y, w, h) boxes and optional labels drawn."""
    canvas = image.copy()
    thickness = max(1, round(min(image.shape[:2]) / 300))
    for i, box in enumerate(boxes):
        x, y, w, h = (round(v) for v in box)
        cv2.rectangle(canvas, (x, y), (x + w, y + h), color, thickness)
        if labels is not None and i < len(labels) and labels[i]:
            _draw_label(canvas, labels[i], x, y, color, thickness)
    return canvas


def _draw_label(canvas: ImageBGR, text: str, x: int, y: int, color: tuple[int, int, int], thickness: int) -> None:
    scale = 0.4 * thickness + 0.1
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    top = max(0, y - th - base - 2)
    cv2.rectangle(canvas, (x, top), (x + tw + 2, top + th + base + 2), color, cv2.FILLED)
    cv2.putText(
        canvas,
        text,
        (x + 1, top + th + 1),
        cv2.FONT_HERSHEY_SIMPLEX,
        scale,
        (0, 0, 0),
        1,
        cv2.LINE_AA,
    )
