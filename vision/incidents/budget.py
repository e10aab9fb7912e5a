"""A camera's false-alert budget: replay the incident trigger over its own scores and pick thresholds.

The live trigger (`trigger.IncidentTrigger`) turns a smoothed score into incidents: a start once the
score has stayed at or above the threshold for the minimum duration (and the cooldown since the last
end has passed), an end once it has stayed below for the release time. `replay` gives exactly the
same starts for a whole recorded stream at once (working on runs above the threshold, not on every
sample), so the number of alerts a camera would have raised over hours of its own footage can be
counted for every candidate threshold in seconds.

`calibrate` moves the fight and aggression thresholds together (keeping the model's gap between
them, as the sensitivity does, until fight reaches the top) and picks the lowest pair from which
every stricter one keeps the camera's alerts (fight + aggression, aggression during a fight not
counted: the live stage raises one alert) within the budget. The rate it compares with the budget
is the one-sided Poisson upper bound (`CONFIDENCE`) on the alerts seen in that many hours, so a
short window cannot look better than it is; below `minimum_hours` even a window without a single
alert could not show the budget holds, and the result says "not enough footage".

`reference_recall` reads the labelled reference the model file carries (`meta`): per labelled fight
clip, the highest level its smoothed score sustains for the trigger's minimum duration
(`sustained_peak`, computed out-of-fold by `tools.train_fight`); the share of clips whose peak
reaches a threshold is the share of those fights an alert would still catch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy.special import gammaincinv

from vision.incidents.fight import FightModel
from vision.incidents.trigger import AGGRESSION_MIN_DURATION_S, RELEASE_S

logger = logging.getLogger(__name__)

Times = npt.NDArray[np.float64]
Scores = npt.NDArray[np.float64]

GRID = 0.01  # thresholds are chosen (and live scores stored) on this grid
THRESHOLD_MIN = 0.05  # the bounds IncidentStage clamps thresholds to
THRESHOLD_MAX = 0.99
CONFIDENCE = 0.95  # one-sided Poisson upper bound compared with the budget
BUDGET_MIN = 0.1  # alerts per hour an operator may set (venues.Camera bounds)
BUDGET_MAX = 30.0
_EPS = 1e-9  # the trigger's own tolerance on durations

Status = Literal["ok", "not_enough_footage", "unreachable"]
Bound = Literal["exact", "at_least", "at_most", "approximate"]


@dataclass(frozen=True)
class ScoreSegment:
    """Scores without a gap: times (seconds, increasing) with the fight and the aggression score."""

    t: Times
    fight: Scores
    aggression: Scores
    wall_start: float = 0.0  # epoch seconds of the first sample, when known

    def duration_s(self) -> float:
        """Seconds the segment covers (its last sample counts for one typical step)."""
        if len(self.t) == 0:
            return 0.0
        step = float(np.median(np.diff(self.t))) if len(self.t) > 1 else 0.0
        return float(self.t[-1] - self.t[0]) + step


def footage_hours(segments: Sequence[ScoreSegment]) -> float:
    """Hours of scored footage in the segments."""
    return sum(s.duration_s() for s in segments) / 3600.0


@dataclass(frozen=True)
class TriggerTiming:
    """The live trigger's timing: minimum durations, cooldown and release (seconds)."""

    fight_min_duration_s: float
    aggression_min_duration_s: float
    cooldown_s: float
    release_s: float = RELEASE_S


@dataclass(frozen=True, slots=True)
class CalibratedThresholds:
    """A camera's calibrated fight and aggression thresholds and the model (fingerprint) they hold for."""

    fight: float
    aggression: float
    model: str


def camera_timing(model: FightModel, *, min_duration_s: float, cooldown_s: float) -> TriggerTiming:
    """The timing IncidentStage gives a camera: the camera's minimum duration can only make it stricter."""
    return TriggerTiming(
        fight_min_duration_s=max(model.fight_min_duration_s, min_duration_s),
        aggression_min_duration_s=max(AGGRESSION_MIN_DURATION_S, min_duration_s),
        cooldown_s=cooldown_s,
    )


