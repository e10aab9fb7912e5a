"""IncidentTrigger: exact min-duration, release and cooldown behaviour."""

from __future__ import annotations

from vision.incidents.trigger import IncidentTrigger


def feed(trigger: IncidentTrigger, scores: list[float], dt: float = 0.5) -> list[tuple[str, float]]:
    events = []
    for i, score in enumerate(scores):
        event = trigger.update(score, i * dt)
        if event is not None:
            events.append((event.phase, event.t))
    return events


def test_start_needs_min_duration_above_threshold():
    # given a trigger needing 1.0 s above 0.6
    trigger = IncidentTrigger(0.6, 1.0, 5.0, kind="fight")
    # when the score is high for 0.5 s, dips, then stays high from t=1.5
    events = feed(trigger, [0.9, 0.9, 0.1, 0.9, 0.9, 0.9, 0.9])
    # then it starts exactly at t=2.5 (1.0 s after 1.5) and only once
    assert events == [("start", 2.5)]


def test_end_and_cooldown_block_restart():
    # given a started incident with a 2 s cooldown
    trigger = IncidentTrigger(0.5, 0.0, 2.0)
    # when the score drops at t=1.0 and rises again at t=2.0 and t=3.5
    events = feed(trigger, [0.8, 0.8, 0.1, 0.1, 0.9, 0.1, 0.1, 0.9])
    # then the incident ends at 1.0, the rise at 2.0 is suppressed, the one at 3.5 starts
    assert events == [("start", 0.0), ("end", 1.0), ("start", 3.5)]


def test_release_keeps_incident_through_short_dips():
    # given a release time of 1.0 s
    trigger = IncidentTrigger(0.5, 0.0, 0.0, release_s=1.0)
    # when the score dips for 0.5 s and later for 1.0 s
    events = feed(trigger, [0.9, 0.2, 0.9, 0.2, 0.2, 0.2])
    # then the short dip is bridged and the incident ends at the start of the long dip
    assert events == [("start", 0.0), ("end", 1.5)]


def test_close_ends_active_incident_with_peak():
    # given an active incident with a peak of 0.95
    trigger = IncidentTrigger(0.5, 0.0, 0.0, kind="aggression", severity="medium")
    trigger.update(0.7, 0.0)
    trigger.update(0.95, 1.0)
    # when the stream ends
    event = trigger.close(2.0)
    # then an end event carries the span and the peak
    assert event is not None
    assert (event.kind, event.phase, event.start_s, event.end_s, event.peak_score) == (
        "aggression",
        "end",
        0.0,
        2.0,
        0.95,
    )
    assert event.severity == "medium"
