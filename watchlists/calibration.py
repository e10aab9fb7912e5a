"""Calibration of the face matcher on every labelled face we have, and the expected false-alert rate it implies.

The impostor distribution is every pair that cannot be one person with a labelled photo in it:
labelled photos of different people, strangers' faces from group photos and faces from the probe
clips against the labelled photos (``vision.faces.evaluation``). The target is a false-positive
identification rate per probe (FPIR, 1%) against a watchlist size (1,000); the per-pair FMR it
implies is ``1 - (1 - FPIR)^(1/N)`` (~1e-5). When fewer than ``3 / FMR`` impostor pairs were
measured the data cannot support the target and the result says so.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

ROC_POINTS = 12


def calibration_path(model_name: str) -> Path:
    """Where the saved calibration of a model (``model_name`` as stored on embeddings, e.g. "Dlib") lives."""
    return Path(settings.VAR_DIR) / "calibration" / f"{model_name}.json"


def _faces(root: Path, embedder_name: str, clips: bool) -> tuple[list[Any], str]:
    from vision.faces.detectors import build_detector
    from vision.faces.embedders import FusedEmbedder, build_embedder, storage_embedders
    from vision.faces.evaluation import Costs, clip_faces, fuse, photo_faces

    embedder = build_embedder(embedder_name)
    parts = {part.model_name: part for part in storage_embedders(embedder)}
    costs = Costs()
    faces = photo_faces(root, parts, build_detector(settings.CC_FACE_DETECTOR), costs)
    if clips:
        faces += clip_faces(root, parts, build_detector(settings.CC_STREAM_FACE_DETECTOR), costs)
    if isinstance(embedder, FusedEmbedder):
        fuse(faces, embedder.model_name, [(part.model_name, weight) for part, weight in embedder.parts])
    return faces, embedder.model_name


def calibrate(
    root: Path, *, embedder_name: str, target_fpir: float, watchlist_size: int, clips: bool = True
) -> dict[str, Any]:
    """Genuine and impostor distances of all the faces -> stats, ROC, the threshold for the target, warnings."""
    from vision.faces import calibration as cal
    from vision.faces.evaluation import genuine_distances, impostor_distances, is_labelled

    faces, model_name = _faces(root, embedder_name, clips)
    genuine, impostor = genuine_distances(faces, model_name), impostor_distances(faces, model_name)
    if not genuine or not impostor:
        raise ValueError(f"no labelled pairs under {root}: is it the faces folder of the sample data?")
    target_fmr = cal.per_pair_fmr_for(target_fpir, watchlist_size)
    needed = math.ceil(3 / target_fmr)
    empirical = cal.threshold_for_fmr(impostor, target_fmr)
    try:
        shipped = cal.shipped_threshold(model_name)
    except KeyError:
        shipped = empirical
    shipped_fmr = max(cal.rates_at(genuine, impostor, shipped).fmr, cal.gaussian_tail_fmr(impostor, shipped))
    roc = cal.roc_points(genuine, impostor)
    step = max(1, len(roc) // ROC_POINTS)
    warnings = []
    if len(impostor) < needed:
        warnings.append(
            f"only {len(impostor):,} impostor pairs: a per-pair FMR of {target_fmr:.2g} needs at least {needed:,} "
            f"with none accepted (rule of three); the threshold below is just under the closest impostor and its "
            f"true FMR is unknown (at most {cal.rule_of_three_fmr(len(impostor)):.2g} with 95% confidence). "
            "Add labelled faces (or the venue's own footage) before trusting it at this scale."
        )
    return {
        "model": model_name,
        "embedder": embedder_name,
        "labelled_photos": sum(1 for f in faces if is_labelled(f)),
        "faces": len(faces),
        "genuine": _stats(cal.distance_stats(genuine)),
        "impostor": _stats(cal.distance_stats(impostor)),
        "auc": cal.roc_auc(genuine, impostor),
        "target_fpir": target_fpir,
        "watchlist_size": watchlist_size,
        "target_fmr": target_fmr,
        "impostor_pairs_needed": needed,
        "supports_target": len(impostor) >= needed,
        "warnings": warnings,
        "threshold_for_target": empirical,
        "fnmr_at_target": cal.rates_at(genuine, impostor, empirical).fnmr,
        "shipped_threshold": shipped,
        "shipped_fmr": shipped_fmr,
        "shipped_fnmr": cal.rates_at(genuine, impostor, shipped).fnmr,
        "false_alerts_per_10k": cal.expected_false_alerts(shipped_fmr, watchlist_size),
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
    """Expected false alerts per 10,000 faces at a (calibrated) threshold for a list size (None if not calibrated)."""
    from vision.faces import calibration as cal
    from vision.faces.embedders import build_embedder
    from watchlists.matching import active_face_model

    model_name = build_embedder(active_face_model()).model_name
    path = calibration_path(model_name)
    if not path.is_file():
        return None
    impostor = json.loads(path.read_text())["impostor_distances"]
    distance = (1.0 - similarity_threshold) / cal.distance_scale(model_name)
    empirical = sum(1 for d in impostor if d <= distance) / max(len(impostor), 1)
    fmr = max(empirical, cal.gaussian_tail_fmr(impostor, distance))
    return float(cal.expected_false_alerts(fmr, max(watchlist_size, 1)))