def _first_reaching(t: Times, origin: npt.NDArray[np.intp], seconds: float) -> npt.NDArray[np.intp]:
    """Per origin sample i, the first j >= i with t[j] - t[i] + _EPS >= seconds (len(t) when none).

    The same comparison as the trigger's (a search, then a one-step correction for rounding).
    """
    n = len(t)
    j = np.maximum(np.searchsorted(t, t[origin] + seconds - _EPS, side="left"), origin)
    late = (j > origin) & (t[np.maximum(j - 1, 0)] - t[origin] + _EPS >= seconds)
    j = np.where(late, j - 1, j)
    early = (j < n) & (t[np.minimum(j, n - 1)] - t[origin] + _EPS < seconds)
    return np.where(early, j + 1, j)


def replay(
    t: Times, score: Scores, threshold: float, min_duration_s: float, cooldown_s: float, release_s: float
) -> list[tuple[int, int]]:
    """(start, end) sample indices of the incidents IncidentTrigger raises on this stream.

    `start` is the sample whose update returns the start event; `end` the sample whose update ends
    it (the trigger is inactive again from there), or len(t) when it is still active at the end.
    Works on the runs of samples at or above the threshold: run r is due at its first sample held
    for the minimum duration, the below-run after it releases an incident when it lasts the release
    time; only the cooldown needs a walk, and it visits only runs that could start an incident.
    """
    n = len(t)
    above = score >= threshold
    flips = np.flatnonzero(above[1:] != above[:-1]) + 1
    if n == 0 or (len(flips) == 0 and not above[0]):
        return []
    bounds = np.concatenate(([0], flips, [n])) if above[0] else np.concatenate((flips, [n]))
    starts, ends = bounds[0:-1:2], bounds[1::2]
    runs = len(starts)
    due = _first_reaching(t, starts, min_duration_s)
    inside = ends < n
    released = np.full(runs, n, dtype=np.intp)
    released[inside] = _first_reaching(t, ends[inside], release_s)
    below_end = np.append(starts[1:], n)
    releasing = inside & (released < below_end)
    order = np.arange(runs)
    next_release = np.minimum.accumulate(np.where(releasing, order, runs)[::-1])[::-1]
    next_due = np.minimum.accumulate(np.where(due < ends, order, runs)[::-1])[::-1]
    return _walk(
        t,
        [int(v) for v in due],
        [int(v) for v in ends],
        [int(v) for v in released],
        [int(v) for v in next_release],
        [int(v) for v in next_due],
        cooldown_s,
    )


def _walk(
    t: Times,
    due: list[int],
    ends: list[int],
    released: list[int],
    next_release: list[int],
    next_due: list[int],
    cooldown_s: float,
) -> list[tuple[int, int]]:
    """Start incidents run by run, honouring the cooldown after each end."""
    n, runs = len(t), len(due)
    incidents: list[tuple[int, int]] = []
    blocked_until = -math.inf
    r = next_due[0]
    while r < runs:
        start = due[r]
        if t[start] < blocked_until:
            start = max(start, int(np.searchsorted(t, blocked_until, side="left")))
        if start >= ends[r]:
            r = next_due[r + 1] if r + 1 < runs else runs
            continue
        q = next_release[r]
        if q >= runs:
            incidents.append((start, n))
            break
        incidents.append((start, released[q]))
        blocked_until = float(t[ends[q]]) + cooldown_s
        r = next_due[q + 1] if q + 1 < runs else runs
    return incidents


@dataclass(frozen=True)
class AlertCount:
    """Alerts a pair of thresholds raises on the footage (aggression during a fight not counted)."""

    fight_threshold: float
    aggression_threshold: float
    fight: int
    aggression: int

    @property
    def total(self) -> int:
        """Fight and aggression alerts together."""
        return self.fight + self.aggression


def joined(segments: Sequence[ScoreSegment], timing: TriggerTiming) -> ScoreSegment:
    """All segments as one stream that replays like a fresh trigger per segment.

    Between segments go two samples below any threshold, further apart than the release, the
    cooldown and the minimum durations: whatever was active ends, and nothing carries over.
    """
    gap = timing.release_s + timing.cooldown_s + timing.fight_min_duration_s + timing.aggression_min_duration_s + 10.0
    parts_t: list[Times] = []
    parts_f: list[Scores] = []
    parts_a: list[Scores] = []
    offset = 0.0
    for seg in segments:
        if len(seg.t) == 0:
            continue
        shift = offset - float(seg.t[0])
        parts_t += [
            seg.t + shift,
            np.array([offset + seg.t[-1] - seg.t[0] + 1e-3, offset + seg.t[-1] - seg.t[0] + gap]),
        ]
        parts_f += [seg.fight, np.array([-1.0, -1.0])]
        parts_a += [seg.aggression, np.array([-1.0, -1.0])]
        offset += float(seg.t[-1] - seg.t[0]) + gap + 1e-3
    if not parts_t:
        empty = np.zeros(0, dtype=np.float64)
        return ScoreSegment(empty, empty, empty)
    return ScoreSegment(np.concatenate(parts_t), np.concatenate(parts_f), np.concatenate(parts_a))


