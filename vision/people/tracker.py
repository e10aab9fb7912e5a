"""People followed across frames: ids, a short pose history, and speeds relative to body size.

Speeds are in body heights per second so a person far from the camera and one close to it
compare: a walker's centre moves about 0.5-1.5 heights/s, a striking wrist several heights/s.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from vision.people.movenet import KP, Person
from vision.tracking import Observation, Tracker, TrackerSettings

HISTORY = 8
LIMBS = (KP["left_wrist"], KP["right_wrist"], KP["left_ankle"], KP["right_ankle"])
KEYPOINT_MIN_SCORE = 0.2


@dataclass(slots=True)
class PersonTrack:
    """One tracked person: the latest pose and the recent ones with their times."""

    track_id: int
    person: Person
    first_seen: float
    last_seen: float
    history: deque[tuple[float, Person]] = field(default_factory=lambda: deque(maxlen=HISTORY))

    @property
    def box(self) -> tuple[float, float, float, float]:
        """Latest box (x, y, w, h) in frame pixels."""
        return self.person.box

    @property
    def height(self) -> float:
        """Median box height over the history: a steadier body size than one frame's box."""
        return float(np.median([p.height for _, p in self.history])) if self.history else self.person.height

    @property
    def velocity(self) -> tuple[float, float]:
        """Centre velocity (vx, vy) in body heights per second over the history (0 with one sample)."""
        if len(self.history) < 2:
            return (0.0, 0.0)
        (t0, first), (t1, last) = self.history[0], self.history[-1]
        span = max(t1 - t0, 1e-3) * self.height
        (x0, y0), (x1, y1) = _centre(first.box), _centre(last.box)
        return ((x1 - x0) / span, (y1 - y0) / span)

    @property
    def speed(self) -> float:
        """Centre speed in body heights per second."""
        vx, vy = self.velocity
        return float(np.hypot(vx, vy))

    def limb_speed(self) -> float:
        """Fastest wrist or ankle between the last two poses, relative to the body's own movement,
        in body heights per second (0 when either pose lacks the limb)."""
        if len(self.history) < 2:
            return 0.0
        (t0, before), (t1, after) = self.history[-2], self.history[-1]
        dt = max(t1 - t0, 1e-3)
        shift = np.subtract(_centre(after.box), _centre(before.box))
        fastest = 0.0
        for index in LIMBS:
            a, b = before.keypoints[index], after.keypoints[index]
            if a[2] < KEYPOINT_MIN_SCORE or b[2] < KEYPOINT_MIN_SCORE:
                continue
            moved = np.hypot(*(np.subtract(b[:2], a[:2]) - shift))
            fastest = max(fastest, float(moved))
        return fastest / dt / self.height


class PersonTracker:
    """IoU/centroid matching of MoveNet people into ``PersonTrack``s (the shared ``vision.tracking`` rules)."""

    def __init__(self, settings: TrackerSettings | None = None) -> None:
        self._tracker = Tracker("person", settings or TrackerSettings(iou_threshold=0.2, max_age_s=2.0))
        self._tracks: dict[int, PersonTrack] = {}

    @property
    def tracks(self) -> list[PersonTrack]:
        """Tracks alive now, oldest first."""
        return list(self._tracks.values())

    def update(self, people: Sequence[Person], now: float) -> list[PersonTrack]:
        """Match this frame's people to tracks (new ids for new people); drop tracks not seen lately."""
        observations = [Observation(box=p.box, quality=p.score, at=now, payload=p) for p in people]
        current: list[PersonTrack] = []
        for person, track in zip(people, self._tracker.update(observations, now), strict=True):
            entry = self._tracks.get(track.track_id)
            if entry is None:
                entry = PersonTrack(track_id=track.track_id, person=person, first_seen=now, last_seen=now)
                self._tracks[track.track_id] = entry
            entry.person, entry.last_seen = person, now
            entry.history.append((now, person))
            current.append(entry)
        for gone in self._tracker.expire(now):
            self._tracks.pop(gone.track_id, None)
        return current

    def reset(self) -> None:
        """Forget every track (after a reconnect or a camera move)."""
        self._tracker.reset()
        self._tracks.clear()


def _centre(box: tuple[float, float, float, float]) -> tuple[float, float]:
    return (box[0] + box[2] / 2, box[1] + box[3] / 2)
