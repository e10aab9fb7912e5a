"""The per-frame analysis pipeline shared by live sessions and recorded footage (no Django).

Stages: people (``vision.people.stage.PersonStage``: MoveNet behind its own motion gate at
``CC_PERSON_FPS``, tracked with ids) ; motion gate -> face detection (downscaled, boxes mapped
back) -> tracker -> embed the best observation of a track a bounded number of times -> match (an
injected ``matcher``) ; and, behind camera flags, people counting (the head counter merged with the
tracked people) -> crowd monitors and the fight/aggression scorer (given the tracked people).
Embeddings live only in ``_TrackMemory`` and are dropped when the track expires: a face that
matched nobody is never written anywhere.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from vision.faces.base import DetectedFace, FaceDetector, FaceEmbedder, FloatArray, ImageBGR, Landmarks
from vision.faces.detectors import downscale
from vision.faces.quality import assess_quality
from vision.incidents.budget import model_fingerprint, zones_fingerprint
from vision.incidents.crowd import CrowdMonitor
from vision.incidents.fight import FightModel, FightScorer
from vision.incidents.people import CountSmoother, count_in_zone, default_person_detector
from vision.incidents.trigger import fight_triggers
from vision.motion import MotionGate, MotionSettings
from vision.people.count import merge_counted
from vision.people.stage import DEFAULT_COUNT_MIN_SCORE
from vision.tracking import EmbedPolicy, Observation, Track, Tracker, TrackerSettings

if TYPE_CHECKING:
    from vision.incidents.budget import CalibratedThresholds
    from vision.people.stage import PersonStage
    from vision.people.tracker import PersonTrack

logger = logging.getLogger(__name__)

STAGES = ("decode", "motion", "detect", "embed", "match", "people", "incidents")
Box = tuple[float, float, float, float]


class CandidateLike(Protocol):
    """What the pipeline needs of a watchlist candidate (``watchlists.matching.Candidate``)."""

    @property
    def subject_id(self) -> Any: ...
    @property
    def template_id(self) -> Any: ...
    @property
    def similarity(self) -> float: ...
    @property
    def threshold(self) -> float: ...
    @property
    def passes(self) -> bool: ...
    @property
    def display_name(self) -> str: ...
    @property
    def watchlist_name(self) -> str: ...
    @property
    def model_name(self) -> str: ...


Matcher = Callable[[FloatArray], Sequence[Sequence[CandidateLike]]]


class StageTimer:
    """Per-stage milliseconds: smoothed last cost (for health) and totals (for benchmarks)."""

    def __init__(self, alpha: float = 0.2) -> None:
        self.alpha = alpha
        self.ms: dict[str, float] = {}
        self.total_s: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    @contextmanager
    def measure(self, stage: str) -> Iterator[None]:
        """Time a block as ``stage``."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, (time.perf_counter() - started) * 1000.0)

    def add(self, stage: str, ms: float) -> None:
        """Record one run of ``stage`` taking ``ms``."""
        previous = self.ms.get(stage)
        self.ms[stage] = ms if previous is None else previous + self.alpha * (ms - previous)
        self.total_s[stage] = self.total_s.get(stage, 0.0) + ms / 1000.0
        self.calls[stage] = self.calls.get(stage, 0) + 1

    def snapshot(self) -> dict[str, float]:
        """Smoothed ms per stage, rounded, every known stage present."""
        return {stage: round(self.ms.get(stage, 0.0), 2) for stage in STAGES}