def count_alerts(
    segments: Sequence[ScoreSegment], fight_threshold: float, aggression_threshold: float, timing: TriggerTiming
) -> AlertCount:
    """Replay both triggers over the footage (a fresh trigger per segment, as a new session has).

    Aggression starting while a fight is active is part of the fight (IncidentStage raises one alert).
    """
    seg = segments[0] if len(segments) == 1 else joined(segments, timing)
    fight = replay(seg.t, seg.fight, fight_threshold, timing.fight_min_duration_s, timing.cooldown_s, timing.release_s)
    aggression = replay(
        seg.t,
        seg.aggression,
        aggression_threshold,
        timing.aggression_min_duration_s,
        timing.cooldown_s,
        timing.release_s,
    )
    fight_starts = np.array([a for a, _ in fight], dtype=np.intp)
    fight_ends = np.array([b for _, b in fight], dtype=np.intp)
    starts = np.array([a for a, _ in aggression], dtype=np.intp)
    during = np.searchsorted(fight_starts, starts, side="right") - 1
    in_fight = (
        (during >= 0) & (starts < fight_ends[np.maximum(during, 0)]) if len(fight) else np.zeros(len(starts), bool)
    )
    return AlertCount(fight_threshold, aggression_threshold, len(fight), int((~in_fight).sum()))


def poisson_upper(events: int, confidence: float = CONFIDENCE) -> float:
    """One-sided upper confidence bound on a Poisson mean after seeing `events` (Garwood)."""
    return float(gammaincinv(events + 1, confidence))


def minimum_hours(budget_per_hour: float, confidence: float = CONFIDENCE) -> float:
    """Hours of footage below which even zero alerts cannot show the rate is within the budget."""
    return poisson_upper(0, confidence) / budget_per_hour


def threshold_grid(model: FightModel) -> list[tuple[float, float]]:
    """Candidate (fight, aggression) pairs on GRID, each at least as strict as the one before.

    Both move together, aggression keeping the model's gap below fight; once fight reaches
    THRESHOLD_MAX, aggression goes on up to it (the strictest pair is THRESHOLD_MAX for both).
    """
    gap = max(0.0, round(model.threshold_fight - model.threshold_aggression, 2))
    steps = round((THRESHOLD_MAX - THRESHOLD_MIN) / GRID)
    levels = [round(THRESHOLD_MIN + i * GRID, 2) for i in range(steps + 1)]
    pairs = [(fight, round(max(THRESHOLD_MIN, fight - gap), 2)) for fight in levels]
    pairs += [(THRESHOLD_MAX, aggression) for aggression in levels if aggression > pairs[-1][1]]
    return pairs


@dataclass(frozen=True)
class BudgetResult:
    """What `calibrate` found: status, the chosen thresholds and the rate on the camera's footage."""

    status: Status
    budget_per_hour: float
    hours: float
    minimum_hours: float
    fight_threshold: float | None = None
    aggression_threshold: float | None = None
    fight_alerts: int = 0
    aggression_alerts: int = 0
    alerts_per_hour: float | None = None  # seen on the footage at the chosen thresholds
    upper_per_hour: float | None = None  # the CONFIDENCE upper bound compared with the budget
    curve: list[dict[str, float]] = field(default_factory=list)  # every 0.05: thresholds, alerts/h, upper
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)


