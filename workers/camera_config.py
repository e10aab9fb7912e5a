"""What a camera session acts on: process-wide tuning from settings and one camera's fields and zones."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from oversight.selectors import FaceWindow, camera_face_window
from venues.hours import Window, windows_of
from venues.models import Camera
from vision.incidents.budget import CalibratedThresholds
from vision.people.stage import PersonStageSettings
from workers.capture import CaptureSettings
from workers.pipeline import ZoneSpec

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """Process-wide session tuning, read from Django settings."""

    lease_ttl_s: float = 7.0
    heartbeat_s: float = 2.0
    health_persist_s: float = 10.0
    session_max_s: float = 3600.0
    detect_max_side: int = 960
    embed_min_quality: float = 0.35
    people_interval_s: float = 1.0
    person_fps: float = 2.0
    person_input_size: int = 384
    person_min_score: float = 0.1
    person_count_min_score: float = 0.2
    clip_fps: float = 5.0
    clip_pre_s: float = 4.0
    clip_post_s: float = 4.0
    preview_width: int = 640
    preview_interval_s: float = 1.0
    preview_ttl_s: int = 15
    face_model: str = "Dlib"
    face_detector: str = "dlib-hog"
    fight_model: str = ""  # the fight model file (empty: the shipped one)
    capture: CaptureSettings = field(default_factory=CaptureSettings)

    @classmethod
    def from_settings(cls, **overrides: Any) -> SessionConfig:
        """Build from ``CC_*`` settings; keyword overrides win (tests, benchmarks)."""
        values: dict[str, Any] = {
            "lease_ttl_s": settings.CC_LEASE_TTL_S,
            "heartbeat_s": settings.CC_HEARTBEAT_S,
            "health_persist_s": settings.CC_HEALTH_PERSIST_S,
            "session_max_s": settings.CC_SESSION_MAX_S,
            "detect_max_side": settings.CC_DETECT_MAX_SIDE,
            "embed_min_quality": settings.CC_EMBED_MIN_QUALITY,
            "people_interval_s": settings.CC_PEOPLE_INTERVAL_S,
            "person_fps": settings.CC_PERSON_FPS,
            "person_input_size": settings.CC_PERSON_INPUT_SIZE,
            "person_min_score": settings.CC_PERSON_MIN_SCORE,
            "person_count_min_score": settings.CC_PERSON_COUNT_MIN_SCORE,
            "clip_fps": settings.CC_CLIP_FPS,
            "clip_pre_s": settings.CC_CLIP_PRE_S,
            "clip_post_s": settings.CC_CLIP_POST_S,
            "preview_width": settings.CC_PREVIEW_WIDTH,
            "preview_interval_s": settings.CC_PREVIEW_INTERVAL_S,
            "preview_ttl_s": settings.CC_PREVIEW_TTL_S,
            "face_model": settings.CC_FACE_MODEL,
            "face_detector": stream_detector_name(settings.CC_STREAM_FACE_DETECTOR),
            "fight_model": settings.CC_FIGHT_MODEL,
        }
        values.update(overrides)
        return cls(**values)

    def person_settings(self, fps: float | None = None) -> PersonStageSettings:
        """The person stage's rate (a camera's own ``fps`` when given; 0: no person stage), input size, score floor."""
        return PersonStageSettings(
            fps=self.person_fps if fps is None else fps,
            input_size=self.person_input_size,
            min_score=self.person_min_score,
            count_min_score=max(self.person_min_score, self.person_count_min_score),
        )


def stream_detector_name(wanted: str) -> str:
    """The configured camera face detector, or dlib HOG when its optional package is not installed."""
    # lazy: the face detectors module loads dlib and the detector models
    from vision.faces.detectors import detector_names

    name = wanted.replace("_", "-")
    if name in detector_names(available_only=True):
        return name
    logger.warning("face detector %s is not installed; cameras use dlib-hog", name)
    return "dlib-hog"


@dataclass(frozen=True, slots=True)
class CameraSnapshot:
    """The camera fields a session acts on (re-read every few seconds)."""

    camera_id: str
    stream_url: str
    rtsp_transport: str
    loop_file: bool
    enabled: bool
    analysis_fps: float
    face: bool
    crowd: bool
    fight: bool
    sensitivity: float
    min_duration_s: float
    cooldown_s: float
    offline_after_s: float
    zones: tuple[ZoneSpec, ...]
    face_detector: str = ""
    only_when_open: bool = False
    open_windows: tuple[Window, ...] = ()
    counting_view: str = "near"
    person_fps: float | None = None  # the camera's own people rate (None: CC_PERSON_FPS; 0: off)
    calibrated: CalibratedThresholds | None = None  # the camera's false-alert budget thresholds
    face_window: FaceWindow | None = None  # the live deployment face matching runs under (None: no matching)

    @property
    def source_key(self) -> tuple[str, str, bool]:
        """What requires a capture restart when changed."""
        return (self.stream_url, self.rtsp_transport, self.loop_file)


def load_camera(camera_id: str) -> tuple[Any, CameraSnapshot] | None:
    """Read the camera row and its zones; None when it no longer exists."""
    camera = Camera.objects.select_related("venue").filter(pk=camera_id).first()
    if camera is None:
        return None
    zones = tuple(
        ZoneSpec(
            str(z.pk),
            z.name,
            tuple((float(x), float(y)) for x, y in z.polygon),
            z.capacity,
            z.gathering_rate_per_min,
            z.exclude_from_fight,
        )
        for z in camera.zones.filter(enabled=True)
    )
    snapshot = CameraSnapshot(
        camera_id=str(camera.pk),
        stream_url=camera.stream_url,
        rtsp_transport=camera.rtsp_transport,
        loop_file=camera.loop_file,
        enabled=camera.enabled and camera.venue.active,
        analysis_fps=camera.analysis_fps,
        face=camera.face_recognition_enabled,
        crowd=camera.crowd_enabled,
        fight=camera.fight_enabled,
        sensitivity=camera.sensitivity,
        min_duration_s=camera.min_duration_s,
        cooldown_s=float(camera.cooldown_s),
        offline_after_s=float(camera.offline_after_s),
        zones=zones,
        face_detector=camera.face_detector,
        only_when_open=camera.only_when_open,
        counting_view=camera.counting_view,
        person_fps=camera.person_fps,
        open_windows=windows_of(camera.venue.opening_hours.values_list("weekday", "opens", "closes")),
        calibrated=_calibrated(camera),
        face_window=camera_face_window(camera.pk, camera.venue_id) if camera.face_recognition_enabled else None,
    )
    return camera, snapshot


def _calibrated(camera: Any) -> CalibratedThresholds | None:
    """The camera's calibrated thresholds and the model they were calibrated on (None: model defaults)."""
    if camera.fight_threshold is None or camera.aggression_threshold is None:
        return None
    model = str((camera.incident_calibration or {}).get("model", ""))
    return CalibratedThresholds(camera.fight_threshold, camera.aggression_threshold, model)
