"""Fight detector: the person-aware model against the previous flow-only one, in one run, on real footage.

Run: ``.venv/bin/python bench/incident_accuracy.py`` (the first run extracts flow cells and MoveNet people of
every clip into ``var/fight-cache/``, ~10 min single-threaded; later runs replay the cache in about a minute).

Prints, for the previous model (``bench/fight_model_flow_only.json``: flow only) and the shipped one
(``vision/incidents/fight_model.json``: flow + close pairs of people, people gate):

1. held-out clip accuracy and AUC on fights/surveillance (76 clips, 23 source videos), grouped by source
   video: cross-validation with the shipped feature set and threshold (chosen on these same scores), and
   nested CV where the feature set and the threshold are chosen inside each training fold;
2. false fight and aggression alerts per camera-hour on all the normal footage (the 38 no-fight clips
   scored out-of-fold, intel_people, mot_crowds, street_night, the face clips, the non-violent violence
   clip and opencv-doc's vtest.avi), per source and in total;
3. the share of the 38 fight clips alerted (out-of-fold) and the median time to the first alert, at the
   model's default thresholds (with the model file's timing and with a live camera's default minimum
   duration of 1 s) and at the lowest thresholds that raise no alert on all the normal footage (what a
   budget of 1 alert per camera-hour converges to on this little footage);
4. the people gate on and off, and the cost per frame.

Streams are replayed from the cache through ``FightScorer.score_step`` (the live scorer's code) with a
PersonTracker fed at the model's people rate; alerts come from the live trigger (``IncidentTrigger``)
with the recorded-footage cooldown of 10 s (stricter than a camera's 120 s: more alerts are counted).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from _common import REPO_ROOT, require_sample, table
from scipy.stats import chi2
from sklearn.metrics import roc_auc_score

from tools import fight_cache
from tools.train_fight import (
    PREVIOUS_RECIPE,
    RECIPE,
    SEED,
    ClipFeatures,
    Recipe,
    choose_thresholds,
    clip_score,
    cross_validate,
    extract_dataset,
    fit_model,
    fold_models,
    read_labels,
    select_feature_set,
    source_folds,
)
from vision.incidents.budget import ScoreSegment, TriggerTiming, count_alerts
from vision.incidents.fight import FightModel
from vision.incidents.trigger import AGGRESSION_MIN_DURATION_S, COOLDOWN_S, RELEASE_S, IncidentTrigger

PREVIOUS_MODEL = REPO_ROOT / "bench" / "fight_model_flow_only.json"
LIVE_MIN_DURATION_S = 1.0  # venues.Camera.min_duration_s default
LIVE_PEOPLE = (2.0, 0.1)  # the live person stage's defaults: CC_PERSON_FPS, CC_PERSON_MIN_SCORE (384 px as trained)
PREVIOUS_LIVE_PEOPLE = (2.0, 0.2)  # the person stage's score floor before the fight scorer got weaker people
TARGETS = (
    "targets: accuracy >= 0.85, AUC >= 0.90; <= 5 false alerts per camera-hour with >= 75 % of fight clips alerted"
)


@dataclass(frozen=True)
class Stream:
    """One clip's score stream."""

    name: str
    t: np.ndarray
    scores: np.ndarray

    @property
    def seconds(self) -> float:
        """Footage covered."""
        return float(self.t[-1] + 1.0 / fight_cache.ANALYSIS_FPS) if len(self.t) else 0.0


def metrics(scores: np.ndarray, labels: np.ndarray, threshold: float) -> list[str]:
    """AUC, accuracy, precision, recall at a threshold."""
    pred = scores >= threshold
    tp = int((pred & (labels == 1)).sum())
    return [
        f"{roc_auc_score(labels, scores):.3f}",
        f"{(pred == labels).mean():.3f}",
        f"{tp / max(int(pred.sum()), 1):.3f}",
        f"{tp / max(int(labels.sum()), 1):.3f}",
    ]


