"""Train the fight model on fights/surveillance from cached frames, CV split by source video; writes JSON.

Every labelled clip's analysed frames (flow cells and MoveNet people, `tools.fight_cache`) are replayed
through the live scorer (`FightScorer.score_step`, with a PersonTracker fed at the model's people rate),
which yields every window's flow and people features exactly as a camera computes them. The recipe:
pick one of FEATURE_SETS by source-grouped CV AUC on the training clips, pick the thresholds on
out-of-fold clip scores, fit on all clips. `bench/incident_accuracy.py` repeats the whole recipe inside
outer folds for its held-out estimates. A clip's score is the mean of its windows' probabilities, each 0
when the people gate is closed (no close pair of people seen in the last `GATE_S` seconds).

Run: .venv/bin/python -m tools.train_fight [--out PATH] [--seed N] [--sources N] [--extra FOLDER --out PATH]
(extracts what is not cached yet: ~10 min single-threaded the first time, seconds after)

`--extra FOLDER` (repeatable) adds a city's own labelled clips: a folder with a labels.csv of
``file,label,source_video`` rows (``file`` relative to the folder, ``label`` fight or noFight), which
``manage.py export_incident_clips`` writes from dispatchers' reviewed alerts (its sources are cameras). They
join the 76 reference clips in training and in every cross-validation fold, grouped by their own sources;
such a model must be written elsewhere (``--out``, then ``CC_FIGHT_MODEL``), never over the shipped file.
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.preprocessing import StandardScaler

from tools import fight_cache
from vision.incidents.budget import Scores, Times, reference_peaks, scored_seconds
from vision.incidents.fight import FEATURE_NAMES, MODEL_PATH, FightModel, transform_features
from vision.incidents.flow import FloatArray
from vision.incidents.trigger import AGGRESSION_MIN_DURATION_S

logger = logging.getLogger(__name__)

SEED = 7
N_SPLITS = 5
INNER_SPLITS = 4
REGULARISATION_C = 0.1
AGGRESSION_RECALL = 0.9
AGGRESSION_MAX_GAP = 0.1
ANALYSIS_FPS = fight_cache.ANALYSIS_FPS
WIDTH = fight_cache.FLOW_WIDTH
WINDOW_S = 1.0
MIN_PAIRS = 3
SMOOTH_S = 0.5
FIGHT_MIN_DURATION_S = 0.6
# The person stage the people features are trained with: MoveNet at 384 px keeping people scoring >= 0.1
# (2+ people in 84 % of the fight clips, against 45 % at 256 px / 0.2), at 5 frames per second.
PEOPLE_FPS = 5.0
PEOPLE_MIN_SCORE = 0.1
PEOPLE_WINDOW_S = 1.0
# The people gate: no close pair of people in the last GATE_S seconds, no fight score.
GATE_S = 3.0
REFERENCE_DURATIONS_S = (0.6, 1.0, 1.5, 2.0, 3.0)

_FLOW = ("coarse_coherence", "temporal_coherence", "fine_coherence")
_FLOW_ENTROPY = (*_FLOW, "cell_orient_entropy")
_PAIR_SMALL = ("pair_reversal", "pair_incoherence", "pair_unsteady", "pair_limb")
_PAIR_ALL = tuple(name for name in FEATURE_NAMES if name.startswith("pair_"))
# Candidate feature sets; the recipe keeps the one with the best source-grouped CV AUC on its training clips.
FEATURE_SETS: tuple[tuple[str, ...], ...] = (
    _FLOW,
    _FLOW_ENTROPY,
    (*_FLOW, *_PAIR_SMALL),
    (*_FLOW_ENTROPY, *_PAIR_SMALL),
    (*_FLOW_ENTROPY, *_PAIR_ALL),
)

# The previous, flow-only model's recipe (bench/fight_model_flow_only.json), for the bench's comparison.
PREVIOUS_FEATURE_SETS: tuple[tuple[str, ...], ...] = (
    ("temporal_coherence", "cell_orient_entropy"),
    ("temporal_coherence",),
    _FLOW,
    _FLOW_ENTROPY,
)


@dataclass(frozen=True)
class Recipe:
    """What training chooses from and with: candidate feature sets, the people gate, regularisation."""

    feature_sets: tuple[tuple[str, ...], ...]
    gate_s: float
    c: float


RECIPE = Recipe(FEATURE_SETS, GATE_S, REGULARISATION_C)
PREVIOUS_RECIPE = Recipe(PREVIOUS_FEATURE_SETS, 0.0, 0.01)

Labels = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ClipFeatures:
    """Transformed window features (windows, FEATURE_NAMES) of one labelled clip and its people gate."""

    file: str
    label: int
    source: str
    windows: FloatArray
    gate: npt.NDArray[np.bool_]


def read_labels(root: Path) -> list[dict[str, str]]:
    """Rows of labels.csv (file, label, source_video)."""
    with (root / "labels.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def template_model(gate_s: float = GATE_S) -> FightModel:
    """A model with the training settings and every feature (weights 0): replays record all features."""
    n = len(FEATURE_NAMES)
    return FightModel(
        list(FEATURE_NAMES),
        [0.0] * n,
        [1.0] * n,
        [0.0] * n,
        0.0,
        0.5,
        0.5,
        analysis_fps=ANALYSIS_FPS,
        width=WIDTH,
        window_s=WINDOW_S,
        min_pairs=MIN_PAIRS,
        smooth_s=SMOOTH_S,
        fight_min_duration_s=FIGHT_MIN_DURATION_S,
        gate_s=gate_s,
        people_window_s=PEOPLE_WINDOW_S,
        people_input_size=fight_cache.POSE_INPUT,
        people_min_score=PEOPLE_MIN_SCORE,
        people_fps=PEOPLE_FPS,
    )


def extract_dataset(root: Path, rows: Sequence[dict[str, str]], gate_s: float = GATE_S) -> list[ClipFeatures]:
    """Window features of every labelled clip, replayed from the cache (extracting what is missing)."""
    template = template_model(gate_s)
    clips = []
    for row in rows:
        replayed = fight_cache.replay(fight_cache.load(root / row["file"]), template)
        scored = ~np.isnan(replayed.values[:, 0])
        clips.append(
            ClipFeatures(
                row["file"],
                int(row["label"] == "fight"),
                row["source_video"],
                transform_features(replayed.values[scored]),
                replayed.has_pair[scored],
            )
        )
    logger.info("replayed %d clips", len(clips))
    return clips


def _design(clips: Sequence[ClipFeatures], columns: list[int]) -> tuple[FloatArray, Labels, FloatArray]:
    """Window vectors, labels and weights that give every clip the same total weight."""
    blocks = [c.windows[:, columns] for c in clips]
    labels = [np.full(len(b), c.label, dtype=np.int64) for b, c in zip(blocks, clips, strict=True)]
    weights = [np.full(len(b), 1.0 / max(len(b), 1)) for b in blocks]
    return np.concatenate(blocks), np.concatenate(labels), np.concatenate(weights) * len(clips)


def fit_model(clips: Sequence[ClipFeatures], features: Sequence[str], seed: int, recipe: Recipe = RECIPE) -> FightModel:
    """Fit scaler + logistic regression on all windows of the clips (thresholds left at 0.5)."""
    model = template_model(recipe.gate_s)
    model.features = list(features)
    if not model.uses_people:
        model.people_fps, model.people_input_size, model.people_min_score = 0.0, 0, 0.0
    x, y, weights = _design(clips, model.columns())
    scaler = StandardScaler().fit(x)
    lr = LogisticRegression(C=recipe.c, max_iter=5000, random_state=seed)
    lr.fit(scaler.transform(x), y, sample_weight=weights)
    model.mean = [round(float(v), 8) for v in scaler.mean_]
    model.scale = [round(float(v), 8) for v in scaler.scale_]
    model.coef = [round(float(v), 8) for v in lr.coef_[0]]
    model.intercept = round(float(lr.intercept_[0]), 8)
    return model


def clip_score(model: FightModel, clip: ClipFeatures) -> float:
    """Clip-level score: mean window probability, 0 for windows the people gate closes."""
    windows = clip.windows[:, model.columns()]
    if not len(windows):
        return 0.0
    probabilities = [model.probability(w) for w in windows]
    if model.gate_s > 0:
        probabilities = [p if open_ else 0.0 for p, open_ in zip(probabilities, clip.gate, strict=True)]
    return float(np.mean(probabilities))


def source_folds(
    clips: Sequence[ClipFeatures], seed: int, n_splits: int = N_SPLITS
) -> list[tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]]:
    """(train, test) index pairs; a source video is never on both sides."""
    labels = np.array([c.label for c in clips])
    groups = np.array([c.source for c in clips])
    folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return list(folds.split(np.zeros(len(clips)), labels, groups))


def cross_validate(
    clips: Sequence[ClipFeatures],
    features: Sequence[str],
    seed: int,
    n_splits: int = N_SPLITS,
    recipe: Recipe = RECIPE,
) -> FloatArray:
    """Out-of-fold clip scores; folds never share a source video."""
    scores = np.zeros(len(clips), dtype=np.float32)
    for train_idx, test_idx in source_folds(clips, seed, n_splits):
        model = fit_model([clips[i] for i in train_idx], features, seed, recipe)
        for i in test_idx:
            scores[i] = clip_score(model, clips[i])
    return scores


def feature_set_scores(clips: Sequence[ClipFeatures], seed: int, recipe: Recipe = RECIPE) -> list[float]:
    """Source-grouped CV AUC of every candidate feature set on `clips` only."""
    labels = np.array([c.label for c in clips])
    n_splits = min(INNER_SPLITS, len({c.source for c in clips}))
    return [
        float(roc_auc_score(labels, cross_validate(clips, features, seed, n_splits, recipe)))
        for features in recipe.feature_sets
    ]


def best_feature_set(scores: Sequence[float], recipe: Recipe = RECIPE) -> tuple[str, ...]:
    """The candidate feature set with the best score (ties: the earlier entry)."""
    rounded = [round(s, 6) for s in scores]
    return recipe.feature_sets[rounded.index(max(rounded))]


def select_feature_set(clips: Sequence[ClipFeatures], seed: int, recipe: Recipe = RECIPE) -> tuple[str, ...]:
    """The candidate feature set with the best source-grouped CV AUC on `clips`."""
    return best_feature_set(feature_set_scores(clips, seed, recipe), recipe)


def choose_thresholds(scores: FloatArray, labels: Labels) -> tuple[float, float]:
    """Fight threshold maximising accuracy (ties: nearest 0.5); aggression keeps recall >= 0.9."""
    ordered = np.unique(scores)
    candidates = np.concatenate([[0.0], (ordered[1:] + ordered[:-1]) / 2, [1.0]])
    accuracy = [float(((scores >= c) == labels).mean()) for c in candidates]
    best = max(range(len(candidates)), key=lambda i: (accuracy[i], -abs(candidates[i] - 0.5)))
    fight = float(candidates[best])
    positives = np.sort(scores[labels == 1])
    k = int(np.floor((1.0 - AGGRESSION_RECALL) * len(positives)))
    aggression = float(positives[k]) - 1e-4 if len(positives) else fight
    # clips the people gate closed score 0; aggression stays within AGGRESSION_MAX_GAP of the fight threshold
    aggression = max(aggression, fight - AGGRESSION_MAX_GAP)
    return round(fight, 4), round(min(aggression, fight), 4)


def train(
    clips: Sequence[ClipFeatures], seed: int = SEED, n_splits: int = N_SPLITS, recipe: Recipe = RECIPE
) -> FightModel:
    """Choose the feature set, cross-validate, choose thresholds on out-of-fold scores, fit on all."""
    labels = np.array([c.label for c in clips], dtype=np.int64)
    set_scores = feature_set_scores(clips, seed, recipe)
    features = best_feature_set(set_scores, recipe)
    oof = cross_validate(clips, features, seed, n_splits, recipe)
    fight, aggression = choose_thresholds(oof, labels)
    model = fit_model(clips, features, seed, recipe)
    model.threshold_fight, model.threshold_aggression = fight, max(0.05, aggression)
    model.meta = {
        "trained_on": "fights/surveillance labels.csv",
        "clips": len(clips),
        "sources": len({c.source for c in clips}),
        "seed": seed,
        "cv": f"StratifiedGroupKFold({n_splits}) by source_video",
        "cv_auc": round(float(roc_auc_score(labels, oof)), 4),
        "cv_accuracy_at_threshold": round(float(((oof >= fight) == labels).mean()), 4),
        "C": recipe.c,
        "feature_set_inner_cv_auc": {
            "+".join(f): round(a, 4) for f, a in zip(recipe.feature_sets, set_scores, strict=True)
        },
        "clip_score": "mean window probability (0 while the people gate is closed)",
        "people": f"MoveNet MultiPose {fight_cache.POSE_INPUT} px, person score >= {PEOPLE_MIN_SCORE}, "
        f"{PEOPLE_FPS:g} fps, PersonTracker",
    }
    return model


def clip_stream(root: Path, file: str, model: FightModel) -> tuple[Times, Scores]:
    """The smoothed score a live camera's FightScorer gives every analysed frame of a clip (from the cache)."""
    replayed = fight_cache.replay(fight_cache.load(root / file), model)
    return replayed.t, replayed.scores


