"""Turn a score stream into incident start/end events with min-duration, release and cooldown."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeVar

if TYPE_CHECKING:
    from vision.incidents.fight import FightScorer

logger = logging.getLogger(__name__)

Phase = Literal["start", "end"]

FIGHT_MIN_DURATION_S = 0.6  # model files that do not state their own
AGGRESSION_MIN_DURATION_S = 1.5
COOLDOWN_S = 10.0
RELEASE_S = 1.0


@dataclass(frozen=True)
class IncidentEvent:
    """A start or end of an incident of one kind ("fight", "aggression")."""

    kind: str
    phase: Phase
    t: float
    start_s: float
    end_s: float | None
    peak_score: float
    severity: str


class IncidentTrigger:
    """Hysteresis on a score: start after min_duration_s at or above threshold, end after release_s.

    A start is not raised before `cooldown_s` has passed since the previous end.
    """

    def __init__(
        self,
        threshold: float,
        min_duration_s: float,
        cooldown_s: float,
        *,
        kind: str = "fight",
        severity: str = "high",
        release_s: float = 0.0,
    ) -> None:
        """Configure the trigger; times are in seconds of the score stream."""
        self.threshold = threshold
        self.min_duration_s = min_duration_s
        self.cooldown_s = cooldown_s
        self.kind = kind
        self.severity = severity
        self.release_s = release_s
        self.active = False
        self._above_since: float | None = None
        self._below_since: float | None = None
        self._start_s = 0.0
        self._peak = 0.0
        self._blocked_until = float("-inf")

    def update(self, score: float, t: float) -> IncidentEvent | None:
        """Feed one score at time t; return an event when an incident starts or ends."""
        above = score >= self.threshold
        if self.active:
            return self._update_active(score, t, above)
        self._above_since = (self._above_since if self._above_since is not None else t) if above else None
        if self._above_since is None or t < self._blocked_until:
            return None
        if t - self._above_since + 1e-9 < self.min_duration_s:
            return None
        return self._start(score, t)

    def close(self, t: float) -> IncidentEvent | None:
        """End an active incident at the end of the stream."""
        return self._end(t) if self.active else None

    def _start(self, score: float, t: float) -> IncidentEvent:
        self.active = True
        self._start_s = self._above_since if self._above_since is not None else t
        self._peak = score
        self._below_since = None
        logger.info("%s incident started at %.2fs (score %.2f)", self.kind, self._start_s, score)
        return IncidentEvent(self.kind, "start", t, self._start_s, None, score, self.severity)

    def _update_active(self, score: float, t: float, above: bool) -> IncidentEvent | None:
        if above:
            self._peak = max(self._peak, score)
            self._below_since = None
            return None
        if self._below_since is None:
            self._below_since = t
        if t - self._below_since + 1e-9 < self.release_s:
            return None
        return self._end(self._below_since)

    def _end(self, end_s: float) -> IncidentEvent:
        self.active = False
        self._above_since = None
        self._below_since = None
        self._blocked_until = end_s + self.cooldown_s
        logger.info("%s incident ended at %.2fs", self.kind, end_s)
        return IncidentEvent(self.kind, "end", end_s, self._start_s, end_s, self._peak, self.severity)


def fight_triggers(scorer: FightScorer, cooldown_s: float = COOLDOWN_S) -> list[IncidentTrigger]:
    """The fight (high) and aggression (lower threshold, medium) triggers of a scorer's model.

    Live sessions and recorded-footage analysis both build theirs here. The fight trigger's min duration
    comes from the model file; the score it sees is already smoothed over the model's `smooth_s`.
    """
    model = scorer.model
    return [
        IncidentTrigger(
            model.threshold_fight,
            model.fight_min_duration_s,
            cooldown_s,
            kind="fight",
            severity="high",
            release_s=RELEASE_S,
        ),
        IncidentTrigger(
            model.threshold_aggression,
            AGGRESSION_MIN_DURATION_S,
            cooldown_s,
            kind="aggression",
            severity="medium",
            release_s=RELEASE_S,
        ),
    ]


Span = TypeVar("Span")


def fold_into_fights(
    spans: Sequence[Span], kind: Callable[[Span], str], start: Callable[[Span], float], end: Callable[[Span], float]
) -> list[Span]:
    """Ended incidents without the aggression that overlaps a fight: it is part of the fight."""
    fights = [s for s in spans if kind(s) == "fight"]
    return [
        s for s in spans if kind(s) == "fight" or not any(start(f) <= end(s) and start(s) <= end(f) for f in fights)
    ]
