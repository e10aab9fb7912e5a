"""Crowd events from a (smoothed) people-count stream: over capacity and rapid gathering."""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import Literal

from vision.incidents.trigger import IncidentTrigger

logger = logging.getLogger(__name__)

CrowdKind = Literal["over_capacity", "rapid_gathering"]


@dataclass(frozen=True)
class CrowdEvent:
    """A crowd incident with the count history that led to it."""

    kind: CrowdKind
    t: float
    count: float
    capacity: int | None
    rate_per_min: float
    history: tuple[tuple[float, float], ...]


class CrowdMonitor:
    """Raise over_capacity (count > capacity) and rapid_gathering (rise per minute > max rate).

    Each condition must hold for `min_duration_s`; after it clears, the same kind is not raised
    again within `cooldown_s`. The rate is the rise over the lowest count of the last minute.
    """

    def __init__(
        self,
        capacity: int | None,
        max_rate_per_min: float | None,
        min_duration_s: float,
        cooldown_s: float,
        *,
        rate_window_s: float = 60.0,
        history_s: float = 120.0,
    ) -> None:
        """Configure limits; None disables that check."""
        self.capacity = capacity
        self.max_rate_per_min = max_rate_per_min
        self.rate_window_s = rate_window_s
        self.history_s = history_s
        self._history: deque[tuple[float, float]] = deque()
        self._capacity = IncidentTrigger(0.5, min_duration_s, cooldown_s, kind="over_capacity")
        self._gathering = IncidentTrigger(0.5, min_duration_s, cooldown_s, kind="rapid_gathering")

    def rate_per_min(self, t: float) -> float:
        """People added per minute: current count minus the lowest count of the rate window."""
        recent = [c for ts, c in self._history if ts >= t - self.rate_window_s]
        if not recent:
            return 0.0
        return (recent[-1] - min(recent)) * 60.0 / self.rate_window_s

    def update(self, count: float, t: float) -> list[CrowdEvent]:
        """Feed one count at time t; return the events that start now."""
        self._history.append((t, count))
        while self._history and self._history[0][0] < t - self.history_s:
            self._history.popleft()
        rate = self.rate_per_min(t)
        events = []
        if self.capacity is not None:
            over = 1.0 if count > self.capacity else 0.0
            if self._fires(self._capacity, over, t):
                events.append(self._event("over_capacity", t, count, rate))
        if self.max_rate_per_min is not None:
            fast = 1.0 if rate > self.max_rate_per_min else 0.0
            if self._fires(self._gathering, fast, t):
                events.append(self._event("rapid_gathering", t, count, rate))
        return events

    @staticmethod
    def _fires(trigger: IncidentTrigger, value: float, t: float) -> bool:
        event = trigger.update(value, t)
        return event is not None and event.phase == "start"

    def _event(self, kind: CrowdKind, t: float, count: float, rate: float) -> CrowdEvent:
        logger.info("%s at %.1fs: count %.1f, %.1f/min", kind, t, count, rate)
        return CrowdEvent(kind, t, count, self.capacity, rate, tuple(self._history))
