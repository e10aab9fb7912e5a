"""False-alert budget: trigger replay, calibration on a camera's own footage, the labelled reference."""

from __future__ import annotations

import csv
import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import chi2

from vision.incidents.budget import (
    GRID,
    ScoreSegment,
    TriggerTiming,
    calibrate,
    camera_timing,
    count_alerts,
    footage_hours,
    minimum_hours,
    model_fingerprint,
    poisson_upper,
    reference_recall,
    replay,
    sustained_peak,
    threshold_grid,
    zones_fingerprint,
)
from vision.incidents.fight import FightModel, FightScorer
from vision.incidents.trigger import IncidentTrigger
from vision.incidents.video import iter_frames

pytestmark = pytest.mark.slow


def score_clip(path: Path) -> ScoreSegment:
    """The live FightScorer's score at every analysed frame of a clip (fight and aggression share it)."""
    scorer = FightScorer()
    pairs = [(t, scorer.update(frame, t)) for t, frame in iter_frames(path, scorer.model.analysis_fps)]
    t = np.array([p[0] for p in pairs], dtype=np.float64)
    s = np.array([p[1] for p in pairs], dtype=np.float64)
    return ScoreSegment(t, s, s.copy())


@pytest.fixture(scope="module")
def street(sample_file) -> ScoreSegment:  # type: ignore[no-untyped-def]
    """139 s of people walking past a camera, scored as a live camera scores it."""
    return score_clip(sample_file("video", "intel_people", "one-by-one-person-detection.mp4"))


@pytest.fixture(scope="module")
def brawl(sample_file) -> ScoreSegment:  # type: ignore[no-untyped-def]
    """41 s of a car-park altercation (scores well above the thresholds)."""
    return score_clip(sample_file("fights", "violence_clips", "boxer.mp4"))


def trigger_starts(seg: ScoreSegment, threshold: float, min_s: float, cooldown_s: float, release_s: float) -> list[int]:
    """Sample indices where the real IncidentTrigger, fed sample by sample, starts an incident."""
    trigger = IncidentTrigger(threshold, min_s, cooldown_s, release_s=release_s)
    starts = []
    for i, (t, score) in enumerate(zip(seg.t, seg.fight, strict=True)):
        event = trigger.update(float(score), float(t))
        if event is not None and event.phase == "start":
            starts.append(i)
    return starts


def live_alerts(seg: ScoreSegment, fight: float, aggression: float, timing: TriggerTiming) -> int:
    """Alerts IncidentStage raises: both triggers fed in turn, aggression dropped while a fight is active."""
    release, cooldown = timing.release_s, timing.cooldown_s
    triggers = [
        IncidentTrigger(fight, timing.fight_min_duration_s, cooldown, kind="fight", release_s=release),
        IncidentTrigger(aggression, timing.aggression_min_duration_s, cooldown, kind="aggression", release_s=release),
    ]
    alerts = 0
    for t, f, a in zip(seg.t, seg.fight, seg.aggression, strict=True):
        for trigger, score in zip(triggers, (f, a), strict=True):
            event = trigger.update(float(score), float(t))
            if event is None or event.phase != "start":
                continue
            alerts += trigger.kind == "fight" or not triggers[0].active
    return alerts


@pytest.mark.parametrize(("min_s", "cooldown_s", "release_s"), [(0.6, 10.0, 1.0), (1.0, 120.0, 1.0), (1.5, 0.0, 0.0)])
def test_replay_starts_exactly_where_the_live_trigger_does(street, brawl, min_s, cooldown_s, release_s):
    # given real score streams of ordinary and violent footage
    for seg in (street, brawl):
        for threshold in np.round(np.arange(0.05, 1.0, 0.05), 2):
            # when the whole stream is replayed at once
            starts = [start for start, _ in replay(seg.t, seg.fight, threshold, min_s, cooldown_s, release_s)]
            # then the incidents start on exactly the samples the trigger starts them on
            assert starts == trigger_starts(seg, threshold, min_s, cooldown_s, release_s)


def test_alert_count_matches_the_live_stage_with_aggression_folded_into_fights(brawl):
    # given the altercation's scores and a live camera's timing
    timing = camera_timing(FightModel.from_json(), min_duration_s=1.0, cooldown_s=10.0)
    for fight, aggression in [(0.5, 0.42), (0.6, 0.3), (0.7, 0.7), (0.45, 0.45)]:
        # when both triggers are replayed
        count = count_alerts([brawl], fight, aggression, timing)
        # then fight plus non-overlapping aggression alerts equal what the stage would raise
        assert count.total == live_alerts(brawl, fight, aggression, timing)


