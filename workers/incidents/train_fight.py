"""Train the fight model on fights/surveillance with CV split by source video; writes JSON.

Run: .venv/bin/python -m workers.incidents.train_fight [--out PATH] [--seed N] [--sources N]
"""

from __future__ import annotations

import argparse
import csv
import logging
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

from workers.incidents.fight import DEFAULT_FEATURES, MODEL_PATH, FightModel, window_vector
from workers.incidents.flow import CELL_CHANNELS, CELLS, FloatArray, FlowFeatureExtractor
from workers.incidents.video import iter_frames
from workers.sampledata import sample_path

logger = logging.getLogger(__name__)

SEED = 7
N_SPLITS = 5
REGULARISATION_C = 0.01
AGGRESSION_RECALL = 0.9


@dataclass(frozen=True)
class ClipFeatures:
    """Per-pair cell summaries (pairs, CELLS, CELLS, channels) of one labelled clip."""

    file: str
    label: int
    source: str
    times: FloatArray
    pairs: FloatArray


def read_labels(root: Path) -> list[dict[str, str]]:
    """Rows of labels.csv (file, label, source_video)."""
    with (root / "labels.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def extract_clip(path: Path, fps: float, width: int) -> tuple[FloatArray, FloatArray]:
    """Times and per-pair cell summaries of a clip sampled at `fps`."""
    extractor = FlowFeatureExtractor(width)
    times: list[float] = []
    pairs: list[FloatArray] = []
    for t, frame in iter_frames(path, fps):
        cells = extractor.push_cells(frame, t)
        if cells is not None:
            times.append(t)
            pairs.append(cells)
    empty = np.zeros((0, CELLS, CELLS, len(CELL_CHANNELS)), dtype=np.float32)
    return np.asarray(times, dtype=np.float32), np.stack(pairs) if pairs else empty


def extract_dataset(
    root: Path, rows: Sequence[dict[str, str]], fps: float = 10.0, width: int = 160
) -> list[ClipFeatures]:
    """Extract features of every labelled clip."""
    clips = []
    for row in rows:
        times, pairs = extract_clip(root / row["file"], fps, width)
        label = int(row["label"] == "fight")
        clips.append(ClipFeatures(row["file"], label, row["source_video"], times, pairs))
    logger.info("extracted %d clips", len(clips))
    return clips


def clip_windows(
    clip: ClipFeatures, columns: list[int], window_s: float, min_pairs: int
) -> FloatArray:
    """Window vectors ending at every pair once `min_pairs` are available (as FightScorer does)."""
    vectors = []
    for end in range(len(clip.times)):
        inside = (clip.times[: end + 1] > clip.times[end] - window_s).nonzero()[0]
        if len(inside) >= min_pairs:
            vectors.append(window_vector(clip.pairs[inside], columns))
    if not vectors and len(clip.times):
        vectors.append(window_vector(clip.pairs, columns))
    return np.stack(vectors) if vectors else np.zeros((0, len(columns)), dtype=np.float32)


def _design(
    clips: Sequence[ClipFeatures], model: FightModel
) -> tuple[FloatArray, npt.NDArray[np.int64], FloatArray]:
    """Window vectors, labels and weights that give every clip the same total weight."""
    columns = model.columns()
    blocks = [clip_windows(c, columns, model.window_s, model.min_pairs) for c in clips]
    labels = [np.full(len(b), c.label, dtype=np.int64) for b, c in zip(blocks, clips, strict=True)]
    weights = [np.full(len(b), 1.0 / max(len(b), 1)) for b in blocks]
    return np.concatenate(blocks), np.concatenate(labels), np.concatenate(weights) * len(clips)


def fit_model(clips: Sequence[ClipFeatures], features: Sequence[str], seed: int) -> FightModel:
    """Fit scaler + logistic regression on all windows of the clips (thresholds left at 0.5)."""
    model = FightModel(list(features), [], [], [], 0.0, 0.5, 0.5)
    x, y, weights = _design(clips, model)
    scaler = StandardScaler().fit(x)
    lr = LogisticRegression(C=REGULARISATION_C, max_iter=5000, random_state=seed)
    lr.fit(scaler.transform(x), y, sample_weight=weights)
    model.mean = [round(float(v), 8) for v in scaler.mean_]
    model.scale = [round(float(v), 8) for v in scaler.scale_]
    model.coef = [round(float(v), 8) for v in lr.coef_[0]]
    model.intercept = round(float(lr.intercept_[0]), 8)
    return model


def clip_score(model: FightModel, clip: ClipFeatures) -> float:
    """Clip-level score: mean window probability."""
    windows = clip_windows(clip, model.columns(), model.window_s, model.min_pairs)
    if not len(windows):
        return 0.0
    return float(np.mean([model.probability(w) for w in windows]))


def cross_validate(
    clips: Sequence[ClipFeatures], features: Sequence[str], seed: int, n_splits: int = N_SPLITS
) -> FloatArray:
    """Out-of-fold clip scores; folds never share a source video."""
    labels = np.array([c.label for c in clips])
    groups = np.array([c.source for c in clips])
    folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    scores = np.zeros(len(clips), dtype=np.float32)
    for train_idx, test_idx in folds.split(np.zeros(len(clips)), labels, groups):
        model = fit_model([clips[i] for i in train_idx], features, seed)
        for i in test_idx:
            scores[i] = clip_score(model, clips[i])
    return scores


def choose_thresholds(scores: FloatArray, labels: npt.NDArray[np.int64]) -> tuple[float, float]:
    """Fight threshold maximising accuracy (ties: higher); aggression keeps recall >= 0.9."""
    ordered = np.unique(scores)
    candidates = np.concatenate([[0.0], (ordered[1:] + ordered[:-1]) / 2, [1.0]])
    accuracy = [float(((scores >= c) == labels).mean()) for c in candidates]
    fight = float(candidates[max(range(len(candidates)), key=lambda i: (accuracy[i], i))])
    positives = np.sort(scores[labels == 1])
    k = int(np.floor((1.0 - AGGRESSION_RECALL) * len(positives)))
    aggression = float(positives[k]) - 1e-4 if len(positives) else fight
    return round(fight, 4), round(min(aggression, fight), 4)


def train(clips: Sequence[ClipFeatures], seed: int = SEED, n_splits: int = N_SPLITS) -> FightModel:
    """Cross-validate, choose thresholds on out-of-fold scores, fit the final model on all clips."""
    labels = np.array([c.label for c in clips], dtype=np.int64)
    oof = cross_validate(clips, DEFAULT_FEATURES, seed, n_splits)
    fight, aggression = choose_thresholds(oof, labels)
    model = fit_model(clips, DEFAULT_FEATURES, seed)
    model.threshold_fight, model.threshold_aggression = fight, aggression
    model.meta = {
        "trained_on": "fights/surveillance labels.csv",
        "clips": len(clips),
        "sources": len({c.source for c in clips}),
        "seed": seed,
        "cv": f"StratifiedGroupKFold({n_splits}) by source_video",
        "cv_auc": round(float(roc_auc_score(labels, oof)), 4),
        "cv_accuracy_at_threshold": round(float(((oof >= fight) == labels).mean()), 4),
        "C": REGULARISATION_C,
    }
    return model


def subset_rows(rows: Sequence[dict[str, str]], n_sources: int) -> list[dict[str, str]]:
    """Rows of the n largest source videos (small reproducibility runs)."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["source_video"]] = counts.get(row["source_video"], 0) + 1
    keep = sorted(counts, key=lambda s: (-counts[s], s))[:n_sources]
    return [r for r in rows if r["source_video"] in keep]


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--sources", type=int, default=0, help="use only the N largest sources")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    root = sample_path("fights", "surveillance")
    if root is None:
        logger.error("fights/surveillance sample data not found (set CC_SAMPLE_DATA)")
        return 2
    rows = read_labels(root)
    if args.sources:
        rows = subset_rows(rows, args.sources)
    model = train(extract_dataset(root, rows), args.seed, N_SPLITS if not args.sources else 3)
    model.to_json(args.out)
    logger.info("wrote %s: %s", args.out, model.meta)
    return 0


if __name__ == "__main__":
    sys.exit(main())
