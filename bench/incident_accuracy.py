"""Fight detector accuracy, false alerts on normal footage, boxer first alert, feature cost.

Run: ``.venv/bin/python bench/incident_accuracy.py``. Clip-level figures use cross-validation
split by source video (StratifiedGroupKFold, same seed as training); the baseline is the same
pipeline on the plain mean flow magnitude alone. False alerts on noFight clips use the model of
the fold that did not see the clip; the other normal footage uses the shipped model.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
from _common import require_sample, table
from sklearn.metrics import roc_auc_score

from workers.incidents.analyse import analyse_clip, fight_triggers
from workers.incidents.fight import DEFAULT_FEATURES, FightModel, FightScorer
from workers.incidents.train_fight import (
    SEED,
    ClipFeatures,
    cross_validate,
    extract_dataset,
    fit_model,
    read_labels,
)
from workers.incidents.video import iter_frames

NORMAL_FOOTAGE = [
    ("video", "intel_people", "one-by-one-person-detection.mp4"),
    ("video", "mot_crowds", "MOT20-05-raw_even_shorter.mp4"),
    ("video", "mot_crowds", "MOT20-08-raw_shorter.h264"),
    ("video", "mot_crowds", "MOT17-13-SDP-raw.h265"),
]


def clip_metrics(scores: np.ndarray, labels: np.ndarray, threshold: float) -> list[str]:
    """AUC, accuracy, precision, recall at a threshold."""
    pred = scores >= threshold
    tp = int((pred & (labels == 1)).sum())
    precision = tp / max(int(pred.sum()), 1)
    recall = tp / max(int(labels.sum()), 1)
    auc = roc_auc_score(labels, scores)
    return [f"{auc:.3f}", f"{(pred == labels).mean():.3f}", f"{precision:.3f}", f"{recall:.3f}"]


def count_fight_alerts(path: Path, model: FightModel) -> tuple[int, float]:
    """Fight starts and seconds of footage when streaming a clip through a scorer."""
    scorer = FightScorer(model)
    trigger = fight_triggers(scorer)[0]
    alerts, t = 0, 0.0
    for t, frame in iter_frames(path, model.analysis_fps):
        event = trigger.update(scorer.update(frame, t), t)
        alerts += event is not None and event.phase == "start"
    return alerts, t + 1.0 / model.analysis_fps


def out_of_fold_models(clips: list[ClipFeatures], shipped: FightModel) -> dict[str, FightModel]:
    """For each clip, the model of the fold in which it was held out (shipped thresholds)."""
    from sklearn.model_selection import StratifiedGroupKFold

    labels = np.array([c.label for c in clips])
    groups = np.array([c.source for c in clips])
    folds = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=SEED)
    owner: dict[str, FightModel] = {}
    for train_idx, test_idx in folds.split(np.zeros(len(clips)), labels, groups):
        model = fit_model([clips[i] for i in train_idx], DEFAULT_FEATURES, SEED)
        model.threshold_fight = shipped.threshold_fight
        model.threshold_aggression = shipped.threshold_aggression
        owner.update({clips[i].file: model for i in test_idx})
    return owner


def false_alerts(root: Path, clips: list[ClipFeatures], shipped: FightModel) -> None:
    """Print fight alerts per hour on normal footage."""
    rows, total_alerts, total_s = [], 0, 0.0
    owners = out_of_fold_models(clips, shipped)
    nofight = [(c.file, owners[c.file]) for c in clips if c.label == 0]
    alerts_s = [count_fight_alerts(root / f, m) for f, m in nofight]
    rows.append(["fights/surveillance noFight (38, out-of-fold)", *_alert_cells(alerts_s)])
    for parts in NORMAL_FOOTAGE:
        path = require_sample(*parts)
        rows.append([parts[-1], *_alert_cells([count_fight_alerts(path, shipped)])])
    for cells in rows:
        total_alerts += int(cells[1])
        total_s += float(cells[2])
    rows.append(
        ["TOTAL", str(total_alerts), f"{total_s:.0f}", f"{total_alerts * 3600 / total_s:.1f}"]
    )
    print(table(rows, ["normal footage", "fight alerts", "seconds", "alerts/hour"]))
    print("target < 1 per camera-hour; note the footage totals only a few minutes")


def _alert_cells(results: list[tuple[int, float]]) -> list[str]:
    alerts = sum(a for a, _ in results)
    seconds = sum(s for _, s in results)
    return [str(alerts), f"{seconds:.1f}", f"{alerts * 3600 / seconds:.1f}"]


def boxer_first_alert() -> None:
    """Print the first fight/aggression detection in violence_clips/boxer.mp4."""
    path = require_sample("fights", "violence_clips", "boxer.mp4")
    result = analyse_clip(path)
    peak = max(p["fight_score"] for p in result.timeline)
    first = result.detections[0] if result.detections else None
    print(
        f"boxer.mp4 ({result.duration_s:.1f} s): peak fight score {peak:.2f}; "
        f"first detection: {first if first else 'none'}"
    )
    for name in (
        "violence_1",
        "violence_2",
        "violence_3",
        "violence_4",
        "violence_5",
        "non_violence_1",
    ):
        clip = require_sample("fights", "violence_clips", f"{name}.mp4")
        found = analyse_clip(clip).detections
        print(f"  {name}: {[(d['kind'], d['start_s']) for d in found] or 'no detection'}")


def feature_cost(shipped: FightModel) -> None:
    """Print ms per analysed frame of FightScorer.update and % of one core."""
    path = require_sample("video", "intel_people", "one-by-one-person-detection.mp4")
    frames = [f for _, f in zip(range(150), iter_frames(path, shipped.analysis_fps), strict=False)]
    scorer = FightScorer(shipped)
    start = time.perf_counter()
    for i, (_, frame) in enumerate(frames):
        scorer.update(frame, i / shipped.analysis_fps)
    ms = (time.perf_counter() - start) / len(frames) * 1000
    print(
        f"FightScorer.update ({frames[0][1].shape[1]}x{frames[0][1].shape[0]} in, "
        f"{shipped.width} px analysed): {ms:.2f} ms/frame; "
        f"{ms * 5 / 10:.1f}% of a core at 5 fps, {ms * shipped.analysis_fps / 10:.1f}% at "
        f"the model's {shipped.analysis_fps:.0f} fps"
    )


def main() -> None:
    """Run all incident benchmarks."""
    logging.basicConfig(level=logging.WARNING)
    root = require_sample("fights", "surveillance")
    shipped = FightModel.from_json()
    clips = extract_dataset(root, read_labels(root), shipped.analysis_fps, shipped.width)
    labels = np.array([c.label for c in clips])
    ours = cross_validate(clips, DEFAULT_FEATURES, SEED)
    base = cross_validate(clips, ["mean_speed"], SEED)
    head = ["model (CV by source video, 76 clips)", "AUC", "accuracy", "precision", "recall"]
    rows = [
        [
            f"flow features @ shipped thr {shipped.threshold_fight}",
            *clip_metrics(ours, labels, shipped.threshold_fight),
        ],
        ["baseline mean flow magnitude @ 0.5", *clip_metrics(base, labels, 0.5)],
    ]
    print(table(rows, head))
    auc_ratio = roc_auc_score(labels, ours) / roc_auc_score(labels, base)
    print(f"AUC ratio vs baseline: {auc_ratio:.2f}x (targets: accuracy >= 0.85, AUC >= 0.90)\n")
    false_alerts(root, clips, shipped)
    print()
    boxer_first_alert()
    print()
    feature_cost(shipped)


if __name__ == "__main__":
    main()