class Cooldown:
    """Allow one event per key per ``seconds`` (e.g. one face alert per subject per camera)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._last: dict[Any, float] = {}

    def allow(self, key: Any, now: float) -> bool:
        """True (and remember ``now``) when ``key`` is out of cooldown."""
        last = self._last.get(key)
        if last is not None and now - last < self.seconds:
            return False
        self._last[key] = now
        return True


@dataclass(frozen=True, slots=True)
class FaceSample:
    """A face observation: box in full-frame pixels, the frame it is in, its wall-clock time."""

    face: DetectedFace
    image: ImageBGR
    at: float


@dataclass(frozen=True, slots=True)
class FaceMatch:
    """A track whose embedding passed a watchlist threshold."""

    track_id: int
    candidate: CandidateLike
    embedding: FloatArray
    sample: FaceSample
    quality: float
    first: bool
    first_seen: float
    last_seen: float


@dataclass(frozen=True, slots=True)
class TrackedFace:
    """A face box on the current frame with its track and (for matches) a neutral label."""

    track_id: int
    box: Box
    label: str


@dataclass
class _TrackMemory:
    """In-memory only: latest embedding of a track and the subjects it matched."""

    embedding: FloatArray | None = None
    matched: dict[Any, float] = field(default_factory=dict)


@dataclass
class FaceStageResult:
    """Outcome of one face-stage run."""

    ran: bool
    faces: list[TrackedFace] = field(default_factory=list)
    matches: list[FaceMatch] = field(default_factory=list)
    expired: list[Track] = field(default_factory=list)


def scale_face(face: DetectedFace, factor: float) -> DetectedFace:
    """Map a face found on an image scaled by ``factor`` back to the original pixels."""
    if factor == 1.0:
        return face

    def back(point: tuple[float, float]) -> tuple[float, float]:
        return (point[0] / factor, point[1] / factor)

    marks = face.landmarks
    landmarks = None
    if marks is not None:
        landmarks = Landmarks(
            back(marks.left_eye),
            back(marks.right_eye),
            back(marks.nose),
            None if marks.mouth_left is None else back(marks.mouth_left),
            None if marks.mouth_right is None else back(marks.mouth_right),
        )
    return DetectedFace(
        round(face.x / factor),
        round(face.y / factor),
        round(face.w / factor),
        round(face.h / factor),
        face.confidence,
        landmarks,
    )


class FaceStage:
    """Motion gate, face detection, tracking, bounded embedding and matching for one camera."""

    def __init__(
        self,
        detector: FaceDetector,
        embedder: FaceEmbedder,
        matcher: Matcher,
        *,
        timer: StageTimer,
        detect_max_side: int = 960,
        analysis_fps: float = 2.0,
        policy: EmbedPolicy | None = None,
        motion: MotionSettings | None = None,
        model: str = "",
    ) -> None:
        self.detector = detector
        self.embedder = embedder
        self.model = model or embedder.model_name  # the embedder's name as configured (e.g. "Dlib-onnx")
        self.matcher = matcher
        self.timer = timer
        self.detect_max_side = detect_max_side
        self.gate = MotionGate(motion)
        max_age = max(1.5, 3.0 / analysis_fps, (self.gate.settings.keepalive_s or 0.0) + 1.0)
        self.tracker = Tracker("face", TrackerSettings(max_age_s=max_age), policy or EmbedPolicy())
        self._memory: dict[int, _TrackMemory] = {}
        self.embeds = 0

    @property
    def live_embeddings(self) -> int:
        """How many track embeddings are held in memory right now."""
        return sum(1 for memory in self._memory.values() if memory.embedding is not None)

    def reset(self) -> None:
        """Forget tracks, their embeddings and the background (after a reconnect)."""
        self.tracker.reset()
        self._memory.clear()
        self.gate.reset()

    def process(self, image: ImageBGR, t: float, at: float, seq: int = 0) -> FaceStageResult:
        """Run the stage on one frame (``t`` monotonic seconds, ``at`` wall-clock epoch)."""
        with self.timer.measure("motion"):
            motion = self.gate.update(image, t)
        if not motion.run_detectors:
            return FaceStageResult(ran=False, faces=self._current_faces(t))
        with self.timer.measure("detect"):
            faces = self._detect(image)
            observations = [self._observe(image, face, t, at, seq) for face in faces]
        tracks = self.tracker.update(observations, t)
        expired = self.tracker.expire(t)
        for track in expired:
            self._memory.pop(track.track_id, None)
        matches = self._embed_and_match(tracks, t)
        return FaceStageResult(ran=True, faces=self._labelled(tracks), matches=matches, expired=expired)

    def flush(self) -> list[Track]:
        """End every track (end of input); drop their embeddings; return them."""
        gone = self.tracker.reset()
        self._memory.clear()
        return gone

    def _detect(self, image: ImageBGR) -> list[DetectedFace]:
        small, factor = downscale(image, self.detect_max_side)
        return [scale_face(face, factor) for face in self.detector.detect(small)]

    def _observe(self, image: ImageBGR, face: DetectedFace, t: float, at: float, seq: int) -> Observation:
        quality = assess_quality(image, face).score
        box = (float(face.x), float(face.y), float(face.w), float(face.h))
        return Observation(box=box, quality=quality, frame_seq=seq, at=t, payload=FaceSample(face, image, at))

    def _embed_and_match(self, tracks: list[Track], t: float) -> list[FaceMatch]:
        due = [track for track in tracks if self.tracker.should_embed(track, t)]
        if not due:
            return []
        with self.timer.measure("embed"):
            vectors = np.stack([self._embed(track, t) for track in due])
        with self.timer.measure("match"):
            results = self.matcher(vectors)
        matches = []
        for track, vector, candidates in zip(due, vectors, results, strict=True):
            match = self._decide(track, vector, candidates)
            if match is not None:
                matches.append(match)
        return matches

    def _embed(self, track: Track, t: float) -> FloatArray:
        sample = track.best.payload
        assert isinstance(sample, FaceSample)
        vector = np.asarray(self.embedder.embed(sample.image, sample.face), dtype=np.float32)
        self.tracker.mark_embedded(track, t)
        self._memory.setdefault(track.track_id, _TrackMemory()).embedding = vector
        self.embeds += 1
        return vector

    def _decide(self, track: Track, vector: FloatArray, candidates: Sequence[CandidateLike]) -> FaceMatch | None:
        passing = [c for c in candidates if c.passes]
        if not passing:
            return None
        best = max(passing, key=lambda c: c.similarity)
        memory = self._memory.setdefault(track.track_id, _TrackMemory())
        first = best.subject_id not in memory.matched
        memory.matched[best.subject_id] = max(best.similarity, memory.matched.get(best.subject_id, 0.0))
        sample = track.best.payload
        assert isinstance(sample, FaceSample)
        return FaceMatch(
            track_id=track.track_id,
            candidate=best,
            embedding=vector,
            sample=sample,
            quality=track.best.quality,
            first=first,
            first_seen=track.first_seen,
            last_seen=track.last_seen,
        )

    def _labelled(self, tracks: list[Track]) -> list[TrackedFace]:
        return [TrackedFace(track.track_id, track.box, self._label(track.track_id)) for track in tracks]

    def _current_faces(self, t: float) -> list[TrackedFace]:
        live = [track for track in self.tracker.tracks if t - track.last_seen < 1.0]
        return self._labelled(live)

    def _label(self, track_id: int) -> str:
        memory = self._memory.get(track_id)
        if memory is None or not memory.matched:
            return ""
        return f"MATCH {max(memory.matched.values()):.2f}"  # no names on previews (audited reads only)


# --- incidents (crowd, fight, aggression), owned by vision.incidents -----------------------------


@dataclass(frozen=True, slots=True)
class ZoneSpec:
    """A zone: polygon in 0..1 frame coordinates, capacity, gathering rate, fight-detection mask."""

    zone_id: str
    name: str
    polygon: tuple[tuple[float, float], ...]
    capacity: int | None
    gathering_rate_per_min: float | None
    exclude_from_fight: bool = False


@dataclass(frozen=True, slots=True)
class IncidentSignal:
    """An incident starting now: alert kind, severity 1-4, score 0..1, zone, details."""

    kind: str
    severity: int
    score: float
    t: float
    start_s: float
    zone_id: str | None
    track_key: str
    details: dict[str, Any]
    series: tuple[tuple[float, float], ...] = ()  # (t, fight score or zone count) that led here

    def series_json(self) -> dict[str, Any]:
        """The series as evidence: seconds relative to the alert, values, and what they measure."""
        unit = "people" if self.kind == "crowd" else "fight_score"
        limit = self.details.get("capacity") if self.kind == "crowd" else self.details.get("threshold")
        points = [[round(t - self.t, 2), round(float(v), 4)] for t, v in self.series]
        return {"kind": self.kind, "unit": unit, "limit": limit, "points": points}


SERIES_SECONDS = 60.0  # score and count history kept for an incident's evidence
# A still picture holds the same people: the counter looks again only when something moved since its last
# look, or after this many seconds (a bound on a count kept through a slow change the gate adapts to).
COUNT_KEEPALIVE_S = 10.0
# With tracked people, few of them (MoveNet returns at most 6 a call) and every zone far below its capacity
# (under half) with no gathering rate to watch, a count is taken every RELAXED_COUNTS intervals: the head
# counter's pass is the camera's largest single cost (bench/stream_throughput.py) and it cannot change an
# alert there; as soon as a zone reaches half its capacity the camera counts every interval again.
RELAXED_COUNTS = 3
CROWDED_PEOPLE = 5


@dataclass(frozen=True, slots=True)
class IncidentEnd:
    """A fight/aggression incident that ended (offline reports list start and end)."""

    kind: str
    start_s: float
    end_s: float
    score: float


_SEVERITY = {"high": 3, "medium": 2, "low": 1, "critical": 4}

# (t, fight score, aggression score, held while the camera moves): what the triggers are fed, for the
# camera's false-alert budget (workers.scores.ScoreRecorder)
ScoreSink = Callable[[float, float, float, bool], None]


class IncidentStage:
    """People counting + crowd monitors and the fight scorer, each behind its camera flag."""

    def __init__(
        self,
        *,
        timer: StageTimer,
        crowd: bool,
        fight: bool,
        zones: Sequence[ZoneSpec] = (),
        min_duration_s: float = 1.0,
        cooldown_s: float = 120.0,
        sensitivity: float = 0.5,
        people_interval_s: float = 1.0,
        counting_view: str = "near",
        calibrated: CalibratedThresholds | None = None,
        count_min_score: float = DEFAULT_COUNT_MIN_SCORE,
        fight_model: FightModel | None = None,
    ) -> None:
        """`calibrated` (budget.CalibratedThresholds) replaces the model's thresholds and the sensitivity.

        `fight_model` is the model the fight scorer uses (None: the shipped one).

        Tracked people from ``count_min_score`` are counted; the fight scorer gets every tracked person
        (the person stage's own, lower floor: weak poses still tell it two people are close).
        """
        self.timer = timer
        self.count_min_score = count_min_score
        self.counting_view = counting_view
        self.zones = list(zones)
        self.people_interval_s = people_interval_s
        self.people: int | None = None
        self.fight_score: float | None = None
        self.ended: list[IncidentEnd] = []
        self._next_people = float("-inf")
        self._count_gate = MotionGate(MotionSettings(keepalive_s=COUNT_KEEPALIVE_S))
        self._counted: list[Any] | None = None
        self.counts_reused = 0  # counts taken from the last look because nothing moved
        self._detector: Any = None
        self._monitors: dict[str, Any] = {}
        self._smoothers: dict[str, Any] = {}
        self._scorer: Any = None
        self._triggers: list[Any] = []
        self._scores: deque[tuple[float, float]] = deque()
        self.score_sink: ScoreSink | None = None
        self.score_fingerprints = ("", "")  # (model, excluded areas) the scores are made with
        if crowd:
            self._setup_crowd(min_duration_s, cooldown_s)
        if fight:
            self._setup_fight(cooldown_s, sensitivity, min_duration_s, fight_model)
            self._apply_calibration(calibrated)

    @property
    def counts_people(self) -> bool:
        """True when a person detector is loaded (crowd counting on)."""
        return self._detector is not None

    @property
    def camera_moving(self) -> bool:
        """True while the fight score is held because the camera itself moves."""
        return bool(self._scorer is not None and self._scorer.camera_moving)

    @property
    def fight_fps(self) -> float:
        """Frame rate the fight scorer wants (0 when fight detection is off)."""
        return float(self._scorer.model.analysis_fps) if self._scorer is not None else 0.0

    def _setup_crowd(self, min_duration_s: float, cooldown_s: float) -> None:
        self._detector = _cached_person_detector(default_person_detector, self.counting_view)
        for zone in self.zones:
            self._monitors[zone.zone_id] = CrowdMonitor(
                zone.capacity, zone.gathering_rate_per_min, min_duration_s, cooldown_s
            )
            self._smoothers[zone.zone_id] = CountSmoother()

    def _setup_fight(
        self, cooldown_s: float, sensitivity: float, min_duration_s: float, model: FightModel | None
    ) -> None:
        self._scorer = FightScorer(model, exclude=[z.polygon for z in self.zones if z.exclude_from_fight])
        self._triggers = fight_triggers(self._scorer, cooldown_s)
        shift = (0.5 - sensitivity) * 0.2  # sensitivity 1 lowers thresholds, 0 raises them
        for trigger in self._triggers:
            trigger.threshold = float(min(0.99, max(0.05, trigger.threshold + shift)))
            # the camera's minimum duration can only make the trained timing stricter
            trigger.min_duration_s = max(trigger.min_duration_s, min_duration_s)

    def _apply_calibration(self, calibrated: CalibratedThresholds | None) -> None:
        """Use a camera's calibrated thresholds when they were calibrated on this stage's scores."""
        if self._scorer is None:
            return
        self.score_fingerprints = (model_fingerprint(self._scorer.model), zones_fingerprint(self._scorer.exclude))
        if calibrated is None:
            return
        if calibrated.model != self.score_fingerprints[0]:
            logger.warning("calibrated thresholds are for another fight model; using the model's own")
            return
        for trigger in self._triggers:
            trigger.threshold = calibrated.fight if trigger.kind == "fight" else calibrated.aggression

    def process(
        self,
        image: ImageBGR,
        t: float,
        *,
        count_now: bool | None = None,
        people: Sequence[PersonTrack] | None = None,
    ) -> list[IncidentSignal]:
        """Feed one frame and the people tracked now (None: no person stage); return incidents that start now."""
        signals: list[IncidentSignal] = []
        with self.timer.measure("incidents"):
            if self._scorer is not None and self._scorer.wants(t):
                signals.extend(self._fight(image, t, people))
            due = t >= self._next_people if count_now is None else count_now
            if self._detector is not None and due:
                signals.extend(self._crowd(image, t, people))
                self._next_people = t + self._count_interval(people)
        return signals

    def _count_interval(self, people: Sequence[PersonTrack] | None) -> float:
        """Seconds to the next count: the camera's interval, or RELAXED_COUNTS of them far from every limit."""
        if people is None or len(people) >= CROWDED_PEOPLE:
            return self.people_interval_s
        for zone in self.zones:
            count = self._smoothers[zone.zone_id].value
            near = zone.capacity is not None and (count is None or count >= zone.capacity / 2)
            if near or zone.gathering_rate_per_min is not None:
                return self.people_interval_s
        return self.people_interval_s * RELAXED_COUNTS

    def close(self, t: float) -> None:
        """End active fight incidents at the end of input."""
        for trigger in self._triggers:
            event = trigger.close(t)
            if event is not None and event.end_s is not None:
                self.ended.append(IncidentEnd(event.kind, event.start_s, event.end_s, event.peak_score))

    def _fight(self, image: ImageBGR, t: float, people: Sequence[PersonTrack] | None) -> list[IncidentSignal]:
        score = float(self._scorer.update(image, t, people=people))
        self.fight_score = score
        if self.score_sink is not None:
            self.score_sink(t, score, score, bool(self._scorer.camera_moving))
        self._scores.append((t, score))
        while self._scores[0][0] < t - SERIES_SECONDS:
            self._scores.popleft()
        signals = []
        for trigger in self._triggers:
            event = trigger.update(score, t)
            if event is None:
                continue
            if event.phase == "end" and event.end_s is not None:
                self.ended.append(IncidentEnd(event.kind, event.start_s, event.end_s, event.peak_score))
                continue
            if event.kind != "fight" and any(other.kind == "fight" and other.active for other in self._triggers):
                continue  # aggression during a fight is part of the fight: one alert, not two
            signals.append(
                IncidentSignal(
                    kind=event.kind,
                    severity=_SEVERITY.get(event.severity, 2),
                    score=round(score, 4),
                    t=t,
                    start_s=event.start_s,
                    zone_id=None,
                    track_key=f"{event.kind}:{event.start_s:.1f}",
                    details={"fight_score": round(score, 4), "threshold": trigger.threshold},
                    series=tuple(self._scores),
                )
            )
        return signals

    def _crowd(self, image: ImageBGR, t: float, people: Sequence[PersonTrack] | None) -> list[IncidentSignal]:
        moved = self._count_gate.update(image, t).run_detectors
        if moved or self._counted is None:
            self._counted = self._count(image, people)
        else:
            self.counts_reused += 1
        boxes = self._counted
        self.people = len(boxes)
        height, width = image.shape[:2]
        signals = []
        for zone in self.zones:
            raw = count_in_zone(boxes, zone.polygon, width, height)
            count = self._smoothers[zone.zone_id].update(raw)
            for event in self._monitors[zone.zone_id].update(count, t):
                signals.append(self._crowd_signal(zone, event, t))
        return signals

    def _count(self, image: ImageBGR, people: Sequence[PersonTrack] | None) -> list[Any]:
        """Everyone in view once: the head counter alone, or its faces merged with the tracked people.

        With people, HOG bodies add nothing measurable (counting/heads MAE 1.87 with or without them,
        2.00 for faces + HOG alone: ``bench/count_accuracy.py``), so only the faces are looked for.
        """
        if people is None:
            return list(self._detector.detect(image))
        faces = getattr(self._detector, "face", self._detector)  # CombinedPersonDetector: its face detector
        counted = [track.person for track in people if track.person.score >= self.count_min_score]
        return merge_counted(counted, faces.detect(image))

    @staticmethod
    def _crowd_signal(zone: ZoneSpec, event: Any, t: float) -> IncidentSignal:
        over = event.kind == "over_capacity"
        score = min(1.0, event.count / event.capacity) if over and event.capacity else 1.0
        return IncidentSignal(
            kind="crowd",
            severity=3 if over else 2,
            score=round(float(score), 4),
            t=t,
            start_s=t,
            zone_id=zone.zone_id,
            track_key=f"{event.kind}:{zone.zone_id}",
            details={
                "event": event.kind,
                "zone": zone.name,
                "count": round(float(event.count), 1),
                "capacity": event.capacity,
                "rate_per_min": round(float(event.rate_per_min), 1),
            },
            series=tuple(event.history),
        )


def people_now(
    stage: PersonStage | None, image: ImageBGR, t: float, timer: StageTimer | None
) -> list[PersonTrack] | None:
    """Offer a frame to the person stage; the people tracked now (None when the camera has no person stage)."""
    if stage is None:
        return None
    tracks = stage.process(image, t)
    if stage.ran and timer is not None:
        timer.add("people", stage.last_ms)
    return tracks


_PERSON_DETECTOR: dict[str, Any] = {}


def _cached_person_detector(factory: Callable[[str], Any], view: str) -> Any:
    """One person detector per counting view per process (models load once)."""
    if view not in _PERSON_DETECTOR:
        _PERSON_DETECTOR[view] = factory(view)
    return _PERSON_DETECTOR[view]