def fold_models(
    clips: Sequence[ClipFeatures], model: FightModel, seed: int, n_splits: int = N_SPLITS, recipe: Recipe = RECIPE
) -> dict[str, FightModel]:
    """For every clip file, the model with `model`'s features and thresholds fitted on the folds without its source."""
    owner: dict[str, FightModel] = {}
    for train_idx, test_idx in source_folds(clips, seed, n_splits):
        fold = fit_model([clips[i] for i in train_idx], model.features, seed, recipe)
        fold.threshold_fight, fold.threshold_aggression = model.threshold_fight, model.threshold_aggression
        owner.update({clips[i].file: fold for i in test_idx})
    return owner


def reference_streams(
    root: Path, clips: Sequence[ClipFeatures], model: FightModel, seed: int, n_splits: int = N_SPLITS
) -> list[tuple[Times, Scores]]:
    """Out-of-fold score streams of the fight clips: each scored by the fold model that never saw its source."""
    streams: dict[int, tuple[Times, Scores]] = {}
    recipe = Recipe((tuple(model.features),), model.gate_s, float(model.meta.get("C", REGULARISATION_C)))
    for train_idx, test_idx in source_folds(clips, seed, n_splits):
        fold = fit_model([clips[i] for i in train_idx], model.features, seed, recipe)
        streams.update({int(i): clip_stream(root, clips[i].file, fold) for i in test_idx if clips[i].label})
    return [streams[i] for i in sorted(streams)]


