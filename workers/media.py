"""A camera session's pixels: capture, the clip ring, the dashboard preview and live video.

Frames stay in this process: capture decodes into a buffer of one (``FrameGrabber``), the clip ring
keeps the last seconds for evidence clips, the preview publishes a small JPEG every few seconds and
live video publishes only while someone watches (``core.live``).
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import redis

from workers.alerting import SNAPSHOT_WIDTH
from workers.camera_config import CameraSnapshot, SessionConfig
from workers.capture import Frame, FrameGrabber, SourceError, parse_source
from workers.clips import ClipRecorder, FrameRing
from workers.preview import LivePublisher, PersonMark, PreviewPublisher

logger = logging.getLogger(__name__)

Box = tuple[float, float, float, float]


class SessionMedia:
    """Starts, feeds and stops one camera's capture, clip recorder, preview and live video."""

    def __init__(self, camera_id: str, config: SessionConfig, client: redis.Redis) -> None:
        self.camera_id = camera_id
        self.config = config
        self.client = client
        self.grabber: FrameGrabber | None = None
        self.clips: ClipRecorder | None = None
        self.preview: PreviewPublisher | None = None
        self.live_video: LivePublisher | None = None
        self.source_error = ""

    def start(self, snap: CameraSnapshot, max_fps: float) -> None:
        """Start capture at up to ``max_fps``, the preview, live video and the clip ring."""
        self.start_capture(snap, max_fps)
        config = self.config
        self.preview = PreviewPublisher(
            self.client,
            self.camera_id,
            width=config.preview_width,
            interval_s=config.preview_interval_s,
            ttl_s=config.preview_ttl_s,
        )
        self.preview.start()
        self.live_video = LivePublisher(self.client, self.camera_id, self._live_frame)
        self.live_video.start()
        ring = FrameRing(
            max_seconds=config.clip_pre_s + config.clip_post_s + 2.0, fps=config.clip_fps, max_width=SNAPSHOT_WIDTH
        )
        self.clips = ClipRecorder(ring, pre_s=config.clip_pre_s, post_s=config.clip_post_s)
        self.clips.ring = ring  # ClipRecorder's `ring or FrameRing()` drops an empty (falsy) ring

    def start_capture(self, snap: CameraSnapshot, max_fps: float) -> None:
        """Open the camera's source; a source that cannot be parsed becomes the session's offline reason."""
        settings_ = replace(self.config.capture, loop=snap.loop_file, max_fps=max_fps)
        try:
            spec = parse_source(snap.stream_url, snap.rtsp_transport)
            self.source_error = ""
        except SourceError as exc:
            self.source_error = f"bad source: {exc}"
            spec = parse_source("file:///nonexistent/invalid-source.mp4")
        self.grabber = FrameGrabber(spec, settings_)
        self.grabber.start()

    def restart_capture(self, snap: CameraSnapshot, max_fps: float) -> None:
        """The camera's source changed: stop capture and open the new one."""
        logger.info("camera %s source changed; restarting capture", self.camera_id)
        if self.grabber is not None:
            self.grabber.stop(timeout=3.0)
        self.start_capture(snap, max_fps)

    def latest(self, after_seq: int, timeout: float) -> Frame | None:
        """The newest frame after ``after_seq`` for analysis (taken: capture may drop older ones)."""
        return self.grabber.latest(after_seq, timeout=timeout) if self.grabber is not None else None

    def record(self, frame: Frame) -> None:
        """Keep the frame in the clip ring (evidence pre-roll)."""
        if self.clips is not None:
            self.clips.add(frame.image, frame.captured_at)

    def offer(self, frame: Frame, boxes: list[Box], labels: list[str], people: tuple[PersonMark, ...] = ()) -> None:
        """Hand the analysed frame, its face boxes and tracked people to the preview and live video."""
        if self.preview is not None:
            self.preview.offer(frame.image, boxes, labels, people=people)
        if self.live_video is not None:
            self.live_video.offer_boxes(boxes, labels, frame.captured_at, people=people)

    def stop(self, clip_timeout: float) -> None:
        """Stop capture and publishing; give clips being written up to ``clip_timeout`` seconds."""
        if self.grabber is not None:
            self.grabber.stop(timeout=3.0)
        if self.preview is not None:
            self.preview.stop()
        if self.live_video is not None:
            self.live_video.stop()
        if self.clips is not None:
            self.clips.close(timeout=clip_timeout)

    def _live_frame(self, after_seq: int, timeout: float) -> tuple[int, np.ndarray, float] | None:
        """The newest decoded frame for live video, looked at without taking it from analysis."""
        frame = self.grabber.latest(after_seq, timeout, take=False) if self.grabber is not None else None
        return None if frame is None else (frame.seq, frame.image, frame.captured_at)
