"""A camera session's alerts: stage results become ``alert_raise`` calls with their evidence.

Face matches (with the face crop and an annotated snapshot), incidents (snapshot and the score or
count series), the camera-offline alert and its resolution, and the clip each new alert gets once
its post-roll is written. The stage results carry every id alerting needs (subject, template,
watchlist category, zone), so nothing here queries for them.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from django.db import transaction

from alerts.models import Alert
from alerts.services import EvidenceFile, RaiseResult, alert_raise, alert_system_resolve, evidence_attach
from vision.faces.enrol import crop_face
from workers.capture import Frame
from workers.clips import ClipJob, ClipRecorder, draw_boxes
from workers.pipeline import Cooldown, FaceMatch, IncidentSignal

logger = logging.getLogger(__name__)

SNAPSHOT_WIDTH = 1280


class SessionAlerts:
    """Raises and resolves one camera's alerts; ``raised`` is called with the frame time of each new one."""

    def __init__(
        self,
        camera_id: str,
        *,
        camera: Callable[[], Any],
        clips: Callable[[], ClipRecorder | None],
        tmp: Path,
        face_model_name: Callable[[], str],
        raised: Callable[[], None],
        face_alert_created: Callable[[Alert], None] | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.cooldown = Cooldown(120.0)
        self.offline_alert: Alert | None = None
        self.latency_s: deque[float] = deque(maxlen=200)  # frame captured -> alert committed
        self._camera = camera
        self._clips = clips
        self._tmp = tmp
        self._face_model_name = face_model_name
        self._raised = raised
        self._face_alert_created = face_alert_created  # in the alert's transaction (the deployment's counters)
        self._raised_tracks: set[str] = set()
        self._pending: list[tuple[Alert, ClipJob]] = []
        self._pending_lock = threading.Lock()

    # --- face matches and incidents -----------------------------------------------------------

    def face_match(self, match: FaceMatch, frame_at: float) -> None:
        """A track passed a watchlist threshold: raise its candidate alert (or update the open one)."""
        candidate = match.candidate
        track_key = f"{candidate.subject_id}:{match.track_id}"
        if match.first:
            if not self.cooldown.allow(candidate.subject_id, time.monotonic()):
                logger.info("camera %s: %s in cooldown", self.camera_id, track_key)
                return
            self._raised_tracks.add(track_key)
            evidence = face_evidence(match)
        elif track_key in self._raised_tracks:
            evidence = []
        else:
            return
        with transaction.atomic():
            result = self._raise_face(match, track_key, evidence)
            if result.created and self._face_alert_created is not None:
                self._face_alert_created(result.alert)
        self._after_raise(result, match.sample.at, frame_at)

    def _raise_face(self, match: FaceMatch, track_key: str, evidence: list[EvidenceFile]) -> RaiseResult:
        candidate = match.candidate
        return alert_raise(
            kind="face_match",
            camera=self._camera(),
            score=min(1.0, max(0.0, float(candidate.similarity))),
            subject_id=candidate.subject_id,
            template_id=candidate.template_id,
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
                "model_name": candidate.model_name or self._face_model_name(),
                "box": [float(v) for v in match.sample.face.box],  # the matched face, in frame pixels (exports)
                "frame_width": int(match.sample.image.shape[1]),
            },
        )

    def incident(self, signal: IncidentSignal, frame: Frame) -> None:
        """An incident started: raise it with a snapshot and the series that led to it."""
        snapshot = EvidenceFile("snapshot", jpeg(frame.image), "image/jpeg", f"{signal.kind}-snapshot.jpg")
        series = json.dumps(signal.series_json(), separators=(",", ":")).encode()
        evidence = [snapshot, EvidenceFile("series", series, "application/json", f"{signal.kind}-series.json")]
        result = alert_raise(
            kind=signal.kind,
            camera=self._camera(),
            severity=signal.severity,
            score=signal.score,
            zone_id=signal.zone_id,
            track_key=signal.track_key,
            details=signal.details,
            evidence=evidence,
            seen_at=datetime.fromtimestamp(frame.captured_at, tz=UTC),
        )
        self._after_raise(result, frame.captured_at, frame.captured_at)

    def _after_raise(self, result: RaiseResult, at: float, frame_at: float) -> None:
        if not result.created:
            return
        self.latency_s.append(time.time() - frame_at)
        self._raised()
        clips = self._clips()
        if clips is not None:
            job = clips.trigger(self._tmp / f"clip-{result.alert.pk}", at=at)
            with self._pending_lock:
                self._pending.append((result.alert, job))
        logger.info("camera %s raised %s alert %s", self.camera_id, result.alert.kind, result.alert.pk)

    # --- clips --------------------------------------------------------------------------------

    def attach_clips(self) -> None:
        """Attach every clip whose post-roll has been written."""
        with self._pending_lock:
            done = [item for item in self._pending if item[1].done.is_set()]
            for item in done:
                self._pending.remove(item)
        for alert, job in done:
            if job.error or not job.path.exists():
                logger.warning("camera %s: clip for %s not written: %s", self.camera_id, alert.pk, job.error)
                continue
            data = job.path.read_bytes()
            job.path.unlink(missing_ok=True)
            evidence_attach(alert=alert, files=[EvidenceFile("clip", data, "video/webm", f"clip-{alert.pk}.webm")])

    def wait_for_clips(self, timeout: float) -> None:
        """Give pending clips up to ``timeout`` seconds to finish (the session is ending)."""
        deadline = time.monotonic() + timeout
        with self._pending_lock:
            jobs = [job for _, job in self._pending]
        for job in jobs:
            job.wait(max(0.0, deadline - time.monotonic()))

    # --- camera offline -----------------------------------------------------------------------

    def find_open_offline(self) -> None:
        """Pick up an offline alert a previous session left open (so its resolution is this one's)."""
        self.offline_alert = (
            Alert.objects.open().filter(camera_id=self.camera_id, kind="camera_offline", track_key="offline").first()
        )

    def check_offline(self, *, silent_s: float, offline_after_s: float, fresh: bool, state: str, error: str) -> None:
        """Raise the offline alert after ``offline_after_s`` of silence; resolve it when frames flow again."""
        if self.offline_alert is not None and fresh and state != "offline":
            alert_system_resolve(alert=self.offline_alert, outcome="camera_restored", note="frames flowing again")
            logger.info("camera %s back online; offline alert %s resolved", self.camera_id, self.offline_alert.pk)
            self.offline_alert = None
        elif self.offline_alert is None and silent_s >= offline_after_s:
            result = alert_raise(
                kind="camera_offline",
                camera=self._camera(),
                severity=2,
                score=1.0,
                track_key="offline",
                details={"error": error, "silent_s": round(silent_s, 1)},
            )
            self.offline_alert = result.alert
            logger.warning("camera %s offline for %.0fs: %s", self.camera_id, silent_s, error)


def face_evidence(match: FaceMatch) -> list[EvidenceFile]:
    """The matched face's crop and the frame with its box and similarity drawn."""
    face, image = match.sample.face, match.sample.image
    crop = jpeg(np.ascontiguousarray(crop_face(image, face)), max_width=None)
    box = (float(face.x), float(face.y), float(face.w), float(face.h))
    snapshot = jpeg(draw_boxes(image, [box], [f"{match.candidate.similarity:.2f}"]))
    return [
        EvidenceFile("face_crop", crop, "image/jpeg", "face.jpg"),
        EvidenceFile("snapshot", snapshot, "image/jpeg", "snapshot.jpg"),
    ]


def jpeg(image: np.ndarray, quality: int = 85, max_width: int | None = SNAPSHOT_WIDTH) -> bytes:
    """Encode evidence as JPEG (downscaled to ``max_width``)."""
    if max_width is not None and image.shape[1] > max_width:
        height = round(image.shape[0] * max_width / image.shape[1])
        image = cv2.resize(image, (max_width, height), interpolation=cv2.INTER_AREA)
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(buffer.tobytes())