def calibrate(
    segments: Sequence[ScoreSegment],
    *,
    model: FightModel,
    timing: TriggerTiming,
    budget_per_hour: float,
    confidence: float = CONFIDENCE,
) -> BudgetResult:
    """The lowest thresholds from which every stricter pair keeps the alerts' upper bound within budget."""
    if not BUDGET_MIN <= budget_per_hour <= BUDGET_MAX:
        raise ValueError(f"the budget must be {BUDGET_MIN:g}-{BUDGET_MAX:g} alerts per hour, got {budget_per_hour}")
    hours = footage_hours(segments)
    needed = minimum_hours(budget_per_hour, confidence)
    rounded = round(hours, 4)
    if hours < needed:
        return BudgetResult(
            "not_enough_footage",
            budget_per_hour,
            rounded,
            round(needed, 2),
            message=f"{hours:.2f} h of scored footage; at least {needed:.2f} h are needed to show "
            f"{budget_per_hour:g} alert(s) per hour at {confidence:.0%} confidence",
        )
    chosen, curve = _search(segments, model, timing, budget_per_hour, hours, confidence)
    if chosen is None:
        strictest = curve[-1]
        return BudgetResult(
            "unreachable",
            budget_per_hour,
            rounded,
            round(needed, 2),
            curve=curve,
            message=f"even at the strictest thresholds the footage gives up to {strictest['upper_per_hour']:.1f} "
            f"alerts per hour (budget {budget_per_hour:g}); exclude busy areas, use a schedule or raise the budget",
        )
    rate = chosen.total / hours
    return BudgetResult(
        "ok",
        budget_per_hour,
        rounded,
        round(needed, 2),
        fight_threshold=chosen.fight_threshold,
        aggression_threshold=chosen.aggression_threshold,
        fight_alerts=chosen.fight,
        aggression_alerts=chosen.aggression,
        alerts_per_hour=round(rate, 4),
        upper_per_hour=round(poisson_upper(chosen.total, confidence) / hours, 4),
        curve=curve,
    )


def _search(
    segments: Sequence[ScoreSegment],
    model: FightModel,
    timing: TriggerTiming,
    budget_per_hour: float,
    hours: float,
    confidence: float,
) -> tuple[AlertCount | None, list[dict[str, float]]]:
    """Walk the grid from the strictest pair down; stop at the first pair over budget."""
    chosen: AlertCount | None = None
    curve: list[dict[str, float]] = []
    footage = [joined(segments, timing)]
    for fight, aggression in reversed(threshold_grid(model)):
        count = count_alerts(footage, fight, aggression, timing)
        upper = poisson_upper(count.total, confidence) / hours
        if round(fight * 100) % 5 == 0 or upper > budget_per_hour:
            curve.append(_curve_point(count, hours, upper))
        if upper > budget_per_hour:
            break
        chosen = count
    return chosen, sorted(curve, key=lambda p: p["fight_threshold"], reverse=True)


def _curve_point(count: AlertCount, hours: float, upper: float) -> dict[str, float]:
    return {
        "fight_threshold": count.fight_threshold,
        "aggression_threshold": count.aggression_threshold,
        "alerts": count.total,
        "alerts_per_hour": round(count.total / hours, 4),
        "upper_per_hour": round(upper, 4),
    }


# --- the labelled reference the model file carries ---------------------------------------------


def sustained_peak(t: Times, score: Scores, min_duration_s: float) -> float:
    """The highest threshold at which the trigger fires on this stream: the best level held for the duration.

    The trigger starts once every sample from `i` to `j` is at or above the threshold and
    t[j] - t[i] reaches the minimum duration; so the answer is the largest min(score[i..j]) over the
    shortest such spans. 0 when the stream is shorter than the duration.
    """
    best = 0.0
    for i in range(len(t)):
        reached = np.flatnonzero(t[i:] - t[i] + _EPS >= min_duration_s)
        if len(reached) == 0:
            break
        best = max(best, float(np.min(score[i : i + int(reached[0]) + 1])))
    return best


def reference_peaks(streams: Sequence[tuple[Times, Scores]], min_duration_s: float) -> list[float]:
    """`sustained_peak` of every stream, rounded down to 4 decimals (never overstating a clip)."""
    return [math.floor(sustained_peak(t, s, min_duration_s) * 10_000) / 10_000 for t, s in streams]


def scored_seconds(t: Times, score: Scores) -> float:
    """Seconds of a clip's stream from its first non-zero score (after the scorer's warm-up) to its end."""
    scored = np.flatnonzero(score > 0)
    return float(t[-1] - t[scored[0]]) if len(scored) else 0.0


