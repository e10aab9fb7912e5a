"""The analysis stages a camera's settings ask for, rebuilt when the settings or the face model change.

A camera that matches faces gets a ``FaceStage`` (detector, embedder and the watchlist matcher of the
active face model); one that counts people or detects fights gets an ``IncidentStage``; every analysed
camera gets a ``PersonStage`` (tracked people, ``CC_PERSON_FPS``; 0 turns it off) that feeds both.
"""

from __future__ import annotations

from functools import partial

from vision.incidents.fight import load_model
from vision.people.stage import PersonStage
from vision.tracking import EmbedPolicy
from watchlists.matching import active_face_model, match_faces
from workers.camera_config import CameraSnapshot, SessionConfig, stream_detector_name
from workers.deployment import DeploymentGate
from workers.pipeline import FaceStage, IncidentStage, StageTimer


class CameraStages:
    """The person, face and incident stages of one camera session (any may be None)."""

    def __init__(self, config: SessionConfig, timer: StageTimer, gate: DeploymentGate | None = None) -> None:
        self.config = config
        self.timer = timer
        self.gate = gate  # with a gate, faces are matched only inside the camera's live deployment
        self.face: FaceStage | None = None
        self.incidents: IncidentStage | None = None
        self.people: PersonStage | None = None
        self._detector_name = ""

    @property
    def face_model_name(self) -> str:
        """The stored model name of the probe embeddings (a reviewer's "not this person" is kept under it)."""
        return self.face.embedder.model_name if self.face is not None else ""

    def face_model_changed(self) -> bool:
        """True when an admin switched the face model since the face stage was built."""
        return self.face is not None and self.face.model != active_face_model()

    def configure(self, snap: CameraSnapshot) -> None:
        """Build the stages the camera's settings ask for; keep the face stage when nothing it uses changed."""
        self._configure_faces(snap)
        self._configure_people(snap)
        self.incidents = None
        if snap.crowd or snap.fight:
            self.incidents = IncidentStage(
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
                count_min_score=self.config.person_settings().count_min_score,
                fight_model=load_model(self.config.fight_model) if snap.fight else None,
            )

    def _configure_people(self, snap: CameraSnapshot) -> None:
        """Every analysed camera tracks people; the stage (and its track ids) survives settings reloads."""
        wanted = self.config.person_settings(snap.person_fps)
        if not wanted.enabled or not (snap.face or snap.crowd or snap.fight):
            self.people = None
        elif self.people is None or self.people.settings != wanted:
            self.people = PersonStage(wanted)

    def _configure_faces(self, snap: CameraSnapshot) -> None:
        # lazy: the face models (dlib, ONNX sessions) load only in a session whose camera matches faces
        from vision.faces.detectors import build_detector
        from vision.faces.embedders import build_embedder

        config = self.config
        detector_name = stream_detector_name(snap.face_detector) if snap.face_detector else config.face_detector
        face_model = active_face_model()
        if self.face is not None and (self._detector_name != detector_name or self.face.model != face_model):
            self.face = None  # the camera's detector or the face model was changed: rebuild the face stage
        self._detector_name = detector_name
        if self.gate is not None:
            self.gate.window = snap.face_window
        if not snap.face or (self.gate is not None and snap.face_window is None):
            self.face = None  # no live deployment covers the camera: no face is detected, embedded or matched
        elif self.face is None:
            embedder = build_embedder(face_model)
            matcher = (
                self.gate.matcher(embedder.model_name)
                if self.gate is not None
                else partial(match_faces, model_name=embedder.model_name)
            )
            self.face = FaceStage(
                build_detector(detector_name),
                embedder,
                matcher,
                timer=self.timer,
                detect_max_side=config.detect_max_side,
                analysis_fps=snap.analysis_fps,
                policy=EmbedPolicy(min_quality=config.embed_min_quality),
                model=face_model,
            )
