"""Calibration of the face matcher on a labelled folder, and the expected false-alert rate it implies."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

ROC_POINTS = 12


def calibration_path(model_name: str | None = None) -> Path:
    """Where the saved calibration of a model lives."""
    return Path(settings.VAR_DIR) / "calibration" / f"{model_name or settings.CC_FACE_MODEL}.json"


def _embed_folder(folder: Path, names: set[str]) -> dict[str, Any]:
    from vision.faces.base import largest_first
    from vision.faces.detectors import build_detector
    from vision.faces.embedders import build_embedder
    from vision.faces.image import decode_image

    detector, embedder = build_detector(settings.CC_FACE_DETECTOR), build_embedder(settings.CC_FACE_MODEL)
    vectors = {}
    for name in sorted(names):
        path = folder / name
        if not path.is_file():
            continue
        image = decode_image(path.read_bytes())
        faces = largest_first(detector.detect(image))
        if faces:
            vectors[name] = embedder.embed(image, faces[0])
    return vectors


def _pairs(folder: Path) -> list[tuple[str, str, bool]]:
    from vision.faces.datasets import read_pairs

    pairs: list[tuple[str, str, bool]] = []
    for csv_name in ("master.csv", "face-recognition-pivot.csv"):
        if (folder / csv_name).is_file():
            pairs += read_pairs(folder / csv_name)
    if not pairs:
        raise FileNotFoundError(f"no master.csv or face-recognition-pivot.csv in {folder}")
    return pairs


def calibrate(folder: Path, *, target_fmr: float, watchlist_size: int) -> dict[str, Any]:
    """Distances of labelled pairs -> stats, ROC, thresholds, expected false alerts."""
    from vision.faces import calibration as cal
    from vision.faces.index import cosine_distance

    pairs = _pairs(folder)
    vectors = _embed_folder(folder, {name for a, b, _ in pairs for name in (a, b)})
    genuine: list[float] = []
    impostor: list[float] = []
    for a, b, same in pairs:
        if a in vectors and b in vectors:
            (genuine if same else impostor).append(cosine_distance(vectors[a], vectors[b]))
    shipped = 1.0 - float(settings.CC_FACE_DEFAULT_THRESHOLD)
    empirical = cal.rates_at(genuine, impostor, shipped).fmr
    fitted = cal.gaussian_tail_fmr(impostor, shipped)
    fmr = max(empirical, fitted)
    best_threshold, best_accuracy = cal.best_accuracy_threshold(genuine, impostor)
    roc = cal.roc_points(genuine, impostor)
    step = max(1, len(roc) // ROC_POINTS)
    return {
        "model": settings.CC_FACE_MODEL,
        "photos": len(vectors),
        "genuine": _stats(cal.distance_stats(genuine)),
        "impostor": _stats(cal.distance_stats(impostor)),
        "auc": cal.roc_auc(genuine, impostor),
        "best_threshold": best_threshold,
        "best_accuracy": best_accuracy,
        "target_fmr": target_fmr,
        "threshold_for_target": cal.threshold_for_fmr(impostor, target_fmr),
        "shipped_threshold": shipped,
        "shipped_fmr": fmr,
        "shipped_fmr_empirical": empirical,
        "shipped_fmr_fit": fitted,
        "watchlist_size": watchlist_size,
        "false_alerts_per_10k": cal.expected_false_alerts(fmr, watchlist_size),
        "roc": [{"threshold": p.threshold, "fmr": p.fmr, "tmr": 1 - p.fnmr} for p in roc[::step]],
        "impostor_distances": sorted(impostor),
    }


def _stats(stats: Any) -> dict[str, float]:
    return {
        "count": stats.count,
        "mean": stats.mean,
        "std": stats.std,
        "min": stats.minimum,
        "p5": stats.p05,
        "median": stats.median,
        "p95": stats.p95,
        "max": stats.maximum,
    }


def save_calibration(result: dict[str, Any]) -> Path:
    """Write the calibration JSON read by `expected_false_alerts_for`."""
    path = calibration_path(result["model"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result))
    return path


def expected_false_alerts_for(similarity_threshold: float, watchlist_size: int) -> float | None:
    """Expected false alerts per 10,000 faces at a threshold for a list size (None if not calibrated)."""
    from vision.faces import calibration as cal

    path = calibration_path()
    if not path.is_file():
        return None
    impostor = json.loads(path.read_text())["impostor_distances"]
    distance = 1.0 - similarity_threshold
    empirical = sum(1 for d in impostor if d <= distance) / max(len(impostor), 1)
    fmr = max(empirical, cal.gaussian_tail_fmr(impostor, distance))
    return float(cal.expected_false_alerts(fmr, max(watchlist_size, 1)))
