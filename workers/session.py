"""One camera's live session: lease, capture, analysis loop, alerts, health, preview.

``CameraSession.run`` holds the camera's Redis lease for as long as it runs; a heartbeat
thread renews it, publishes health to ``cc:health:<camera>`` and notices when the lease
was lost, the worker is draining (SIGTERM) or the parent worker died. The analysis loop
(this thread) takes the newest frame, runs the pipeline at ``camera.analysis_fps``,
raises alerts through ``alerts.services`` and persists health at most every few seconds.
It never raises into the caller for camera faults: they become health state and error.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any

import redis
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from core.redis import lease_key, redis_client
from venues.hours import is_open
from workers import lease as leases
from workers.alerting import SessionAlerts
from workers.camera_config import CameraSnapshot, SessionConfig, load_camera
from workers.capture import Frame
from workers.deployment import DeploymentGate
from workers.health import HealthMonitor, SessionIdentity
from workers.heartbeat import Heartbeat, HeartbeatSettings
from workers.media import SessionMedia
from workers.pipeline import StageTimer, people_now
from workers.scores import live_recorder
from workers.stages import CameraStages

logger = logging.getLogger(__name__)

SETTINGS_POLL_S = 5.0


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


class CameraSession:
    """Runs one camera until disabled, lease lost, drained, time-boxed or stopped.

    It orchestrates: the heartbeat thread (``workers.heartbeat``), capture, the analysis loop over
    the pipeline's stages, health (``workers.health``) and alerts (``workers.alerting``).
    """

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
        self._monitor = HealthMonitor(
            SessionIdentity(self.camera_id, hostname, lambda: self.lease.token),
            persist_every_s=self.config.health_persist_s,
            stage_ms=self.timer.snapshot,
        )
        self._camera: Any = None
        self._snap: CameraSnapshot | None = None
        self._media = SessionMedia(self.camera_id, self.config, self.client)
        self._gate = DeploymentGate()  # face matching only inside the camera's live deployment
        self._stages = CameraStages(self.config, self.timer, self._gate)
        self._tmp = Path(tempfile.mkdtemp(prefix="cc-clips-"))
        self._alerts = SessionAlerts(
            self.camera_id,
            camera=lambda: self._camera,
            clips=lambda: self._media.clips,
            tmp=self._tmp,
            face_model_name=lambda: self._stages.face_model_name,
            raised=self._monitor.count_alert,
            face_alert_created=lambda alert: self._gate.alert_raised(alert, self._stages.face_model_name),
        )
        self._last_seq = 0
        self._last_epoch = -1
        self._next_analysis = 0.0
        self._next_poll = 0.0

    @property
    def alert_latency_s(self) -> deque[float]:
        """Seconds from frame capture to alert commit, for the last 200 alerts."""
        return self._alerts.latency_s

    # --- lifecycle --------------------------------------------------------------------------

    def stop(self, reason: StopReason | str = StopReason.STOPPED) -> None:
        """Ask the session to end (any thread)."""
        if self.reason is None:
            self.reason = StopReason(reason)
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
        beat = Heartbeat(
            camera_id=self.camera_id,
            client=self.client,
            lease=self.lease,
            settings=HeartbeatSettings(self.config.heartbeat_s, self.config.lease_ttl_s),
            hostname=self.hostname,
            parent_pid=self._parent,
            stop_event=self.stop_event,
            stop=self.stop,
            health=self.health,
        )
        heartbeat = threading.Thread(target=beat.run, name=f"heartbeat:{self.camera_id}", daemon=True)
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
        self._alerts.find_open_offline()
        self._configure(self._snap)
        self._media.start(self._snap, max_fps=self._loop_rate() + 1.0)
        self._monitor.source_error = self._media.source_error

    def _shutdown(self, heartbeat: threading.Thread) -> None:
        reason = self.reason or StopReason.STOPPED
        if heartbeat.is_alive():
            heartbeat.join(self.config.heartbeat_s + 2.0)
        clip_timeout = 3.0 if reason not in HANDOVER_REASONS else 1.5
        self._media.stop(clip_timeout)
        self._alerts.wait_for_clips(clip_timeout)
        self._safe(self._alerts.attach_clips)
        self._safe(self._scores.close)
        self._safe(partial(self._gate.flush, self._stages.face_model_name))
        self._persist_health(force=True)
        leases.log_session_event(self.client, self.camera_id, "stop", self.lease.token, reason=reason.value)
        released = reason is not StopReason.LEASE_LOST and self._safe(self.lease.release)
        logger.info(
            "camera %s session %s stopped: %s (released=%s)", self.camera_id, self.lease.token, reason.value, released
        )
        shutil.rmtree(self._tmp, ignore_errors=True)
        if reason in HANDOVER_REASONS and self.handover is not None:
            self._safe(partial(self.handover, self.camera_id))

    # --- analysis loop ----------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._should_stop():
            self._wait_until_due()
            frame = self._media.latest(self._last_seq, timeout=0.25)
            if frame is not None:
                self._handle_frame(frame)
            self._periodic(time.monotonic())

    def _should_stop(self) -> bool:
        now = time.monotonic()
        if self.stop_event.is_set():
            return True
        if not self.lease.held:
            self.stop(StopReason.LEASE_LOST)
        elif now - self._monitor.started >= self.config.session_max_s:
            self.stop(StopReason.TIME_BOX)
        elif self.max_duration_s is not None and now - self._monitor.started >= self.max_duration_s:
            self.stop(StopReason.DURATION)
        return self.stop_event.is_set()

    def _loop_rate(self) -> float:
        assert self._snap is not None
        fight = self._stages.incidents.fight_fps if self._stages.incidents is not None else 0.0
        people = self._stages.people.settings.fps if self._stages.people is not None else 0.0
        return max(self._snap.analysis_fps, self.config.clip_fps, fight, people)

    def _wait_until_due(self) -> None:
        delay = 1.0 / self._loop_rate() - 0.005
        last = self._monitor.last_frame_mono
        if last is not None:
            remaining = last + delay - time.monotonic()
            if remaining > 0:
                self.stop_event.wait(min(remaining, 0.5))

    def _handle_frame(self, frame: Frame) -> None:
        self._last_seq = frame.seq
        self._monitor.last_frame_mono = time.monotonic()
        if frame.epoch != self._last_epoch:
            self._last_epoch = frame.epoch
            if self._stages.face is not None:
                self._stages.face.reset()
            if self._stages.people is not None:
                self._stages.people.reset()
        self._media.record(frame)
        try:
            self._analyse(frame)
        except DatabaseError as exc:
            self._monitor.note_error(f"database error: {exc}")
            _db_hygiene()
        except Exception as exc:  # one bad frame or stage must not end the camera
            logger.exception("camera %s: analysis failed", self.camera_id)
            self._monitor.note_error(f"analysis error: {exc}")

    def _analyse(self, frame: Frame) -> None:
        people = people_now(self._stages.people, frame.image, frame.monotonic, self.timer)
        if self._stages.incidents is not None and self._incidents_scheduled():
            for signal in self._stages.incidents.process(frame.image, frame.monotonic, people=people):
                self._alerts.incident(signal, frame)
        if frame.monotonic + 1e-3 < self._next_analysis:
            return
        assert self._snap is not None
        period = 1.0 / self._snap.analysis_fps
        self._next_analysis = max(self._next_analysis + period, frame.monotonic + period * 0.5)
        self._monitor.analysed.tick(time.monotonic())
        boxes: list[tuple[float, float, float, float]] = []
        labels: list[str] = []
        face = self._stages.face
        if face is not None and self._gate.active():
            result = face.process(frame.image, frame.monotonic, frame.captured_at, frame.seq)
            for match in result.matches:
                self._alerts.face_match(match, frame.captured_at)
            boxes = [face.box for face in result.faces]
            labels = [face.label for face in result.faces]
        self._monitor.note_analysed(frame.captured_at, face, self._stages.incidents, people)
        marks = () if people is None else tuple((track.box, track.track_id) for track in people)
        self._media.offer(frame, boxes, labels, marks)  # people by track id, never by name

    def _incidents_scheduled(self) -> bool:
        """Incident detection runs always, or only while the venue is open (camera setting)."""
        snap = self._snap
        if snap is None or not snap.only_when_open:
            return True
        scheduled = is_open(snap.open_windows, timezone.localtime())
        with self._monitor.lock:
            self._monitor.live.incidents_paused = not scheduled
        return scheduled

    # --- health and housekeeping --------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """The health figures published every heartbeat (JSON-ready)."""
        figures = self._monitor.report(self._media.grabber, self._snap)
        face_enabled = self._snap is not None and self._snap.face
        return {**figures, **self._gate.health(face_enabled, self._stages.face is not None)}

    def _periodic(self, now: float) -> None:
        if self._media.clips is not None:
            self._media.clips.poll(time.time())
        try:
            self._alerts.attach_clips()
            if now >= self._next_poll:
                self._next_poll = now + SETTINGS_POLL_S
                _db_hygiene()
                self._gate.flush(self._stages.face_model_name)
                self._reload_settings()
            assert self._media.grabber is not None
            assert self._snap is not None
            self._monitor.update_state(self._media.grabber, self._snap, now)
            self._check_offline(now)
            self._persist_health()
        except DatabaseError as exc:
            self._monitor.note_error(f"database error: {exc}")
            _db_hygiene()

    def _check_offline(self, now: float) -> None:
        assert self._snap is not None
        monitor = self._monitor
        last = monitor.last_frame_mono if monitor.last_frame_mono is not None else monitor.started
        self._alerts.check_offline(
            silent_s=now - last,
            offline_after_s=self._snap.offline_after_s,
            fresh=monitor.last_frame_mono is not None and now - monitor.last_frame_mono < 2.0,
            state=monitor.live.state,
            error=monitor.live.error,
        )

    def _persist_health(self, force: bool = False) -> None:
        self._safe(partial(self._monitor.persist, self.health, force=force))

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
            self._media.restart_capture(snap, max_fps=self._loop_rate() + 1.0)
            self._monitor.source_error = self._media.source_error
        if previous != snap or self._stages.face_model_changed():
            self._configure(snap)

    def _configure(self, snap: CameraSnapshot) -> None:
        self._alerts.cooldown.seconds = snap.cooldown_s
        self._stages.configure(snap)
        self._scores.attach(self._stages.incidents)

    # --- helpers ----------------------------------------------------------------------------

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
