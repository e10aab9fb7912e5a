"""A camera session's health: the figures its loop updates, their classification, and persisting them.

The analysis loop writes ``LiveFigures`` under the monitor's lock; the heartbeat thread publishes
``report()`` to Redis every beat; ``persist`` writes the state to the camera row when it changes (and
at most every ``health_persist_s`` otherwise) through ``venues.services.camera_report_health``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sized
from dataclasses import dataclass
from typing import Any

from venues.services import camera_report_health
from workers.camera_config import CameraSnapshot
from workers.capture import CaptureState, FrameGrabber
from workers.pipeline import FaceStage, IncidentStage

logger = logging.getLogger(__name__)

RECONNECT_GRACE_S = 3.0


class RateMeter:
    """Events per second over the last ``size`` events."""

    def __init__(self, size: int = 20) -> None:
        self._stamps: deque[float] = deque(maxlen=size)

    def tick(self, now: float) -> None:
        """Record one event."""
        self._stamps.append(now)

    def rate(self, now: float) -> float:
        """Events per second (0 when idle for longer than the window spans)."""
        if len(self._stamps) < 2 or now - self._stamps[-1] > 5.0:
            return 0.0
        span = self._stamps[-1] - self._stamps[0]
        return (len(self._stamps) - 1) / span if span > 0 else 0.0


@dataclass
class LiveFigures:
    """Figures the loop updates and the heartbeat publishes (guarded by the monitor's lock)."""

    state: str = "unknown"
    error: str = ""
    lag_s: float | None = None
    analysed_frames: int = 0
    alerts_raised: int = 0
    tracks: int = 0
    people: int | None = None  # counted (head counter + tracked people) or, without counting, tracked
    person_tracks: int | None = None  # people the person stage tracks now (None: no person stage)
    fight_score: float | None = None
    incidents_paused: bool = False  # venue closed and the camera detects incidents only when open
    camera_moving: bool = False  # the camera itself moves (pan, zoom, shake): fight score held at 0


@dataclass(frozen=True)
class SessionIdentity:
    """What health reports name: the camera, the session's lease token and the worker."""

    camera_id: str
    hostname: str
    token: Callable[[], str]


class HealthMonitor:
    """Classifies a session's state from capture and analysis figures, reports and persists it."""

    def __init__(self, identity: SessionIdentity, *, persist_every_s: float, stage_ms: Callable[[], dict[str, float]]):
        self.identity = identity
        self.lock = threading.Lock()
        self.live = LiveFigures()
        self.analysed = RateMeter()
        self.started = time.monotonic()
        self.last_frame_mono: float | None = None
        self.source_error = ""
        self._persist_every_s = persist_every_s
        self._stage_ms = stage_ms
        self._persisted_state = ""
        self._next_persist = 0.0

    def note_analysed(
        self,
        captured_at: float,
        face: FaceStage | None,
        incidents: IncidentStage | None,
        people: Sized | None = None,
    ) -> None:
        """One frame analysed: its lag, the face tracks, people tracked and counted, and the fight score."""
        with self.lock:
            live = self.live
            live.analysed_frames += 1
            live.lag_s = round(max(0.0, time.time() - captured_at), 3)
            live.tracks = len(face.tracker.tracks) if face is not None else 0
            live.person_tracks = None if people is None else len(people)
            if incidents is not None:
                live.people, live.fight_score = incidents.people, incidents.fight_score
                live.camera_moving = incidents.camera_moving
            if people is not None and (incidents is None or not incidents.counts_people):
                live.people = len(people)

    def count_alert(self) -> None:
        """One alert raised by this session."""
        with self.lock:
            self.live.alerts_raised += 1

    def note_error(self, error: str) -> None:
        """Keep the latest fault for the camera's health (any thread)."""
        with self.lock:
            self.live.error = error[:500]

    def report(self, grabber: FrameGrabber | None, snap: CameraSnapshot | None) -> dict[str, Any]:
        """The health figures published every heartbeat (JSON-ready)."""
        capture = grabber.stats() if grabber is not None else None
        now = time.monotonic()
        stages = self._stage_ms()
        if capture is not None:
            stages["decode"] = capture.decode_ms
        with self.lock:
            live = self.live
            return {
                "camera": self.identity.camera_id,
                "state": live.state,
                "last_error": live.error,
                "session": self.identity.token(),
                "worker": self.identity.hostname,
                "pid": os.getpid(),
                "input_fps": capture.input_fps if capture else 0.0,
                "analysed_fps": round(self.analysed.rate(now), 2),
                "target_fps": snap.analysis_fps if snap else None,
                "lag_s": live.lag_s,
                "drops": capture.frames_dropped if capture else 0,
                "frames_read": capture.frames_read if capture else 0,
                "frames_analysed": live.analysed_frames,
                "reconnects": capture.reconnects if capture else 0,
                "seconds_since_frame": capture.seconds_since_last_frame if capture else None,
                "width": capture.width if capture else 0,
                "height": capture.height if capture else 0,
                "stage_ms": stages,
                "tracks": live.tracks,
                "people": live.people,
                "person_tracks": live.person_tracks,
                "fight_score": None if live.fight_score is None else round(live.fight_score, 3),
                "incidents_paused": live.incidents_paused,
                "camera_moving": live.camera_moving,
                "alerts_raised": live.alerts_raised,
                "updated_at": time.time(),
            }

    def update_state(self, grabber: FrameGrabber, snap: CameraSnapshot, now: float) -> None:
        """Classify the session from capture and analysis figures; keep the reason."""
        capture = grabber.stats()
        state, error = self._classify(capture.state, capture.last_error, snap, now)
        with self.lock:
            self.live.state = state
            if error or state == "online":
                self.live.error = error

    def _classify(self, capture: CaptureState, capture_error: str, snap: CameraSnapshot, now: float) -> tuple[str, str]:
        if self.source_error:
            return "offline", self.source_error
        if capture in (CaptureState.OFFLINE, CaptureState.CONNECTING):
            return self._classify_gap(capture_error, snap, now)
        if capture is CaptureState.DEGRADED:
            return "degraded", "frames arriving late"
        lag = self.live.lag_s
        if lag is not None and lag > max(2.0, 3.0 / snap.analysis_fps):
            return "degraded", f"analysis lag {lag:.1f}s"
        rate = self.analysed.rate(now)
        if now - self.started > 10.0 and rate < 0.5 * snap.analysis_fps:
            return "degraded", f"analysing {rate:.1f} of {snap.analysis_fps:g} fps"
        return "online", ""

    def _classify_gap(self, capture_error: str, snap: CameraSnapshot, now: float) -> tuple[str, str]:
        """No frames right now: a short reconnect is degraded; longer, or never any frame, offline."""
        if self.last_frame_mono is not None and now - self.last_frame_mono < RECONNECT_GRACE_S:
            return "degraded", f"reconnecting: {capture_error}" if capture_error else "reconnecting"
        if capture_error:
            return "offline", capture_error
        if now - self.started > min(snap.offline_after_s, RECONNECT_GRACE_S * 2):
            return "offline", "no frames"
        return self.live.state, ""

    def persist(self, figures: Callable[[], dict[str, Any]], *, force: bool = False) -> None:
        """Write the state to the camera row when it changed, or every ``persist_every_s`` (or ``force``)."""
        state = self.live.state
        now = time.monotonic()
        if state == "unknown" or (not force and state == self._persisted_state and now < self._next_persist):
            return
        self._next_persist = now + self._persist_every_s
        self._persisted_state = state
        report = figures()
        camera_report_health(
            camera_id=self.identity.camera_id, state=state, stats=report, error=str(report["last_error"])
        )