def test_calibration_keeps_the_camera_within_its_budget(street):
    # given a looping camera that has shown the same street scene 3 times (0.116 h of its own footage)
    model = FightModel.from_json()
    footage = [street] * 3
    timing = camera_timing(model, min_duration_s=1.0, cooldown_s=10.0)
    hours = footage_hours(footage)
    # when it is calibrated for 30 alerts per hour
    result = calibrate(footage, model=model, timing=timing, budget_per_hour=30.0)
    # then the chosen pair keeps the 95 % upper bound within the budget, and the live stage agrees on the count
    assert result.status == "ok"
    assert result.fight_threshold is not None
    assert result.aggression_threshold is not None
    alerts = sum(live_alerts(seg, result.fight_threshold, result.aggression_threshold, timing) for seg in footage)
    assert result.fight_alerts + result.aggression_alerts == alerts
    assert result.upper_per_hour == pytest.approx(poisson_upper(alerts) / hours, abs=1e-4)
    assert result.upper_per_hour <= 30.0
    # and the next lower pair on the grid would break the budget (or the chosen one is already the lowest)
    grid = threshold_grid(model)
    index = grid.index((result.fight_threshold, result.aggression_threshold))
    if index > 0:
        lower = grid[index - 1]
        more = sum(live_alerts(seg, *lower, timing) for seg in footage)
        assert poisson_upper(more) / hours > 30.0
    # and the pair is on the grid of candidates
    assert (result.fight_threshold, result.aggression_threshold) in grid


def test_short_footage_is_refused_with_the_hours_it_needs(street):
    # given 139 s of footage and the default budget of 1 alert per hour
    model = FightModel.from_json()
    timing = camera_timing(model, min_duration_s=1.0, cooldown_s=120.0)
    # when it is calibrated
    result = calibrate([street], model=model, timing=timing, budget_per_hour=1.0)
    # then it says not enough footage: zero alerts in under -ln(0.05) hours would not prove the budget holds
    assert (result.status, result.fight_threshold, result.minimum_hours) == ("not_enough_footage", None, 3.0)
    assert "3.00 h are needed" in result.message


def test_footage_that_alerts_at_every_threshold_is_unreachable():
    # given a camera whose score sits at 1.0 with a pause every 5 s, for 4 hours
    t = np.arange(0, 4 * 3600, 0.1)
    score = np.where((t % 5.0) < 3.0, 1.0, 0.0)
    model = FightModel.from_json()
    timing = TriggerTiming(1.0, 1.5, cooldown_s=0.0, release_s=1.0)
    # when it is calibrated for 1 alert per hour
    result = calibrate([ScoreSegment(t, score, score)], model=model, timing=timing, budget_per_hour=1.0)
    # then no threshold fits, the message says what to do, and no thresholds are proposed
    assert (result.status, result.fight_threshold, result.aggression_threshold) == ("unreachable", None, None)
    assert "exclude busy areas" in result.message


def test_poisson_upper_bound_is_garwoods():
    # given counts of alerts, when their one-sided 95 % bound is computed, then it is the chi-square formula's
    for events in (0, 1, 3, 20, 200):
        assert poisson_upper(events) == pytest.approx(chi2.ppf(0.95, 2 * events + 2) / 2, rel=1e-9)
    assert minimum_hours(1.0) == pytest.approx(-math.log(0.05))


def test_sustained_peak_is_the_highest_threshold_that_fires(sample_file):
    # given real fight clips scored live
    root = sample_file("fights", "surveillance")
    with (root / "labels.csv").open() as handle:
        fights = [row["file"] for row in csv.DictReader(handle) if row["label"] == "fight"][:6]
    for name in fights:
        seg = score_clip(root / name)
        for min_s in (0.6, 1.0):
            # when its sustained peak is computed
            peak = sustained_peak(seg.t, seg.fight, min_s)
            # then the trigger fires at that threshold and not a hair above it
            if peak > 0:
                assert trigger_starts(seg, peak, min_s, 0.0, 1.0) != []
            assert trigger_starts(seg, peak + 1e-6, min_s, 0.0, 1.0) == []


