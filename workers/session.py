"""One camera's live session: lease, capture, analysis loop, alerts, health, preview.

``CameraSession.run`` holds the camera's Redis lease for as long as it runs; a heartbeat
thread renews it, publishes health to ``cc:health:<camera>`` and notices when the lease
was lost, the worker is draining (SIGTERM) or the parent worker died. The analysis loop
(this thread) takes the newest frame, runs the pipeline at ``camera.analysis_fps``,
raises alerts through ``alerts.services`` and persists health at most every few seconds.
It never raises into the caller for camera faults: they become health state and error.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import redis
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from core.redis import health_key, lease_key, redis_client
from venues.hours import is_open
from vision.tracking import EmbedPolicy
from workers import lease as leases
from workers.camera_config import CameraSnapshot, SessionConfig, load_camera, stream_detector_name
from workers.capture import CaptureState, Frame, FrameGrabber, SourceError, parse_source
from workers.clips import ClipJob, ClipRecorder, FrameRing, draw_boxes
from workers.pipeline import Cooldown, FaceMatch, FaceStage, IncidentSignal, IncidentStage, StageTimer
from workers.preview import LivePublisher, PreviewPublisher
from workers.scores import live_recorder

logger = logging.getLogger(__name__)

SETTINGS_POLL_S = 5.0
SNAPSHOT_WIDTH = 1280
RECONNECT_GRACE_S = 3.0


class StopReason(StrEnum):
    """Why a session ended."""

    NOT_ACQUIRED = "not_acquired"
    MISSING = "missing"
    DISABLED = "disabled"
    LEASE_LOST = "lease_lost"
    DRAINING = "draining"
    ORPHANED = "orphaned"
    TIME_BOX = "time_box"
    DURATION = "duration"
    STOPPED = "stopped"
    INTERRUPTED = "interrupted"


HANDOVER_REASONS = frozenset({StopReason.DRAINING, StopReason.ORPHANED, StopReason.TIME_BOX, StopReason.INTERRUPTED})


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
class _Live:
    """Figures the loop updates and the heartbeat publishes (guarded by a lock)."""

    state: str = "unknown"
    error: str = ""
    lag_s: float | None = None
    analysed_frames: int = 0
    alerts_raised: int = 0
    tracks: int = 0
    people: int | None = None
    fight_score: float | None = None
    incidents_paused: bool = False  # venue closed and the camera detects incidents only when open
    camera_moving: bool = False  # the camera itself moves (pan, zoom, shake): fight score held at 0


class CameraSession:
    """Runs one camera until disabled, lease lost, drained, time-boxed or stopped."""

    def __init__(
        self,
        camera_id: object,
        *,
        config: SessionConfig | None = None,
        hostname: str = "",
        client: redis.Redis | None = None,
        max_duration_s: float | None = None,
        handover: Callable[[str], None] | None = None,
        watch_parent: bool = False,
    ) -> None:
        self.camera_id = str(camera_id)
        self.config = config or SessionConfig.from_settings()
        self.hostname = hostname
        self.client = client or redis_client()
        self.max_duration_s = max_duration_s
        self.handover = handover
        self.lease = leases.Lease(self.client, lease_key(self.camera_id), self.config.lease_ttl_s)
        self._scores = live_recorder(self.client, self.camera_id)  # score history for the alert budget
        self.stop_event = threading.Event()
        self.timer = StageTimer()
        self.reason: StopReason | None = None
        self._parent = os.getppid() if watch_parent else None
        self._lock = threading.Lock()
        self._live = _Live()
        self._analysed = RateMeter()
        self._started = time.monotonic()
        self._last_frame_mono: float | None = None
        self._pending_clips: list[tuple[Any, ClipJob]] = []
        self._offline_alert: Any = None
        self._camera: Any = None
        self._snap: CameraSnapshot | None = None
        self._grabber: FrameGrabber | None = None
        self._clips: ClipRecorder | None = None
        self._preview: PreviewPublisher | None = None
        self._live_video: LivePublisher | None = None
        self._face: FaceStage | None = None
        self._incidents: IncidentStage | None = None
        self._cooldown = Cooldown(120.0)
        self._raised_tracks: set[str] = set()
        self._tmp = Path(tempfile.mkdtemp(prefix="cc-clips-"))
        self._last_seq = 0
        self._last_epoch = -1
        self._next_analysis = 0.0
        self._next_poll = 0.0
        self._next_persist = 0.0
        self._persisted_state = ""
        self._source_error = ""
        self._frame_at = 0.0
        self.alert_latency_s: deque[float] = deque(maxlen=200)

    # --- lifecycle --------------------------------------------------------------------------

    def stop(self, reason: StopReason = StopReason.STOPPED) -> None:
        """Ask the session to end (any thread)."""
        if self.reason is None:
            self.reason = reason
        self.stop_event.set()

    def run(self) -> StopReason:
        """Acquire the lease and analyse until told to stop; release and hand over on exit."""
        loaded = load_camera(self.camera_id)
        if loaded is None:
            leases.clear_start_claim(self.client, self.camera_id)
            return StopReason.MISSING
        self._camera, self._snap = loaded
        if not self._snap.enabled:
            leases.clear_start_claim(self.client, self.camera_id)
            return StopReason.DISABLED
        if not self.lease.acquire():
            logger.info("camera %s already has a session (%s)", self.camera_id, self.lease.holder())
            return StopReason.NOT_ACQUIRED
        leases.clear_start_claim(self.client, self.camera_id)
        leases.log_session_event(
            self.client, self.camera_id, "start", self.lease.token, host=self.hostname, pid=os.getpid()
        )
        logger.info("camera %s session %s started", self.camera_id, self.lease.token)
        heartbeat = threading.Thread(target=self._heartbeat_loop, name=f"heartbeat:{self.camera_id}", daemon=True)
        try:
            heartbeat.start()  # before the models load: a slow start must not let the lease lapse
            self._start_parts()
            self._loop()
        except BaseException:  # SIGTERM to the child, soft time limit: hand over, then re-raise
            if self.reason is None:
                self.reason = StopReason.INTERRUPTED
            raise
        finally:
            self.stop_event.set()
            self._shutdown(heartbeat)
        return self.reason or StopReason.STOPPED

    def _start_parts(self) -> None:
        assert self._snap is not None
        self._offline_alert = self._find_open_offline_alert()
        self._configure(self._snap)
        self._start_capture(self._snap)
        self._preview = PreviewPublisher(
            self.client,
            self.camera_id,
            width=self.config.preview_width,
            interval_s=self.config.preview_interval_s,
            ttl_s=self.config.preview_ttl_s,
        )
        self._preview.start()
        self._live_video = LivePublisher(self.client, self.camera_id, self._live_frame)
        self._live_video.start()
        ring = FrameRing(
            max_seconds=self.config.clip_pre_s + self.config.clip_post_s + 2.0,
            fps=self.config.clip_fps,
            max_width=SNAPSHOT_WIDTH,
        )
        self._clips = ClipRecorder(ring, pre_s=self.config.clip_pre_s, post_s=self.config.clip_post_s)
        self._clips.ring = ring  # ClipRecorder's `ring or FrameRing()` drops an empty (falsy) ring

    def _live_frame(self, after_seq: int, timeout: float) -> tuple[int, np.ndarray, float] | None:
        """The newest decoded frame for live video, looked at without taking it from analysis."""
        frame = self._grabber.latest(after_seq, timeout, take=False) if self._grabber is not None else None
        return None if frame is None else (frame.seq, frame.image, frame.captured_at)

    def _shutdown(self, heartbeat: threading.Thread) -> None:
        reason = self.reason or StopReason.STOPPED
        if heartbeat.is_alive():
            heartbeat.join(self.config.heartbeat_s + 2.0)
        if self._grabber is not None:
            self._grabber.stop(timeout=3.0)
        if self._preview is not None:
            self._preview.stop()
        if self._live_video is not None:
            self._live_video.stop()
        self._finish_clips(timeout=3.0 if reason not in HANDOVER_REASONS else 1.5)
        self._safe(self._scores.close)
        self._persist_health(force=True)
        leases.log_session_event(self.client, self.camera_id, "stop", self.lease.token, reason=reason.value)
        released = reason is not StopReason.LEASE_LOST and self._safe(self.lease.release)
        logger.info(
            "camera %s session %s stopped: %s (released=%s)", self.camera_id, self.lease.token, reason.value, released
        )
        shutil.rmtree(self._tmp, ignore_errors=True)
        if reason in HANDOVER_REASONS and self.handover is not None:
            self._safe(partial(self.handover, self.camera_id))

    # --- heartbeat thread -------------------------------------------------------------------

    def _heartbeat_loop(self) -> None:
        tick = min(0.5, self.config.heartbeat_s / 2)
        next_renew = time.monotonic() + self.config.heartbeat_s
        self._publish_health()
        while not self.stop_event.wait(tick):
            if self._watch_signals():
                return
            if time.monotonic() >= next_renew:
                next_renew = time.monotonic() + self.config.heartbeat_s
                if not self._renew():
                    return
                self._publish_health()

    def _watch_signals(self) -> bool:
        if self._parent is not None and os.getppid() != self._parent:
            logger.warning("camera %s: parent worker died; stopping", self.camera_id)
            self.stop(StopReason.ORPHANED)
            return True
        if self.hostname and self._safe(partial(leases.is_draining, self.client, self.hostname)):
            logger.info("camera %s: worker %s is draining; handing over", self.camera_id, self.hostname)
            self.stop(StopReason.DRAINING)
            return True
        return False

    def _renew(self) -> bool:
        try:
            if self.lease.renew():
                return True
            logger.warning("camera %s: lease lost (held by %s)", self.camera_id, self.lease.holder())
            self.stop(StopReason.LEASE_LOST)
            return False
        except redis.RedisError as exc:
            logger.warning("camera %s: lease renew failed: %s", self.camera_id, exc)
            if not self.lease.held:
                self.stop(StopReason.LEASE_LOST)
                return False
            return True

    def _publish_health(self) -> None:
        try:
            ttl = max(2, round(self.config.lease_ttl_s * 2))
            self.client.set(health_key(self.camera_id), json.dumps(self.health()), ex=ttl)
        except redis.RedisError as exc:
            logger.warning("camera %s: health not published: %s", self.camera_id, exc)

    # --- analysis loop ----------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._should_stop():
            self._wait_until_due()
            assert self._grabber is not None
            frame = self._grabber.latest(self._last_seq, timeout=0.25)
            if frame is not None:
                self._handle_frame(frame)
            self._periodic(time.monotonic())

    def _should_stop(self) -> bool:
        now = time.monotonic()
        if self.stop_event.is_set():
            return True
        if not self.lease.held:
            self.stop(StopReason.LEASE_LOST)
        elif now - self._started >= self.config.session_max_s:
            self.stop(StopReason.TIME_BOX)
        elif self.max_duration_s is not None and now - self._started >= self.max_duration_s:
            self.stop(StopReason.DURATION)
        return self.stop_event.is_set()

    def _loop_rate(self) -> float:
        assert self._snap is not None
        fight = self._incidents.fight_fps if self._incidents is not None else 0.0
        return max(self._snap.analysis_fps, self.config.clip_fps, fight)

    def _wait_until_due(self) -> None:
        delay = 1.0 / self._loop_rate() - 0.005
        if self._last_frame_mono is not None:
            remaining = self._last_frame_mono + delay - time.monotonic()
            if remaining > 0:
                self.stop_event.wait(min(remaining, 0.5))

    def _handle_frame(self, frame: Frame) -> None:
        self._last_seq = frame.seq
        self._last_frame_mono = time.monotonic()
        if frame.epoch != self._last_epoch:
            self._last_epoch = frame.epoch
            if self._face is not None:
                self._face.reset()
        assert self._clips is not None
        self._clips.add(frame.image, frame.captured_at)
        try:
            self._analyse(frame)
        except DatabaseError as exc:
            self._note_error(f"database error: {exc}")
            _db_hygiene()
        except Exception as exc:  # one bad frame or stage must not end the camera
            logger.exception("camera %s: analysis failed", self.camera_id)
            self._note_error(f"analysis error: {exc}")

    def _analyse(self, frame: Frame) -> None:
        self._frame_at = frame.captured_at
        signals: list[IncidentSignal] = []
        if self._incidents is not None and self._incidents_scheduled():
            signals = self._incidents.process(frame.image, frame.monotonic)
        for signal in signals:
            self._raise_incident(signal, frame)
        if frame.monotonic + 1e-3 < self._next_analysis:
            return
        assert self._snap is not None
        period = 1.0 / self._snap.analysis_fps
        self._next_analysis = max(self._next_analysis + period, frame.monotonic + period * 0.5)
        self._analysed.tick(time.monotonic())
        boxes: list[tuple[float, float, float, float]] = []
        labels: list[str] = []
        if self._face is not None:
            result = self._face.process(frame.image, frame.monotonic, frame.captured_at, frame.seq)
            for match in result.matches:
                self._on_match(match)
            boxes = [face.box for face in result.faces]
            labels = [face.label for face in result.faces]
        with self._lock:
            self._live.analysed_frames += 1
            self._live.lag_s = round(max(0.0, time.time() - frame.captured_at), 3)
            self._live.tracks = len(self._face.tracker.tracks) if self._face is not None else 0
            if self._incidents is not None:
                self._live.people, self._live.fight_score = self._incidents.people, self._incidents.fight_score
                self._live.camera_moving = self._incidents.camera_moving
        if self._preview is not None:
            self._preview.offer(frame.image, boxes, labels)
        if self._live_video is not None:
            self._live_video.offer_boxes(boxes, labels, frame.captured_at)

    def _incidents_scheduled(self) -> bool:
        """Incident detection runs always, or only while the venue is open (camera setting)."""
        snap = self._snap
        if snap is None or not snap.only_when_open:
            return True
        scheduled = is_open(snap.open_windows, timezone.localtime())
        with self._lock:
            self._live.incidents_paused = not scheduled
        return scheduled

    # --- alerts -----------------------------------------------------------------------------

    def _on_match(self, match: FaceMatch) -> None:
        from alerts.services import alert_raise
        from watchlists.models import FaceTemplate, Subject

        candidate = match.candidate
        track_key = f"{candidate.subject_id}:{match.track_id}"
        if match.first:
            if not self._cooldown.allow(candidate.subject_id, time.monotonic()):
                logger.info("camera %s: %s in cooldown", self.camera_id, track_key)
                return
            self._raised_tracks.add(track_key)
            evidence = self._face_evidence(match)
        elif track_key in self._raised_tracks:
            evidence = []
        else:
            return
        category = getattr(candidate, "watchlist_category", "")
        result = alert_raise(
            kind="face_match",
            camera=self._camera,
            severity=3 if category == "wanted" else 2,
            score=min(1.0, max(0.0, float(candidate.similarity))),
            subject=Subject.objects.get(pk=candidate.subject_id),
            template=FaceTemplate.objects.filter(pk=candidate.template_id).first(),
            track_key=track_key,
            evidence=evidence,
            probe_embedding=match.embedding.tolist(),
            seen_at=datetime.fromtimestamp(match.sample.at, tz=UTC),
            details={
                "similarity": round(float(candidate.similarity), 4),
                "threshold": candidate.threshold,
                "watchlist": candidate.watchlist_name,
                "track": match.track_id,
                "quality": round(match.quality, 3),
                "model_name": getattr(candidate, "model_name", "") or self._face_model_name(),
            },
        )
        self._after_raise(result, match.sample.at)

    def _raise_incident(self, signal: IncidentSignal, frame: Frame) -> None:
        from alerts.services import EvidenceFile, alert_raise

        zone = self._camera.zones.filter(pk=signal.zone_id).first() if signal.zone_id else None
        snapshot = EvidenceFile("snapshot", _jpeg(frame.image), "image/jpeg", f"{signal.kind}-snapshot.jpg")
        series = json.dumps(signal.series_json(), separators=(",", ":")).encode()
        evidence = [snapshot, EvidenceFile("series", series, "application/json", f"{signal.kind}-series.json")]
        result = alert_raise(
            kind=signal.kind,
            camera=self._camera,
            severity=signal.severity,
            score=signal.score,
            zone=zone,
            track_key=signal.track_key,
            details=signal.details,
            evidence=evidence,
            seen_at=datetime.fromtimestamp(frame.captured_at, tz=UTC),
        )
        self._after_raise(result, frame.captured_at)

    def _after_raise(self, result: Any, at: float) -> None:
        if not result.created:
            return
        self.alert_latency_s.append(time.time() - self._frame_at)  # frame captured -> alert committed
        with self._lock:
            self._live.alerts_raised += 1
        assert self._clips is not None
        job = self._clips.trigger(self._tmp / f"clip-{result.alert.pk}", at=at)
        self._pending_clips.append((result.alert, job))
        logger.info("camera %s raised %s alert %s", self.camera_id, result.alert.kind, result.alert.pk)

    def _face_evidence(self, match: FaceMatch) -> list[Any]:
        from alerts.services import EvidenceFile
        from vision.faces.enrol import crop_face

        face, image = match.sample.face, match.sample.image
        crop = _jpeg(np.ascontiguousarray(crop_face(image, face)), max_width=None)
        box = (float(face.x), float(face.y), float(face.w), float(face.h))
        snapshot = _jpeg(draw_boxes(image, [box], [f"{match.candidate.similarity:.2f}"]))
        return [
            EvidenceFile("face_crop", crop, "image/jpeg", "face.jpg"),
            EvidenceFile("snapshot", snapshot, "image/jpeg", "snapshot.jpg"),
        ]

    def _attach_clips(self) -> None:
        from alerts.services import EvidenceFile, evidence_attach

        for alert, job in [item for item in self._pending_clips if item[1].done.is_set()]:
            self._pending_clips.remove((alert, job))
            if job.error or not job.path.exists():
                logger.warning("camera %s: clip for %s not written: %s", self.camera_id, alert.pk, job.error)
                continue
            data = job.path.read_bytes()
            job.path.unlink(missing_ok=True)
            evidence_attach(alert=alert, files=[EvidenceFile("clip", data, "video/webm", f"clip-{alert.pk}.webm")])

    def _finish_clips(self, timeout: float) -> None:
        if self._clips is None:
            return
        self._clips.close(timeout=timeout)
        deadline = time.monotonic() + timeout
        for _, job in self._pending_clips:
            job.wait(max(0.0, deadline - time.monotonic()))
        self._safe(self._attach_clips)

    # --- health -----------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """The health figures published every heartbeat (JSON-ready)."""
        capture = self._grabber.stats() if self._grabber is not None else None
        now = time.monotonic()
        stages = self.timer.snapshot()
        if capture is not None:
            stages["decode"] = capture.decode_ms
        with self._lock:
            live = self._live
            return {
                "camera": self.camera_id,
                "state": live.state,
                "last_error": live.error,
                "session": self.lease.token,
                "worker": self.hostname,
                "pid": os.getpid(),
                "input_fps": capture.input_fps if capture else 0.0,
                "analysed_fps": round(self._analysed.rate(now), 2),
                "target_fps": self._snap.analysis_fps if self._snap else None,
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
                "fight_score": None if live.fight_score is None else round(live.fight_score, 3),
                "incidents_paused": live.incidents_paused,
                "camera_moving": live.camera_moving,
                "alerts_raised": live.alerts_raised,
                "updated_at": time.time(),
            }

    def _periodic(self, now: float) -> None:
        if self._clips is not None:
            self._clips.poll(time.time())
        try:
            self._attach_clips()
            if now >= self._next_poll:
                self._next_poll = now + SETTINGS_POLL_S
                _db_hygiene()
                self._reload_settings()
            self._update_state(now)
            self._check_offline(now)
            self._persist_health()
        except DatabaseError as exc:
            self._note_error(f"database error: {exc}")
            _db_hygiene()

    def _update_state(self, now: float) -> None:
        assert self._grabber is not None
        assert self._snap is not None
        capture = self._grabber.stats()
        state, error = self._classify(capture.state, capture.last_error, now)
        with self._lock:
            self._live.state = state
            if error or state == "online":
                self._live.error = error

    def _classify(self, capture: CaptureState, capture_error: str, now: float) -> tuple[str, str]:
        assert self._snap is not None
        if self._source_error:
            return "offline", self._source_error
        if capture in (CaptureState.OFFLINE, CaptureState.CONNECTING):
            return self._classify_gap(capture_error, now)
        if capture is CaptureState.DEGRADED:
            return "degraded", "frames arriving late"
        lag = self._live.lag_s
        if lag is not None and lag > max(2.0, 3.0 / self._snap.analysis_fps):
            return "degraded", f"analysis lag {lag:.1f}s"
        rate = self._analysed.rate(now)
        if now - self._started > 10.0 and rate < 0.5 * self._snap.analysis_fps:
            return "degraded", f"analysing {rate:.1f} of {self._snap.analysis_fps:g} fps"
        return "online", ""

    def _classify_gap(self, capture_error: str, now: float) -> tuple[str, str]:
        """No frames right now: a short reconnect is degraded; longer, or never any frame, offline."""
        assert self._snap is not None
        if self._last_frame_mono is not None and now - self._last_frame_mono < RECONNECT_GRACE_S:
            return "degraded", f"reconnecting: {capture_error}" if capture_error else "reconnecting"
        if capture_error:
            return "offline", capture_error
        if now - self._started > min(self._snap.offline_after_s, RECONNECT_GRACE_S * 2):
            return "offline", "no frames"
        return self._live.state, ""

    def _persist_health(self, force: bool = False) -> None:
        from venues.services import camera_report_health

        state = self._live.state
        now = time.monotonic()
        if state == "unknown" or (not force and state == self._persisted_state and now < self._next_persist):
            return
        self._next_persist = now + self.config.health_persist_s
        self._persisted_state = state
        figures = self.health()
        self._safe(
            partial(
                camera_report_health,
                camera_id=self.camera_id,
                state=state,
                stats=figures,
                error=str(figures["last_error"]),
            )
        )

    def _check_offline(self, now: float) -> None:
        assert self._snap is not None
        last = self._last_frame_mono if self._last_frame_mono is not None else self._started
        fresh = self._last_frame_mono is not None and now - self._last_frame_mono < 2.0
        if self._offline_alert is not None and fresh and self._live.state != "offline":
            self._resolve_offline()
        elif self._offline_alert is None and now - last >= self._snap.offline_after_s:
            self._raise_offline(now - last)

    def _raise_offline(self, silence: float) -> None:
        from alerts.services import alert_raise

        result = alert_raise(
            kind="camera_offline",
            camera=self._camera,
            severity=2,
            score=1.0,
            track_key="offline",
            details={"error": self._live.error, "silent_s": round(silence, 1)},
        )
        self._offline_alert = result.alert
        logger.warning("camera %s offline for %.0fs: %s", self.camera_id, silence, self._live.error)

    def _resolve_offline(self) -> None:
        from alerts.services import alert_system_resolve

        alert_system_resolve(alert=self._offline_alert, outcome="camera_restored", note="frames flowing again")
        logger.info("camera %s back online; offline alert %s resolved", self.camera_id, self._offline_alert.pk)
        self._offline_alert = None

    def _find_open_offline_alert(self) -> Any:
        from alerts.models import Alert

        return Alert.objects.open().filter(camera_id=self.camera_id, kind="camera_offline", track_key="offline").first()

    # --- settings ---------------------------------------------------------------------------

    def _reload_settings(self) -> None:
        loaded = load_camera(self.camera_id)
        if loaded is None or not loaded[1].enabled:
            logger.info("camera %s disabled or deleted; stopping", self.camera_id)
            self.stop(StopReason.DISABLED)
            return
        camera, snap = loaded
        previous, self._camera, self._snap = self._snap, camera, snap
        if previous is not None and previous.source_key != snap.source_key:
            self._restart_capture(snap)
        if previous != snap or self._face_model_changed():
            self._configure(snap)

    def _face_model_name(self) -> str:
        """The stored model name of the probe embeddings (a reviewer's "not this person" is kept under it)."""
        return self._face.embedder.model_name if self._face is not None else ""

    def _face_model_changed(self) -> bool:
        from watchlists.matching import active_face_model

        return self._face is not None and self._face.model != active_face_model()

    def _configure(self, snap: CameraSnapshot) -> None:
        from vision.faces.detectors import build_detector
        from vision.faces.embedders import build_embedder
        from watchlists.matching import active_face_model, match_faces

        self._cooldown.seconds = snap.cooldown_s
        detector_name = stream_detector_name(snap.face_detector) if snap.face_detector else self.config.face_detector
        face_model = active_face_model()
        if self._face is not None and (
            getattr(self, "_detector_name", detector_name) != detector_name or self._face.model != face_model
        ):
            self._face = None  # the camera's detector or the face model was changed: rebuild the face stage
        self._detector_name = detector_name
        if snap.face and self._face is None:
            embedder = build_embedder(face_model)
            matcher = partial(match_faces, model_name=embedder.model_name)
            self._face = FaceStage(
                build_detector(detector_name),
                embedder,
                matcher,
                timer=self.timer,
                detect_max_side=self.config.detect_max_side,
                analysis_fps=snap.analysis_fps,
                policy=EmbedPolicy(min_quality=self.config.embed_min_quality),
                model=face_model,
            )
        elif not snap.face:
            self._face = None
        self._incidents = None
        if snap.crowd or snap.fight:
            self._incidents = IncidentStage(
                timer=self.timer,
                crowd=snap.crowd and bool(snap.zones),
                fight=snap.fight,
                zones=snap.zones,
                min_duration_s=snap.min_duration_s,
                cooldown_s=snap.cooldown_s,
                sensitivity=snap.sensitivity,
                people_interval_s=self.config.people_interval_s,
                counting_view=snap.counting_view,
                calibrated=snap.calibrated,
            )
        self._scores.attach(self._incidents)

    def _start_capture(self, snap: CameraSnapshot) -> None:
        settings_ = replace(self.config.capture, loop=snap.loop_file, max_fps=self._loop_rate() + 1.0)
        try:
            spec = parse_source(snap.stream_url, snap.rtsp_transport)
            self._source_error = ""
        except SourceError as exc:
            self._source_error = f"bad source: {exc}"
            spec = parse_source("file:///nonexistent/invalid-source.mp4")
        self._grabber = FrameGrabber(spec, settings_)
        self._grabber.start()

    def _restart_capture(self, snap: CameraSnapshot) -> None:
        logger.info("camera %s source changed; restarting capture", self.camera_id)
        if self._grabber is not None:
            self._grabber.stop(timeout=3.0)
        self._start_capture(snap)

    # --- helpers ----------------------------------------------------------------------------

    def _note_error(self, error: str) -> None:
        with self._lock:
            self._live.error = error[:500]

    def _safe(self, action: Callable[[], Any]) -> Any:
        """Run a side effect that must not break shutdown or the heartbeat."""
        try:
            return action()
        except (redis.RedisError, DatabaseError, OSError) as exc:
            logger.warning("camera %s: %s failed: %s", self.camera_id, getattr(action, "func", action), exc)
            return None


def _db_hygiene() -> None:
    """Drop a broken or expired DB connection (a session lives for hours); never inside a transaction."""
    if not connection.in_atomic_block:
        close_old_connections()


def _jpeg(image: np.ndarray, quality: int = 85, max_width: int | None = SNAPSHOT_WIDTH) -> bytes:
    """Encode evidence as JPEG (downscaled to ``max_width``)."""
    if max_width is not None and image.shape[1] > max_width:
        height = round(image.shape[0] * max_width / image.shape[1])
        image = cv2.resize(image, (max_width, height), interpolation=cv2.INTER_AREA)
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(buffer.tobytes())