def reference_meta(streams: Sequence[tuple[Times, Scores]], model: FightModel) -> dict[str, object]:
    """Per fight clip, the highest level the score sustains for the trigger's minimum durations (budget.py)."""
    durations = {"fight": model.fight_min_duration_s, "aggression": AGGRESSION_MIN_DURATION_S}
    table = {f"{d:g}": reference_peaks(streams, d) for d in sorted({*REFERENCE_DURATIONS_S, *durations.values()})}
    return {
        "reference": f"{len(streams)} labelled fight clips, scored out-of-fold (same folds as cv) by FightScorer; "
        "peak = highest level the smoothed score holds for the minimum duration",
        "reference_peak_min_duration_s": durations,
        "reference_clip_scored_s": [math.floor(scored_seconds(t, s) * 100) / 100 for t, s in streams],
        "reference_fight_peaks": table[f"{durations['fight']:g}"],
        "reference_aggression_peaks": table[f"{durations['aggression']:g}"],
        # the aggression score is the fight score in this model, so one table serves both kinds
        "reference_fight_peaks_by_duration": table,
        "reference_aggression_peaks_by_duration": table,
    }


class ExtraFolderError(ValueError):
    """An --extra folder that cannot be read as labelled clips (the message says why)."""


def extra_rows(folder: Path) -> list[dict[str, str]]:
    """labels.csv rows of an extra folder, with absolute clip paths and sources kept apart from the reference's.

    ExtraFolderError for a missing labels.csv, a missing column, an unknown label or a missing clip.
    """
    labels = folder / "labels.csv"
    if not labels.is_file():
        raise ExtraFolderError(f"{folder}: no labels.csv (write one with manage.py export_incident_clips)")
    rows = read_labels(folder)
    if rows and not {"file", "label", "source_video"} <= set(rows[0]):
        raise ExtraFolderError(f"{labels}: needs the columns file, label, source_video")
    out = []
    for number, row in enumerate(rows, start=2):
        if row["label"] not in ("fight", "noFight"):
            raise ExtraFolderError(f"{labels} line {number}: label must be fight or noFight, not {row['label']!r}")
        path = (folder / row["file"]).resolve()
        if not path.is_file():
            raise ExtraFolderError(f"{labels} line {number}: {row['file']} not found")
        out.append({**row, "file": str(path), "source_video": f"{folder.name}/{row['source_video']}"})
    if not out:
        raise ExtraFolderError(f"{labels}: no clips")
    return out


