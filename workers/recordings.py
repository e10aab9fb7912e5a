"""Recorded footage: the live pipeline run over a video file, unpaced, with no lease, alerts or evidence."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from vision.incidents.budget import ScoreSegment
from vision.people.stage import PersonStage
from vision.tracking import EmbedPolicy
from workers.camera_config import CameraSnapshot, SessionConfig
from workers.pipeline import FaceStage, IncidentStage, StageTimer
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
    from workers.pipeline import analyse_recording

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
    from workers.pipeline import analyse_recording

    if not Path(path).is_file():
        raise FileNotFoundError(f"no such video file: {path}")
    stage = IncidentStage(
        timer=StageTimer(),
        crowd=False,
        fight=True,
        zones=camera.zones,
        min_duration_s=camera.min_duration_s,
        cooldown_s=camera.cooldown_s,
    )
    scores = MemoryScores()
    scores.recorder.attach(stage)
    people = person_stage(SessionConfig.from_settings())
    analyse_recording(path, fps=stage.fight_fps, face=None, incidents=stage, people=people, progress=progress)
    return scores.segments()


def person_stage(config: SessionConfig) -> PersonStage | None:
    """The person stage a live camera runs (None when ``CC_PERSON_FPS`` is 0)."""
    settings = config.person_settings()
    return PersonStage(settings) if settings.enabled else None


def _offline_face_stage(config: SessionConfig, timer: StageTimer, fps: float, watchlist: str | None) -> FaceStage:
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
