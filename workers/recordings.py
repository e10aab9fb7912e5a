"""Recorded footage: the live pipeline run over a video file, unpaced, with no lease, alerts or evidence.

The one offline analyser: ``analyze_video``, the background job (``workers.tasks``) and recording
calibration all come here, and it runs the live stages (people, faces, incidents) as a session does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vision.faces.base import ImageBGR
from vision.incidents.budget import ScoreSegment
from vision.incidents.fight import load_model
from vision.incidents.trigger import fold_into_fights
from vision.incidents.video import iter_frames
from vision.people.stage import PersonStage
from vision.people.tracker import PersonTrack
from vision.tracking import EmbedPolicy, Track
from workers.camera_config import CameraSnapshot, SessionConfig
from workers.pipeline import FaceMatch, FaceStage, IncidentSignal, IncidentStage, StageTimer, people_now
from workers.scores import MemoryScores


def analyse_file(
    path: str,
    *,
    fps: float = 5.0,
    watchlist: str | None = None,
    faces: bool = True,
    incidents: bool = True,
    progress: Callable[[float], None] | None = None,
    config: SessionConfig | None = None,
) -> dict[str, Any]:
    """Analyse recorded footage with the live pipeline: no pacing, lease, alerts or evidence."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no such video file: {path}")
    config = config or SessionConfig.from_settings()
    timer = StageTimer()
    face = _offline_face_stage(config, timer, fps, watchlist) if faces else None
    stage = (
        IncidentStage(
            timer=timer,
            crowd=True,
            fight=True,
            people_interval_s=1.0 / fps,
            count_min_score=config.person_settings().count_min_score,
            fight_model=load_model(config.fight_model),
        )
        if incidents
        else None
    )
    people = person_stage(config)
    result = analyse_recording(path, fps=fps, face=face, incidents=stage, people=people, progress=progress)
    result["stage_ms"] = {
        name: round(total * 1000.0 / max(1, timer.calls.get(name, 1)), 2) for name, total in timer.total_s.items()
    }
    return result


def recording_scores(
    path: str, camera: CameraSnapshot, *, progress: Callable[[float], None] | None = None
) -> list[ScoreSegment]:
    """A recording's fight and aggression scores as this camera's session would make them (its excluded areas).

    Only the person stage and the fight scorer run (no faces, no counting, no alerts); scores are kept as
    live ones are, so calibrating on a recording and on the live history replay the same numbers.
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"no such video file: {path}")
    config = SessionConfig.from_settings()
    stage = IncidentStage(
        timer=StageTimer(),
        crowd=False,
        fight=True,
        zones=camera.zones,
        min_duration_s=camera.min_duration_s,
        cooldown_s=camera.cooldown_s,
        fight_model=load_model(config.fight_model),
    )
    scores = MemoryScores()
    scores.recorder.attach(stage)
    people = person_stage(config)
    analyse_recording(path, fps=stage.fight_fps, face=None, incidents=stage, people=people, progress=progress)
    return scores.segments()


def person_stage(config: SessionConfig) -> PersonStage | None:
    """The person stage a live camera runs (None when ``CC_PERSON_FPS`` is 0)."""
    settings = config.person_settings()
    return PersonStage(settings) if settings.enabled else None


def _offline_face_stage(config: SessionConfig, timer: StageTimer, fps: float, watchlist: str | None) -> FaceStage:
    # lazy: the face models (dlib, ONNX sessions) load only when a recording's faces are analysed
    from vision.faces.detectors import build_detector
    from vision.faces.embedders import build_embedder
    from vision.motion import MotionSettings
    from watchlists.matching import active_face_model, match_faces

    model = active_face_model()
    embedder = build_embedder(model)

    def matcher(vectors: np.ndarray) -> list[list[Any]]:
        found = match_faces(vectors, model_name=embedder.model_name, k=10 if watchlist else 3)
        return [[c for c in row if watchlist is None or c.watchlist_name == watchlist] for row in found]

    return FaceStage(
        build_detector(config.face_detector),
        embedder,
        matcher,
        timer=timer,
        detect_max_side=config.detect_max_side,
        analysis_fps=fps,
        policy=EmbedPolicy(min_quality=config.embed_min_quality),
        motion=MotionSettings(keepalive_s=0.0),
        model=model,
    )


# --- recorded footage --------------------------------------------------------------------------


@dataclass
class _FaceDetection:
    """A matched (subject, track) pair on recorded footage."""

    subject: str
    watchlist: str
    similarity: float
    start_s: float
    end_s: float
    track: int


def video_duration_s(path: str) -> float:
    """Duration of a video file from its frame count and rate (0 when unknown)."""
    cap = cv2.VideoCapture(path)
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS)) or 25.0
        frames = float(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        cap.release()
    return max(0.0, frames / fps) if frames > 0 else 0.0


def analyse_recording(
    path: str,
    *,
    fps: float,
    face: FaceStage | None,
    incidents: IncidentStage | None,
    people: PersonStage | None = None,
    progress: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Run the live pipeline over a file, unpaced; return detections and a timeline (nothing stored).

    ``people`` is offered every sampled frame, as a session offers every frame of its loop, so the
    person stage runs at its own rate behind its motion gate exactly as it does live.
    """
    timer = incidents.timer if incidents is not None else face.timer if face is not None else None
    person_fps = people.settings.fps if people is not None else 0.0
    sample_fps = max(fps, person_fps, incidents.fight_fps if incidents is not None else 0.0)
    total = video_duration_s(path)
    faces: dict[tuple[Any, int], _FaceDetection] = {}
    crowd: list[dict[str, Any]] = []
    timeline: list[dict[str, Any]] = []
    frames = 0
    next_face = 0.0
    t = 0.0
    for t, image in iter_frames(path, sample_fps):
        tracks = people_now(people, image, t, timer)
        signals = incidents.process(image, t, count_now=False, people=tracks) if incidents is not None else []
        crowd.extend(_crowd_detection(signal) for signal in signals if signal.kind == "crowd")
        if t + 1e-6 < next_face:
            continue
        next_face = (int(t * fps + 1e-6) + 1) / fps
        frames += 1
        timeline.append(_analyse_offline_frame(image, t, face, incidents, faces, tracks))
        if progress is not None and total > 0:
            progress(min(1.0, t / total))
    if face is not None:
        _end_tracks(faces, face.flush())
    if incidents is not None:
        incidents.close(t)
    duration = round(t + 1.0 / sample_fps, 3) if frames else 0.0
    return {
        "duration_s": duration,
        "frames_analysed": frames,
        "detections": _report_detections(faces, incidents, crowd),
        "timeline": timeline,
    }


