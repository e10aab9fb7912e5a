"""IoU/centroid tracker for face and person boxes with a bounded embedding policy.

Each track keeps its best-quality observation; ``should_embed`` lets the pipeline
embed a person on the first good frame, again only when quality improves by a
margin, and at most ``max_embeds`` times per track.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

Box = tuple[float, float, float, float]
ImageBGR = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Observation:
    """One detection offered to the tracker: box (x, y, w, h), quality 0..1, optional payload."""

    box: Box
    quality: float
    frame_seq: int = 0
    at: float = 0.0
    payload: object | None = None


@dataclass(slots=True)
class Track:
    """A person followed across frames; ``best`` is the highest-quality observation so far."""

    track_id: int
    kind: str
    box: Box
    first_seen: float
    last_seen: float
    best: Observation
    hits: int = 1
    embeds: int = 0
    embedded_quality: float | None = None
    embedded_at: float | None = None
    last: Observation | None = field(default=None)

    @property
    def age_s(self) -> float:
        """Seconds between first and last sighting."""
        return self.last_seen - self.first_seen


@dataclass(frozen=True, slots=True)
class EmbedPolicy:
    """When a track's best observation is worth embedding."""

    min_quality: float = 0.35
    improve_margin: float = 0.15
    max_embeds: int = 3
    min_hits: int = 2
    min_interval_s: float = 1.0


@dataclass(frozen=True, slots=True)
class TrackerSettings:
    """Matching and expiry thresholds."""

    iou_threshold: float = 0.25
    max_centroid_shift: float = 1.0
    max_age_s: float = 1.5


class Tracker:
    """Greedy IoU matching with a centroid fallback for fast movers; one instance per kind."""

    def __init__(
        self,
        kind: str = "face",
        settings: TrackerSettings | None = None,
        policy: EmbedPolicy | None = None,
    ) -> None:
        self.kind = kind
        self.settings = settings or TrackerSettings()
        self.policy = policy or EmbedPolicy()
        self._tracks: dict[int, Track] = {}
        self._ids = itertools.count(1)

    @property
    def tracks(self) -> list[Track]:
        """Live tracks, oldest first."""
        return list(self._tracks.values())

    def update(self, observations: Sequence[Observation], now: float) -> list[Track]:
        """Assign observations to tracks (creating new ones); return tracks in input order."""
        assigned = dict((index, track_id) for track_id, index in self._match(observations))
        seen: list[Track] = []
        for index, observation in enumerate(observations):
            track_id = assigned.get(index)
            if track_id is None:
                seen.append(self._create(observation, now))
            else:
                track = self._tracks[track_id]
                self._absorb(track, observation, now)
                seen.append(track)
        return seen

    def expire(self, now: float) -> list[Track]:
        """Remove and return tracks not seen for ``max_age_s``."""
        gone = [t for t in self._tracks.values() if now - t.last_seen > self.settings.max_age_s]
        for track in gone:
            del self._tracks[track.track_id]
            logger.debug("%s track %d expired after %d hits", self.kind, track.track_id, track.hits)
        return gone

    def reset(self) -> list[Track]:
        """Drop every track (after a reconnect); return them."""
        gone = self.tracks
        self._tracks.clear()
        return gone

    def should_embed(self, track: Track, now: float | None = None) -> bool:
        """True when the track's best observation should be embedded now."""
        policy = self.policy
        if track.embeds >= policy.max_embeds or track.hits < policy.min_hits:
            return False
        if track.best.quality < policy.min_quality:
            return False
        if track.embedded_quality is None:
            return True
        if track.best.quality < track.embedded_quality + policy.improve_margin:
            return False
        moment = track.last_seen if now is None else now
        return track.embedded_at is None or moment - track.embedded_at >= policy.min_interval_s

    def mark_embedded(self, track: Track, now: float | None = None) -> None:
        """Record that ``track.best`` was embedded."""
        track.embeds += 1
        track.embedded_quality = track.best.quality
        track.embedded_at = track.last_seen if now is None else now

    def _match(self, observations: Sequence[Observation]) -> list[tuple[int, int]]:
        candidates: list[tuple[float, int, int]] = []
        for track in self._tracks.values():
            for index, observation in enumerate(observations):
                score = self._affinity(track.box, observation.box)
                if score is not None:
                    candidates.append((score, track.track_id, index))
        candidates.sort(reverse=True)
        used_tracks: set[int] = set()
        used_obs: set[int] = set()
        pairs: list[tuple[int, int]] = []
        for _, track_id, index in candidates:
            if track_id not in used_tracks and index not in used_obs:
                used_tracks.add(track_id)
                used_obs.add(index)
                pairs.append((track_id, index))
        return pairs

    def _affinity(self, track_box: Box, box: Box) -> float | None:
        """Score in (0, 2]: 1 + IoU when boxes overlap enough, else a centroid score below 1."""
        overlap = iou(track_box, box)
        if overlap >= self.settings.iou_threshold:
            return 1.0 + overlap
        shift = centroid_distance(track_box, box) / max(1.0, _diagonal(track_box))
        if shift <= self.settings.max_centroid_shift and _similar_size(track_box, box):
            return 1.0 - shift / (self.settings.max_centroid_shift + 1e-9) * 0.999
        return None

    def _absorb(self, track: Track, observation: Observation, now: float) -> None:
        track.box = observation.box
        track.last_seen = now
        track.hits += 1
        track.last = observation
        if observation.quality > track.best.quality:
            track.best = observation

    def _create(self, observation: Observation, now: float) -> Track:
        track = Track(
            track_id=next(self._ids),
            kind=self.kind,
            box=observation.box,
            first_seen=now,
            last_seen=now,
            best=observation,
            last=observation,
        )
        self._tracks[track.track_id] = track
        return track


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def centroid_distance(a: Box, b: Box) -> float:
    """Distance in pixels between box centres."""
    return math.hypot((a[0] + a[2] / 2) - (b[0] + b[2] / 2), (a[1] + a[3] / 2) - (b[1] + b[3] / 2))


def _diagonal(box: Box) -> float:
    return math.hypot(box[2], box[3])


def _similar_size(a: Box, b: Box, ratio: float = 2.0) -> bool:
    area_a, area_b = max(a[2] * a[3], 1.0), max(b[2] * b[3], 1.0)
    return max(area_a, area_b) / min(area_a, area_b) <= ratio * ratio


def face_quality(image: ImageBGR, box: Box, confidence: float = 1.0, good_side_px: int = 112) -> float:
    """Quality 0..1 of a face crop: size (up to ``good_side_px``) x sharpness x confidence."""
    x, y, w, h = (round(v) for v in box)
    crop = image[max(0, y) : max(0, y + h), max(0, x) : max(0, x + w)]
    if crop.size == 0:
        return 0.0
    size_score = min(1.0, min(w, h) / good_side_px)
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    sharpness = float(cv2.Laplacian(grey, cv2.CV_64F).var())
    sharp_score = min(1.0, sharpness / 100.0)
    return round(size_score * (0.3 + 0.7 * sharp_score) * max(0.0, min(1.0, confidence)), 4)