def subset_rows(rows: Sequence[dict[str, str]], n_sources: int) -> list[dict[str, str]]:
    """Rows of the n largest source videos (small reproducibility runs)."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["source_video"]] = counts.get(row["source_video"], 0) + 1
    keep = sorted(counts, key=lambda s: (-counts[s], s))[:n_sources]
    return [r for r in rows if r["source_video"] in keep]


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--sources", type=int, default=0, help="use only the N largest sources")
    parser.add_argument(
        "--extra", type=Path, action="append", default=[], help="a folder of the city's own labelled clips (labels.csv)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.extra and args.out.resolve() == MODEL_PATH.resolve():
        logger.error("--extra trains a site model: write it elsewhere with --out (the shipped model stays as it is)")
        return 2
    root = fight_cache.labelled_root()
    if root is None:
        logger.error("fights/surveillance sample data not found (set CC_SAMPLE_DATA)")
        return 2
    rows = read_labels(root)
    if args.sources:
        rows = subset_rows(rows, args.sources)
    try:
        extra = [row for folder in args.extra for row in extra_rows(folder)]
    except ExtraFolderError as exc:
        logger.error("%s", exc)
        return 2
    clips = extract_dataset(root, rows + extra)
    n_splits = N_SPLITS if not args.sources else 3
    model = train(clips, args.seed, n_splits)
    if extra:
        model.meta["trained_on"] = "fights/surveillance labels.csv + " + ", ".join(str(f) for f in args.extra)
        model.meta["extra_clips"] = {
            "fight": sum(r["label"] == "fight" for r in extra),
            "noFight": sum(r["label"] != "fight" for r in extra),
            "sources": len({r["source_video"] for r in extra}),
        }
    model.meta.update(reference_meta(reference_streams(root, clips, model, args.seed, n_splits), model))
    model.to_json(args.out)
    logger.info("wrote %s: %s", args.out, model.meta)
    return 0


if __name__ == "__main__":
    sys.exit(main())