def _analyse_offline_frame(
    image: ImageBGR,
    t: float,
    face: FaceStage | None,
    incidents: IncidentStage | None,
    found: dict[tuple[Any, int], _FaceDetection],
    tracks: list[PersonTrack] | None,
) -> dict[str, Any]:
    seen = 0
    if face is not None:
        result = face.process(image, t, t)
        seen = len(result.faces) if result.ran else seen
        for match in result.matches:
            _note_match(found, match)
        _end_tracks(found, result.expired)
    if incidents is not None and incidents.counts_people:
        incidents.process(image, t, count_now=True, people=tracks)
    counted = incidents.people if incidents is not None else None
    return {
        "t": round(t, 3),
        "people": counted if counted is not None or tracks is None else len(tracks),
        "person_ids": None if tracks is None else sorted(track.track_id for track in tracks),
        "fight_score": None if incidents is None or incidents.fight_score is None else round(incidents.fight_score, 4),
        "camera_moving": incidents is not None and incidents.camera_moving,
        "faces": seen,
    }


def _note_match(found: dict[tuple[Any, int], _FaceDetection], match: FaceMatch) -> None:
    candidate = match.candidate
    key = (candidate.subject_id, match.track_id)
    known = found.get(key)
    if known is None:
        found[key] = _FaceDetection(
            candidate.display_name,
            candidate.watchlist_name,
            float(candidate.similarity),
            match.first_seen,
            match.last_seen,
            match.track_id,
        )
    else:
        known.similarity = max(known.similarity, float(candidate.similarity))
        known.end_s = max(known.end_s, match.last_seen)


def _end_tracks(found: dict[tuple[Any, int], _FaceDetection], tracks: Sequence[Track]) -> None:
    for track in tracks:
        for (_, track_id), detection in found.items():
            if track_id == track.track_id:
                detection.end_s = max(detection.end_s, track.last_seen)


def _crowd_detection(signal: IncidentSignal) -> dict[str, Any]:
    return {
        "kind": "crowd",
        "start_s": round(signal.t, 2),
        "end_s": round(signal.t, 2),
        "score": signal.score,
        **signal.details,
    }


def _report_detections(
    faces: dict[tuple[Any, int], _FaceDetection], incidents: IncidentStage | None, crowd: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = [
        {
            "kind": "face_match",
            "subject": d.subject,
            "watchlist": d.watchlist,
            "similarity": round(d.similarity, 4),
            "start_s": round(d.start_s, 2),
            "end_s": round(d.end_s, 2),
            "score": round(d.similarity, 4),
            "track": d.track,
        }
        for d in faces.values()
    ]
    if incidents is not None:
        ended = fold_into_fights(incidents.ended, lambda e: e.kind, lambda e: e.start_s, lambda e: e.end_s)
        for event in ended:
            found.append(
                {
                    "kind": event.kind,
                    "start_s": round(event.start_s, 2),
                    "end_s": round(event.end_s, 2),
                    "score": round(event.score, 3),
                }
            )
    found.extend(crowd)
    return sorted(found, key=lambda d: (d["start_s"], d["kind"]))
