"""People cues for the fight score: pairs of tracked people close together and how violently they move.

A fight involves two or more people about a body height apart whose limbs move fast relative to their
bodies, with flow that keeps changing direction where they are. For every update of the person stage
(`PersonTrack`s from `vision.people.tracker`) each pair of people of similar size (similar distance from
the camera) whose centres are within `CLOSE_HEIGHTS` body heights is measured:

- limb motion: wrists, elbows, knees and ankles relative to the body's own box, over the track's pose
  history, in body heights per second (a walker's swinging arm moves ~1, a strike several);
- approach: how fast the pair's distance shrank over that history, in heights per second;
- reach: a wrist of one inside (or at) the other's box;
- raised arm: a wrist above its shoulder;
- flow in the pair's union box (from the flow window's 8x8 cell summaries): its motion energy density
  against the whole frame's, and how much of it cancels out over the window (scuffles swing back and
  forth, walkers move one way).

Two people grappling often merge into one skeleton; counting a wide box as a pair with itself opened the
gate on 5 % more fight clips but on single close-up people in normal footage (a stage show, a doorway), so
it is not done. The window's cues are the element-wise
maximum over the pairs seen in the last `window_s` seconds; `has_pair` tells the scorer whether any close
pair was seen lately (the people gate).
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from vision.incidents.flow import FloatArray
from vision.people.movenet import KP, Person
from vision.people.tracker import PersonTrack

PEOPLE_FEATURE_NAMES: tuple[str, ...] = (
    "pair_close",
    "pair_limb",
    "pair_limb_min",
    "pair_approach",
    "pair_reach",
    "pair_raised",
    "pair_flow",
    "pair_incoherence",
    "pair_count",
    "pair_still",
    "pair_unsteady",
    "pair_reversal",
)
CLOSE_HEIGHTS = 1.5
MIN_HEIGHT_RATIO = 0.5
# People fighting stay roughly in place: on the labelled fight clips the faster of a close pair moves its
# box centre at a median 0.27 body heights per second (75 % under 0.41); walkers passing each other
# (vtest.avi) at a median 0.61. A pair in which someone moves faster than this is passing, not fighting.
IN_PLACE_SPEED = 0.5
SAME_DEPTH = 0.4
FRESH_S = 0.6  # a track not seen for this long is not part of the current scene
KEYPOINT_MIN = 0.2
_LIMB_POINTS = tuple(
    KP[name]
    for name in (
        "left_elbow",
        "right_elbow",
        "left_wrist",
        "right_wrist",
        "left_knee",
        "right_knee",
        "left_ankle",
        "right_ankle",
    )
)
_WRISTS = (KP["left_wrist"], KP["right_wrist"])
_SHOULDERS = (KP["left_shoulder"], KP["right_shoulder"])
_EPS = 1e-9
_CAP = 10.0  # heights per second: faster is a tracking jump, not a limb

Box = tuple[float, float, float, float]
PairKey = tuple[int, int]


def _centre(box: Box) -> tuple[float, float]:
    return (box[0] + box[2] / 2.0, box[1] + box[3] / 2.0)


def limb_motion(track: PersonTrack) -> float:
    """Mean over the pose history of the fastest limb point's speed relative to the box, in heights/s."""
    history = list(track.history)
    if len(history) < 2:
        return 0.0
    height = max(track.height, 1.0)
    speeds = []
    for (t0, a), (t1, b) in itertools.pairwise(history):
        dt = t1 - t0
        if dt <= 1e-3:
            continue
        shift = np.subtract(_centre(b.box), _centre(a.box))
        ka, kb = a.keypoints[list(_LIMB_POINTS)], b.keypoints[list(_LIMB_POINTS)]
        seen = (ka[:, 2] >= KEYPOINT_MIN) & (kb[:, 2] >= KEYPOINT_MIN)
        if not seen.any():
            continue
        moved = np.hypot(*((kb[seen, :2] - ka[seen, :2]) - shift).T)
        speeds.append(min(float(moved.max()) / dt / height, _CAP))
    return float(np.mean(speeds)) if speeds else 0.0


def raised_arm(person: Person) -> float:
    """1 when a wrist is above its shoulder (image y grows downwards), else 0."""
    for wrist, shoulder in zip(_WRISTS, _SHOULDERS, strict=True):
        w, s = person.keypoints[wrist], person.keypoints[shoulder]
        if w[2] >= KEYPOINT_MIN and s[2] >= KEYPOINT_MIN and w[1] < s[1]:
            return 1.0
    return 0.0


