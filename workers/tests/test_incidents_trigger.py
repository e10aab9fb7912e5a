"""IncidentTrigger: exact min-duration, release and cooldown behaviour."""

from __future__ import annotations

from workers.incidents.trigger import IncidentTrigger


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


def test_camera_minimum_duration_can_only_make_fight_timing_stricter():
    from workers.incidents.fight import FightModel
    from workers.pipeline import IncidentStage, StageTimer

    trained = FightModel.from_json().fight_min_duration_s
    # given a camera asking for 3 s, and one asking for less than the model was trained with
    strict = IncidentStage(timer=StageTimer(), crowd=False, fight=True, min_duration_s=3.0)
    lax = IncidentStage(timer=StageTimer(), crowd=False, fight=True, min_duration_s=0.1)
    # then fight and aggression wait 3 s on the first camera, and the trained timing on the second
    assert [t.min_duration_s for t in strict._triggers] == [3.0, 3.0]
    assert [t.kind for t in lax._triggers] == ["fight", "aggression"]
    assert lax._triggers[0].min_duration_s == trained
    assert lax._triggers[1].min_duration_s >= trained


class _Scripted:
    """Stands in for FightScorer: returns the next score of a script, wants every frame."""

    def __init__(self, model, scores):  # type: ignore[no-untyped-def]
        self.model, self.scores = model, iter(scores)

    def wants(self, t: float) -> bool:
        return True

    def update(self, image, t: float) -> float:  # type: ignore[no-untyped-def]
        return next(self.scores)


def test_aggression_during_a_fight_is_not_a_second_alert():
    import numpy as np

    from workers.pipeline import IncidentStage, StageTimer

    stage = IncidentStage(timer=StageTimer(), crowd=False, fight=True, min_duration_s=1.0)
    fight, aggression = stage._triggers
    # given a score that jumps above both thresholds at once and stays there for 3 s at 10 fps
    stage._scorer = _Scripted(stage._scorer.model, [0.99] * 30)
    frame = np.zeros((8, 8, 3), dtype=np.uint8)
    # when the frames are scored
    signals = [s for i in range(30) for s in stage.process(frame, i / 10)]
    # then one fight starts, and the aggression trigger (which would also have fired) raises nothing
    assert [s.kind for s in signals] == ["fight"]
    assert fight.active
    assert aggression.active