def test_shipped_model_carries_the_reference_for_every_fight_clip(sample_file):
    # given the labelled clips and the shipped model
    with (sample_file("fights", "surveillance") / "labels.csv").open() as handle:
        fights = sum(row["label"] == "fight" for row in csv.DictReader(handle))
    meta = FightModel.from_json().meta
    # then it holds one peak per fight clip for fights, aggression and each stored duration
    assert len(meta["reference_fight_peaks"]) == len(meta["reference_aggression_peaks"]) == fights
    assert len(meta["reference_clip_scored_s"]) == fights
    assert all(len(peaks) == fights for peaks in meta["reference_fight_peaks_by_duration"].values())
    assert meta["reference_peak_min_duration_s"] == {"fight": 0.6, "aggression": 1.5}


def reference_model(**meta: object) -> FightModel:
    model = FightModel.from_json()
    model.meta = dict(meta)
    return model


def test_reference_recall_counts_clips_long_enough_for_the_duration():
    # given a reference of 4 clips, one too short to hold 1 s
    model = reference_model(
        reference_fight_peaks=[0.9, 0.5, 0.7, 0.0],
        reference_aggression_peaks=[0.8, 0.45, 0.2, 0.0],
        reference_peak_min_duration_s={"fight": 1.0, "aggression": 1.0},
        reference_clip_scored_s=[2.0, 2.0, 1.5, 0.4],
    )
    timing = TriggerTiming(1.0, 1.0, 120.0)
    # when recall is read at fight 0.6 / aggression 0.4
    recall = reference_recall(model, 0.6, 0.4, timing)
    # then 2 of the 3 long-enough clips raise a fight alert, all 3 raise some alert; exact for 1 s
    assert recall is not None
    assert (recall.fight, recall.any_alert, recall.clips, recall.bound) == (0.6667, 1.0, 3, "exact")


def test_reference_recall_for_another_duration_says_which_way_it_errs():
    # given peaks held for 1 s and 2 s
    model = reference_model(
        reference_fight_peaks_by_duration={"1": [0.9, 0.6], "2": [0.8, 0.3]},
        reference_aggression_peaks_by_duration={"1": [0.9, 0.6], "2": [0.8, 0.3]},
    )
    # when a camera holds 1.5 s, its recall is read from the 2 s peaks (lower): a floor
    longer = reference_recall(model, 0.5, 0.5, TriggerTiming(1.5, 1.5, 120.0))
    # and when it holds 3 s, only the 2 s peaks exist: a ceiling
    beyond = reference_recall(model, 0.5, 0.5, TriggerTiming(3.0, 3.0, 120.0))
    assert longer is not None
    assert beyond is not None
    assert (longer.fight, longer.bound, longer.min_duration_s) == (0.5, "at_least", 2.0)
    assert (beyond.fight, beyond.bound) == (0.5, "at_most")
    # and a model without a reference has nothing to say
    assert reference_recall(reference_model(), 0.5, 0.5, TriggerTiming(1.0, 1.5, 120.0)) is None


def test_fingerprints_follow_what_shapes_the_score():
    # given the shipped model and a copy with different thresholds and notes
    model = FightModel.from_json()
    retuned = FightModel.from_json()
    retuned.threshold_fight, retuned.meta = 0.7, {}
    retrained = FightModel.from_json()
    retrained.intercept += 0.01
    # then thresholds and notes do not change the score's fingerprint, new weights do
    assert model_fingerprint(model) == model_fingerprint(retuned) != model_fingerprint(retrained)
    # and excluded areas hash the same in any order, and differently when moved
    door, screen = [(0.0, 0.0), (0.2, 0.0), (0.2, 0.5)], [(0.5, 0.5), (0.9, 0.5), (0.9, 0.9)]
    assert zones_fingerprint([door, screen]) == zones_fingerprint([screen, door]) != zones_fingerprint([door])

    # and the candidate pairs only ever get stricter, ending with both at the top
    grid = threshold_grid(model)
    gap = round(model.threshold_fight - model.threshold_aggression, 2)
    assert all(a <= c and b <= d and (a, b) != (c, d) for (a, b), (c, d) in itertools.pairwise(grid))
    assert (grid[0], grid[-1]) == ((0.05, 0.05), (0.99, 0.99))
    assert len(grid) == round((0.99 - 0.05) / GRID) + 1 + round(gap / GRID)