def reach(person: Person, other: Box) -> float:
    """1 when a wrist of `person` is inside `other`'s box grown by 10 %, falling off with distance."""
    x, y, w, h = other
    best = 0.0
    for wrist in _WRISTS:
        px, py, score = person.keypoints[wrist]
        if score < KEYPOINT_MIN:
            continue
        dx = max(x - 0.1 * w - px, 0.0, px - (x + 1.1 * w))
        dy = max(y - 0.1 * h - py, 0.0, py - (y + 1.1 * h))
        best = max(best, math.exp(-math.hypot(dx, dy) / max(h, 1.0) * 4.0))
    return best


def _union(a: Box, b: Box) -> Box:
    x0, y0 = min(a[0], b[0]), min(a[1], b[1])
    x1, y1 = max(a[0] + a[2], b[0] + b[2]), max(a[1] + a[3], b[1] + b[3])
    return (x0, y0, x1 - x0, y1 - y0)


def box_flow(window: npt.NDArray[Any] | None, box: Box, frame_hw: tuple[int, int]) -> tuple[float, float, float, float]:
    """Flow inside a box over a window of fine flow grids shaped (pairs, rows, cols, [vx, vy, energy]).

    Returns (energy density in the box / the frame's, 1 - temporal coherence of the box's blocks,
    1 - net motion of the whole box, share of the box's energy whose block reversed direction since the
    previous pair). Walkers move one way (coherent, net motion high); people hitting and grappling swing
    back and forth in place.
    """
    if window is None or len(window) < 2 or frame_hw[0] <= 0:
        return 0.0, 0.0, 0.0, 0.0
    rows, cols = window.shape[1:3]
    h, w = frame_hw
    grow_x, grow_y = 0.1 * box[2], 0.1 * box[3]
    c0 = max(0, int((box[0] - grow_x) / w * cols))
    c1 = min(cols, math.ceil((box[0] + box[2] + grow_x) / w * cols))
    r0 = max(0, int((box[1] - grow_y) / h * rows))
    r1 = min(rows, math.ceil((box[1] + box[3] + grow_y) / h * rows))
    if c1 <= c0 or r1 <= r0:
        return 0.0, 0.0, 0.0, 0.0
    data = window.astype(np.float32)
    inside = data[:, r0:r1, c0:c1]
    energy = float(inside[..., 2].sum())
    total = float(data[..., 2].sum())
    if energy <= _EPS or total <= _EPS:
        return 0.0, 0.0, 0.0, 0.0
    density = (energy / inside[0, ..., 2].size) / (total / data[0, ..., 2].size)
    vx, vy = inside[..., 0], inside[..., 1]
    coherence = float(np.hypot(vx.sum(axis=0), vy.sum(axis=0)).sum()) / energy
    net = float(math.hypot(float(vx.sum()), float(vy.sum()))) / energy
    dot = vx[1:] * vx[:-1] + vy[1:] * vy[:-1]
    later = inside[1:, ..., 2]
    reversal = float(((dot < 0) * later).sum()) / max(float(later.sum()), _EPS)
    return (
        min(density, _CAP),
        float(np.clip(1.0 - coherence, 0.0, 1.0)),
        float(np.clip(1.0 - net, 0.0, 1.0)),
        reversal,
    )


def pair_distance(a: PersonTrack, b: PersonTrack) -> float | None:
    """Centre distance in body heights of two people close enough to fight; None otherwise.

    Close: similar size (similar distance from the camera), feet at about the same image height (one
    does not stand behind the other), centres within CLOSE_HEIGHTS, both roughly in place.
    """
    ha, hb = max(a.height, 1.0), max(b.height, 1.0)
    height = (ha + hb) / 2.0
    if min(ha, hb) / max(ha, hb) < MIN_HEIGHT_RATIO:
        return None
    distance = math.dist(_centre(a.box), _centre(b.box)) / height
    if distance > CLOSE_HEIGHTS or max(a.speed, b.speed) > IN_PLACE_SPEED:
        return None
    if abs((a.box[1] + a.box[3]) - (b.box[1] + b.box[3])) / height > SAME_DEPTH:
        return None
    return distance


def any_close_pair(tracks: Sequence[PersonTrack]) -> bool:
    """Whether two of the people are a close pair (the people gate, without measuring any cue)."""
    return any(pair_distance(a, b) is not None for i, a in enumerate(tracks) for b in tracks[i + 1 :])