def nested(clips: list[ClipFeatures], recipe: Recipe, n_splits: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Held-out scores and thresholds where the feature set and the threshold were chosen on the other folds."""
    scores, thresholds, chosen = np.zeros(len(clips)), np.zeros(len(clips)), []
    for train_idx, test_idx in source_folds(clips, SEED, n_splits):
        train = [clips[i] for i in train_idx]
        features = select_feature_set(train, SEED, recipe)
        labels = np.array([c.label for c in train], dtype=np.int64)
        fight, _ = choose_thresholds(cross_validate(train, features, SEED, 4, recipe), labels)
        model = fit_model(train, features, SEED, recipe)
        for i in test_idx:
            scores[i], thresholds[i] = clip_score(model, clips[i]), fight
        chosen.append("+".join(f.replace("_coherence", "").replace("pair_", "p.") for f in features))
    return scores, thresholds, chosen


def held_out(clips: list[ClipFeatures], models: dict[str, tuple[FightModel, Recipe]]) -> None:
    """Section 1: clip-level accuracy and AUC, grouped by source video."""
    labels = np.array([c.label for c in clips])
    rows = []
    for name, (model, recipe) in models.items():
        same = Recipe((tuple(model.features),), recipe.gate_s, recipe.c)
        oof = cross_validate(clips, model.features, SEED, 5, same)
        rows.append(
            [
                f"{name}: CV 5 folds, shipped features @ {model.threshold_fight}",
                *metrics(oof, labels, model.threshold_fight),
                "",
            ]
        )
        for label, n_splits in (("nested CV, 5 outer folds", 5), ("split half (2 folds)", 2)):
            scores, thresholds, chosen = nested(clips, recipe, n_splits)
            pred = scores >= thresholds
            tp = int((pred & (labels == 1)).sum())
            rows.append(
                [
                    f"{name}: {label}",
                    f"{roc_auc_score(labels, scores):.3f}",
                    f"{(pred == labels).mean():.3f}",
                    f"{tp / max(int(pred.sum()), 1):.3f}",
                    f"{tp / max(int(labels.sum()), 1):.3f}",
                    " | ".join(chosen),
                ]
            )
    print(table(rows, ["held-out estimate (76 clips, by source)", "AUC", "accuracy", "precision", "recall", "chosen"]))
    print(TARGETS + "\n")


def stream_of(path: Path, model: FightModel, name: str, people: tuple[float, float] | None = None) -> Stream:
    """A clip's score stream from the cache (people: the person stage's (fps, min score), else the model's)."""
    fps, score = people if people is not None else (None, None)
    replayed = fight_cache.replay(fight_cache.load(path), model, people_fps=fps, min_score=score)
    return Stream(name, replayed.t, replayed.scores)


def normal_footage() -> list[tuple[str, Path]]:
    """(name, path) of the ordinary footage besides the labelled no-fight clips."""
    found = [(parts[-1], require_sample(*parts)) for parts in fight_cache.NORMAL_FOOTAGE]
    if not fight_cache.VTEST.exists():
        print(f"SKIP: {fight_cache.VTEST} not found (install the Debian package opencv-doc)")
        raise SystemExit(0)
    return [*found, ("vtest.avi", fight_cache.VTEST)]


def streams_for(
    root: Path,
    clips: list[ClipFeatures],
    model: FightModel,
    recipe: Recipe,
    people: tuple[float, float] | None = None,
) -> tuple[dict[str, list[Stream]], list[Stream]]:
    """Normal footage grouped by source (no-fight clips out-of-fold) and the fight clips (out-of-fold)."""
    owners = fold_models(clips, model, SEED, 5, recipe)
    normal = {
        "surveillance noFight (38, out-of-fold)": [
            stream_of(root / c.file, owners[c.file], c.file, people) for c in clips if not c.label
        ]
    }
    for name, path in normal_footage():
        normal[name] = [stream_of(path, model, name, people)]
    fights = [stream_of(root / c.file, owners[c.file], c.file, people) for c in clips if c.label]
    return normal, fights


def timing(model: FightModel, min_duration_s: float) -> TriggerTiming:
    """The trigger timing: the model's (or a camera's longer) minimum duration, recorded-footage cooldown."""
    return TriggerTiming(
        max(model.fight_min_duration_s, min_duration_s),
        max(AGGRESSION_MIN_DURATION_S, min_duration_s),
        COOLDOWN_S,
        RELEASE_S,
    )


def alerts(streams: Sequence[Stream], fight: float, aggression: float, when: TriggerTiming) -> tuple[int, int]:
    """(fight, aggression) alerts raised on the streams (aggression during a fight is part of it)."""
    total_f = total_a = 0
    for s in streams:
        count = count_alerts([ScoreSegment(s.t, s.scores, s.scores)], fight, aggression, when)
        total_f, total_a = total_f + count.fight, total_a + count.aggression
    return total_f, total_a


def first_alerts(fights: Sequence[Stream], fight: float, aggression: float, when: TriggerTiming) -> list[float | None]:
    """Per fight clip, the time of its first fight or aggression alert (None: never)."""
    out: list[float | None] = []
    for s in fights:
        triggers = [
            IncidentTrigger(fight, when.fight_min_duration_s, when.cooldown_s, release_s=when.release_s),
            IncidentTrigger(aggression, when.aggression_min_duration_s, when.cooldown_s, release_s=when.release_s),
        ]
        first = None
        for t, score in zip(s.t, s.scores, strict=True):
            if any((e := trig.update(float(score), float(t))) is not None and e.phase == "start" for trig in triggers):
                first = float(t)
                break
        out.append(first)
    return out


def upper_rate(count: int, seconds: float) -> float:
    """One-sided 95 % Poisson upper bound on alerts per hour."""
    return float(chi2.ppf(0.95, 2 * (count + 1)) / 2) * 3600 / seconds


def per_source(name: str, normal: dict[str, list[Stream]], model: FightModel) -> None:
    """Section 2: false alerts per source at the model's default thresholds, live minimum duration."""
    when = timing(model, LIVE_MIN_DURATION_S)
    rows, total = [], [0, 0, 0.0]
    for source, streams in normal.items():
        f, a = alerts(streams, model.threshold_fight, model.threshold_aggression, when)
        seconds = sum(s.seconds for s in streams)
        total = [total[0] + f, total[1] + a, total[2] + seconds]
        rows.append(
            [source, f"{seconds:.0f}", str(f), str(a), f"{f * 3600 / seconds:.0f}", f"{a * 3600 / seconds:.0f}"]
        )
    f, a, seconds = int(total[0]), int(total[1]), float(total[2])
    rows.append(
        [
            "TOTAL",
            f"{seconds:.0f}",
            str(f),
            str(a),
            f"{f * 3600 / seconds:.1f} (95% up to {upper_rate(f, seconds):.0f})",
            f"{a * 3600 / seconds:.1f}",
        ]
    )
    print(
        f"{name}: thresholds fight {model.threshold_fight} / aggression {model.threshold_aggression}, "
        f"min {when.fight_min_duration_s:g} s / {when.aggression_min_duration_s:g} s, cooldown {COOLDOWN_S:g} s"
    )
    print(table(rows, ["normal footage", "seconds", "fight", "aggression", "fight/h", "aggression/h"]))


def zero_alert_point(normal: dict[str, list[Stream]], model: FightModel, when: TriggerTiming) -> tuple[float, float]:
    """The lowest (fight, aggression) pair, moving together on a 0.01 grid, with no alert on all the footage."""
    streams = [s for group in normal.values() for s in group]
    gap = max(0.0, round(model.threshold_fight - model.threshold_aggression, 2))
    best = (0.99, 0.99)
    for level in np.arange(0.99, 0.04, -0.01):
        fight, aggression = round(float(level), 2), round(max(0.05, float(level) - gap), 2)
        if sum(alerts(streams, fight, aggression, when)) > 0:
            break
        best = (fight, aggression)
    return best


def operating_points(results: dict[str, tuple[FightModel, dict[str, list[Stream]], list[Stream]]]) -> None:
    """Section 3: false alerts per hour, fight clips alerted and time to alert, old vs new."""
    rows = []
    for name, (model, normal, fights) in results.items():
        seconds = sum(s.seconds for group in normal.values() for s in group)
        everything = [s for group in normal.values() for s in group]
        points = [
            ("default, model timing", model.threshold_fight, model.threshold_aggression, timing(model, 0.0)),
            (
                "default, live 1 s",
                model.threshold_fight,
                model.threshold_aggression,
                timing(model, LIVE_MIN_DURATION_S),
            ),
        ]
        live = timing(model, LIVE_MIN_DURATION_S)
        zero = zero_alert_point(normal, model, live)
        points.append(("budget: no alert on footage, live 1 s", zero[0], zero[1], live))
        for label, fight, aggression, when in points:
            f, a = alerts(everything, fight, aggression, when)
            firsts = first_alerts(fights, fight, aggression, when)
            hit = [x for x in firsts if x is not None]
            rows.append(
                [
                    f"{name}: {label}",
                    f"{fight:.2f}/{aggression:.2f}",
                    f"{when.fight_min_duration_s:g}",
                    f"{f * 3600 / seconds:.1f}",
                    f"{a * 3600 / seconds:.1f}",
                    f"{len(hit) / len(fights):.0%}",
                    f"{np.median(hit):.2f}" if hit else "-",
                ]
            )
    head = [
        "model: operating point",
        "fight/aggr thr",
        "min s",
        "false fight/h",
        "false aggr/h",
        "fight clips alerted",
        "median s to alert",
    ]
    print(table(rows, head))
    print(
        f"{seconds / 60:.1f} min of normal footage: a rate of 0 here bounds the true rate only to "
        f"{upper_rate(0, seconds):.0f}/h (95 %); fight clips are 1-3.6 s cut from longer fights "
        "(alerts counted inside the clip)"
    )
    print(TARGETS + "\n")


def trade_off(results: dict[str, tuple[FightModel, dict[str, list[Stream]], list[Stream]]]) -> None:
    """Section 3b: false fight alerts per hour against fight clips alerted over a range of thresholds."""
    levels = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    rows = []
    for name, (model, normal, fights) in results.items():
        everything = [s for group in normal.values() for s in group]
        seconds = sum(s.seconds for s in everything)
        when = timing(model, LIVE_MIN_DURATION_S)
        cells = []
        for level in levels:
            f, _ = alerts(everything, level, 0.99, when)
            hit = sum(x is not None for x in first_alerts(fights, level, 0.99, when))
            cells.append(f"{f * 3600 / seconds:.0f}/h {hit / len(fights):.0%}")
        rows.append([name, *cells])
    print(table(rows, ["fight alerts only, live 1 s", *(f"thr {level:g}" for level in levels)]))
    print("each cell: false fight alerts per camera-hour on all normal footage, share of fight clips alerted\n")


def gate_ablation(root: Path, clips: list[ClipFeatures], shipped: FightModel) -> None:
    """Section 4: the shipped features with the people gate on and off."""
    rows = []
    for gate in (shipped.gate_s, 0.0):
        model = replace(shipped, gate_s=gate)
        recipe = Recipe((tuple(model.features),), gate, RECIPE.c)
        labels = np.array([c.label for c in clips])
        gated = extract_dataset(root, read_labels(root), gate) if gate != RECIPE.gate_s else clips
        oof = cross_validate(gated, model.features, SEED, 5, recipe)
        thr, agg = choose_thresholds(oof, labels)
        model = replace(model, threshold_fight=thr, threshold_aggression=max(0.05, agg))
        normal, fights = streams_for(root, gated, model, recipe)
        when = timing(model, LIVE_MIN_DURATION_S)
        everything = [s for group in normal.values() for s in group]
        seconds = sum(s.seconds for s in everything)
        f, a = alerts(everything, model.threshold_fight, model.threshold_aggression, when)
        hit = [
            x for x in first_alerts(fights, model.threshold_fight, model.threshold_aggression, when) if x is not None
        ]
        rows.append(
            [
                f"gate {gate:g} s" if gate else "no gate",
                *metrics(oof, labels, thr)[:2],
                f"{thr:.2f}/{model.threshold_aggression:.2f}",
                f"{f * 3600 / seconds:.1f}",
                f"{a * 3600 / seconds:.1f}",
                f"{len(hit) / len(fights):.0%}",
            ]
        )
    print(
        table(
            rows,
            ["shipped features", "CV AUC", "CV acc", "thr", "false fight/h", "false aggr/h", "fight clips alerted"],
        )
    )
    print("people gate: no close pair of people in the last gate_s seconds, no score\n")


def cost(shipped: FightModel) -> None:
    """Section 5: the scorer's and the person stage's cost per analysed frame."""
    from vision.incidents.fight import FightScorer
    from vision.incidents.video import iter_frames
    from vision.people.movenet import PoseDetector, PoseSettings
    from vision.people.tracker import PersonTracker

    path = require_sample("fights", "violence_clips", "violence_4.mp4")
    frames = [f for _, (_, f) in zip(range(100), iter_frames(path, 10.0), strict=False)]
    detector = PoseDetector(
        PoseSettings(input_size=shipped.people_input_size or 384, min_score=shipped.people_min_score)
    )
    tracker, scorer = PersonTracker(), FightScorer(shipped)
    pose_s = score_s = 0.0
    tracks: list = []
    for i, frame in enumerate(frames):
        t = i / 10.0
        if i % max(1, round(10 / (shipped.people_fps or 10))) == 0:
            start = time.process_time()
            tracks = tracker.update(detector.detect(frame), t)
            pose_s += time.process_time() - start
        start = time.process_time()
        scorer.update(frame, t, people=tracks)
        score_s += time.process_time() - start
    seconds = len(frames) / 10.0
    print(
        f"cost on {frames[0].shape[1]}x{frames[0].shape[0]} at 10 fps (CPU, one thread): FightScorer.update "
        f"{score_s / len(frames) * 1000:.1f} ms/frame = {score_s / seconds * 100:.0f}% of a core; MoveNet "
        f"{shipped.people_input_size} px + tracker at {shipped.people_fps:g} fps = "
        f"{pose_s / seconds * 100:.0f}% of a core "
        "(the live person stage is shared with counting and the preview)"
    )


def main() -> None:
    """Run all sections."""
    logging.basicConfig(level=logging.WARNING)
    root = require_sample("fights", "surveillance")
    shipped = FightModel.from_json()
    previous = FightModel.from_json(PREVIOUS_MODEL)
    start = time.perf_counter()
    clips = extract_dataset(root, read_labels(root), RECIPE.gate_s)
    print(f"[replayed {len(clips)} labelled clips from var/fight-cache in {time.perf_counter() - start:.0f} s]\n")
    models = {"previous (flow only)": (previous, PREVIOUS_RECIPE), "new (flow + people)": (shipped, RECIPE)}
    held_out(clips, models)
    results = {}
    for name, (model, recipe) in models.items():
        normal, fights = streams_for(root, clips, model, recipe)
        per_source(name, normal, model)
        results[name] = (model, normal, fights)
    for fps, score in (PREVIOUS_LIVE_PEOPLE, LIVE_PEOPLE):
        live = f"new, person stage at {fps:g} fps, score >= {score:g}" + (
            " (live default)" if score == LIVE_PEOPLE[1] else ""
        )
        results[live] = (shipped, *streams_for(root, clips, shipped, RECIPE, (fps, score)))
    print()
    operating_points(results)
    trade_off(results)
    gate_ablation(root, clips, shipped)
    cost(shipped)


if __name__ == "__main__":
    main()
