"""Fight scoring over a whole clip without Django, for the vision tests: the scorer runs its own person stage.

The product's one offline analyser is ``workers.recordings`` (``analyze_video``, the background job,
recording calibration); this replays only the fight scorer and its triggers, as the sessions build them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

from vision.incidents.fight import FightScorer
from vision.incidents.people import PersonDetector
from vision.incidents.trigger import COOLDOWN_S, IncidentEvent, fight_triggers, fold_into_fights
from vision.incidents.video import iter_frames

logger = logging.getLogger(__name__)


class Detection(TypedDict):
    """One incident found in the clip."""

    kind: str
    start_s: float
    end_s: float
    score: float


class TimelinePoint(TypedDict):
    """People count (None when not counted), fight score and camera motion (score held) at time t."""

    t: float
    people: int | None
    fight_score: float
    camera_moving: bool


@dataclass
class ClipAnalysis:
    """Result of `analyse_clip`."""

    duration_s: float
    frames_analysed: int
    detections: list[Detection] = field(default_factory=list)
    timeline: list[TimelinePoint] = field(default_factory=list)


def _detections(events: list[IncidentEvent]) -> list[Detection]:
    """End events to detections; aggression overlapping a fight is folded into the fight."""
    ends = [e for e in events if e.phase == "end" and e.end_s is not None]
    kept = fold_into_fights(ends, lambda e: e.kind, lambda e: e.start_s, lambda e: e.end_s or 0.0)
    found: list[Detection] = []
    for e in kept:
        assert e.end_s is not None
        found.append(
            Detection(
                kind=e.kind,
                start_s=round(e.start_s, 2),
                end_s=round(e.end_s, 2),
                score=round(e.peak_score, 3),
            )
        )
    return sorted(found, key=lambda d: d["start_s"])


def analyse_clip(
    path: Path | str,
    *,
    fps: float = 5.0,
    detector: PersonDetector | None = None,
    scorer: FightScorer | None = None,
    cooldown_s: float = COOLDOWN_S,
) -> ClipAnalysis:
    """Run people counting (at `fps`, when a detector is given) and fight scoring over a clip."""
    scorer = scorer if scorer is not None else FightScorer()
    triggers = fight_triggers(scorer, cooldown_s)
    sample_fps = max(fps, scorer.model.analysis_fps)
    result = ClipAnalysis(duration_s=0.0, frames_analysed=0)
    events: list[IncidentEvent] = []
    next_timeline_t = 0.0
    t = 0.0
    for t, frame in iter_frames(path, sample_fps):
        result.frames_analysed += 1
        score = scorer.update(frame, t)
        events.extend(e for trig in triggers if (e := trig.update(score, t)) is not None)
        if t + 1e-6 >= next_timeline_t:
            people = len(detector.detect(frame)) if detector is not None else None
            point = TimelinePoint(
                t=round(t, 3), people=people, fight_score=round(score, 4), camera_moving=scorer.camera_moving
            )
            result.timeline.append(point)
            next_timeline_t = (int(t * fps + 1e-6) + 1) / fps
    events.extend(e for trig in triggers if (e := trig.close(t)) is not None)
    result.duration_s = round(t + 1.0 / sample_fps, 3) if result.frames_analysed else 0.0
    result.detections = _detections(events)
    logger.info(
        "analysed %s: %d frames, %d detections",
        path,
        result.frames_analysed,
        len(result.detections),
    )
    return result