def _pair_vector(
    a: PersonTrack, b: PersonTrack, window: npt.NDArray[Any] | None, frame_hw: tuple[int, int]
) -> FloatArray | None:
    """Cues of one pair (PEOPLE_FEATURE_NAMES without the count); None when they are not close."""
    ha, hb = max(a.height, 1.0), max(b.height, 1.0)
    height = (ha + hb) / 2.0
    distance = pair_distance(a, b)
    if distance is None:
        return None
    approach = _approach(a, b, height)
    touch = max(reach(a.person, b.box), reach(b.person, a.box))
    limbs = (limb_motion(a), limb_motion(b))
    flow, incoherence, unsteady, reversal = box_flow(window, _union(a.box, b.box), frame_hw)
    (vax, vay), (vbx, vby) = a.velocity, b.velocity
    still = 1.0 / (1.0 + math.hypot((vax + vbx) / 2.0, (vay + vby) / 2.0))
    return np.asarray(
        (
            CLOSE_HEIGHTS - distance,
            max(limbs),
            min(limbs),
            approach,
            touch,
            max(raised_arm(a.person), raised_arm(b.person)),
            flow,
            incoherence,
            still,
            unsteady,
            reversal,
        ),
        dtype=np.float32,
    )


def _approach(a: PersonTrack, b: PersonTrack, height: float) -> float:
    """How fast the pair's centre distance shrank over their common history, heights per second (>= 0)."""
    times_a = {t: p for t, p in a.history}
    common = [(t, times_a[t], p) for t, p in b.history if t in times_a]
    if len(common) < 2:
        return 0.0
    (t0, a0, b0), (t1, a1, b1) = common[0], common[-1]
    before = math.dist(_centre(a0.box), _centre(b0.box))
    after = math.dist(_centre(a1.box), _centre(b1.box))
    return float(min(max(before - after, 0.0) / height / max(t1 - t0, 1e-3), _CAP))


def close_pairs(
    tracks: Sequence[PersonTrack], window: npt.NDArray[Any] | None, frame_hw: tuple[int, int]
) -> dict[PairKey, FloatArray]:
    """Cues of every close pair by their track ids (the per-pair PEOPLE_FEATURE_NAMES)."""
    found: dict[PairKey, FloatArray] = {}
    for i, a in enumerate(tracks):
        for b in tracks[i + 1 :]:
            vector = _pair_vector(a, b, window, frame_hw)
            if vector is not None:
                found[(min(a.track_id, b.track_id), max(a.track_id, b.track_id))] = vector
    return found


class PeopleCues:
    """The people half of a fight window: pair cues of recent person-stage updates (see the module doc)."""

    def __init__(self, window_s: float = 1.0, gate_s: float = 3.0, *, cues: bool = True) -> None:
        """Keep cues of the last `window_s` s; `has_pair` looks back `gate_s` s.

        `cues=False` (a model that uses no pair cue, only the gate): only whether a close pair is seen.
        """
        self.window_s = window_s
        self.gate_s = gate_s
        self.cues = cues
        self._cues: deque[tuple[float, FloatArray]] = deque()
        self._last_people_t: float | None = None
        self._last_pair_t = float("-inf")

    def reset(self) -> None:
        """Forget everything (camera moved, reconnect)."""
        self._cues.clear()
        self._last_people_t = None
        self._last_pair_t = float("-inf")

    def update(
        self,
        t: float,
        tracks: Sequence[PersonTrack],
        window: Callable[[], npt.NDArray[Any] | None],
        frame_hw: tuple[int, int],
    ) -> None:
        """Take the person stage's tracks when they are new (their latest sighting is newer than the last seen).

        `window` gives the flow window's fine grids; it is called only when new tracks are measured.
        """
        if not tracks:
            return
        seen = max(track.last_seen for track in tracks)
        if self._last_people_t is not None and seen <= self._last_people_t:
            return
        self._last_people_t = seen
        fresh = [track for track in tracks if track.last_seen >= seen - FRESH_S]
        if not self.cues:
            if any_close_pair(fresh):
                self._last_pair_t = t
            return
        pairs = close_pairs(fresh, window(), frame_hw)
        if pairs:
            best = np.max(np.stack(list(pairs.values())), axis=0)
            cues = np.concatenate([best[:8], [float(len(pairs))], best[8:]]).astype(np.float32)
            self._cues.append((t, cues))
            self._last_pair_t = t

    def has_pair(self, t: float) -> bool:
        """True when a close pair was seen in the last `gate_s` seconds."""
        return t - self._last_pair_t <= self.gate_s

    def vector(self, t: float) -> FloatArray:
        """PEOPLE_FEATURE_NAMES values over the last `window_s` seconds (zeros when no pair was seen)."""
        while self._cues and self._cues[0][0] < t - self.window_s:
            self._cues.popleft()
        if not self._cues:
            return np.zeros(len(PEOPLE_FEATURE_NAMES), dtype=np.float32)
        return np.asarray(np.max(np.stack([c for _, c in self._cues]), axis=0), dtype=np.float32)