@dataclass(frozen=True)
class ReferenceRecall:
    """Share of the reference's labelled fight clips an alert would catch at a pair of thresholds.

    Only clips whose scored part lasts the minimum duration count (the reference clips are 1-3.6 s
    cut from longer fights: a 2 s clip cannot show whether a fight holds a score for 3 s). `bound`
    says how the figure relates to the camera's minimum duration: "exact" when the reference holds
    peaks for it, "at_least" when only for a longer one (peaks held longer are lower), "at_most"
    when only for a shorter one.
    """

    fight: float
    any_alert: float
    clips: int
    min_duration_s: float
    bound: Bound


def _peak_tables(meta: Mapping[str, Any], kind: str, default_duration: float) -> dict[float, list[float]]:
    """Duration -> peaks of one kind from the model's meta (base list plus the optional table)."""
    tables: dict[float, list[float]] = {}
    base = meta.get(f"reference_{kind}_peaks")
    if isinstance(base, list):
        durations = meta.get("reference_peak_min_duration_s", {})
        tables[float(durations.get(kind, default_duration))] = [float(p) for p in base]
    for duration, peaks in dict(meta.get(f"reference_{kind}_peaks_by_duration", {})).items():
        tables[float(duration)] = [float(p) for p in peaks]
    return tables


def _peaks_for(tables: dict[float, list[float]], duration: float) -> tuple[list[float], Bound, float] | None:
    """(peaks, bound, their duration) for `duration`, else the nearest longer one, else the nearest shorter."""
    for known, peaks in tables.items():
        if abs(known - duration) < 1e-6:
            return peaks, "exact", known
    longer = sorted(d for d in tables if d > duration)
    if longer:
        return tables[longer[0]], "at_least", longer[0]
    shorter = sorted(d for d in tables if d < duration)
    return (tables[shorter[-1]], "at_most", shorter[-1]) if shorter else None


def _combined(bounds: set[Bound]) -> Bound:
    if bounds <= {"exact"}:
        return "exact"
    if bounds <= {"exact", "at_least"}:
        return "at_least"
    if bounds <= {"exact", "at_most"}:
        return "at_most"
    return "approximate"


def reference_recall(
    model: FightModel, fight_threshold: float, aggression_threshold: float, timing: TriggerTiming
) -> ReferenceRecall | None:
    """Recall on the model's labelled reference at these thresholds; None when it has nothing to say."""
    fight = _peaks_for(_peak_tables(model.meta, "fight", model.fight_min_duration_s), timing.fight_min_duration_s)
    aggression = _peaks_for(
        _peak_tables(model.meta, "aggression", AGGRESSION_MIN_DURATION_S), timing.aggression_min_duration_s
    )
    if fight is None or not fight[0]:
        return None
    fight_peaks = np.asarray(fight[0])
    seconds = model.meta.get("reference_clip_scored_s")
    long_enough = np.ones(len(fight_peaks), dtype=bool)
    if isinstance(seconds, list) and len(seconds) == len(fight_peaks):
        long_enough = np.asarray(seconds, dtype=np.float64) + 1e-6 >= fight[2]
    if not long_enough.any():
        return None
    caught = fight_peaks >= fight_threshold
    bounds: set[Bound] = {fight[1]}
    any_alert = caught
    if aggression is not None and len(aggression[0]) == len(fight_peaks):
        any_alert = caught | (np.asarray(aggression[0]) >= aggression_threshold)
        bounds.add(aggression[1])
    return ReferenceRecall(
        fight=round(float(caught[long_enough].mean()), 4),
        any_alert=round(float(any_alert[long_enough].mean()), 4),
        clips=int(long_enough.sum()),
        min_duration_s=fight[2],
        bound=_combined(bounds),
    )


# --- which scores a calibration belongs to -----------------------------------------------------


_NOT_SCORING = ("meta", "threshold_fight", "threshold_aggression", "fight_min_duration_s")


def model_fingerprint(model: FightModel) -> str:
    """A short hash of what shapes the model's scores: calibrated thresholds hold only for that score."""
    scoring = {k: v for k, v in asdict(model).items() if k not in _NOT_SCORING}
    payload = json.dumps(scoring, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(payload).hexdigest()[:16]


def zones_fingerprint(exclude: Sequence[Sequence[tuple[float, float]]]) -> str:
    """A short hash of the excluded areas (order-independent): they change what the score sees."""
    polygons = sorted(json.dumps([[round(float(x), 4), round(float(y), 4)] for x, y in p]) for p in exclude)
    return hashlib.sha256("|".join(polygons).encode()).hexdigest()[:16]
