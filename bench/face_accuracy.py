"""Face matching accuracy on every labelled face we have: open-set 1:N, enrolment acceptance, cost, calibration.

Run: ``OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/face_accuracy.py [--splits 200] [--fusion-grid]``.

Data (``CC_SAMPLE_DATA``, by default ``../shared/data``; see ``vision.faces.datasets``): the labelled
single-person photos of ``faces/deepface``, ``faces/face_recognition`` and ``faces/facenet_pytorch``
(near-duplicates left out), every face in the group photos of strangers, and the faces of two clips
(``short_hamilton_clip.mp4``, ``facenet_pytorch/examples/video.mp4``) sampled at 2 fps.

Printed, for Dlib (``Dlib-onnx``, today's default), MobileFaceNet and their fusion in one run:
* **open-set 1:N with one photo per enrolled person**: over random splits, half the identities are
  enrolled with one photo each; probes are their other photos (mated), every photo of the others,
  every stranger face and every clip face (non-mated; the two Hamilton people are never enrolled in
  the splits, so the clip's faces are all non-mated). FNIR at FPIR 0.001, 0.01 and 0.05.
* **enrolment acceptance**: photos enrolled / photos tried, today's rules vs the old ones (80 px, blur
  refusal, any second face refused), over the labelled photos (a person sees one clear face in each).
* **embedding cost**: median ms per face (alignment + network), ratio to Dlib-onnx.
* **calibration at city scale**: the impostor distribution (all cross-identity pairs incl. strangers and
  clip faces), the per-pair FMR a 1% FPIR against a 1,000-person list implies, and the threshold for it.
"""

from __future__ import annotations

import argparse
import logging
import math
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from bench._common import require_sample
from tools.measure import text_table as table
from vision.faces.base import FaceDetector
from vision.faces.calibration import (
    OpenSetProbe,
    fnir_at_fpir,
    gaussian_tail_fmr,
    open_set_rates,
    per_pair_fmr_for,
    rule_of_three_fmr,
    shipped_threshold,
    threshold_for_fmr,
)
from vision.faces.datasets import labelled_photos
from vision.faces.detectors import build_detector
from vision.faces.embedders import FUSIONS, build_embedder
from vision.faces.enrol import DEFAULT_MIN_FACE_PX, prepare_enrolment
from vision.faces.errors import FaceImageError
from vision.faces.evaluation import Costs, Face, clip_faces, fuse, impostor_distances, is_labelled, photo_faces

MODELS = {"Dlib": "Dlib-onnx", "MobileFaceNet": "MobileFaceNet"}
FUSED = "Dlib+MobileFaceNet"
FPIR_TARGETS = (0.001, 0.01, 0.05)
WATCHLIST = 1000
CITY_FPIR = 0.01
NEVER_ENROLLED = {"lin_manuel_miranda", "alex_lacamoire"}  # they are in the Hamilton clip's faces


def open_set(faces: list[Face], models: list[str], splits: int, seed: int = 7) -> dict[str, list[OpenSetProbe]]:
    """Pooled top-1 results per model over random splits (half the identities enrolled, one photo each)."""
    rng = random.Random(seed)
    by_identity: dict[str, list[Face]] = {}
    for face in faces:
        if is_labelled(face):
            by_identity.setdefault(face.identity, []).append(face)
    candidates = sorted(i for i in by_identity if i not in NEVER_ENROLLED)
    results: dict[str, list[OpenSetProbe]] = {m: [] for m in models}
    for _ in range(splits):
        enrolled = rng.sample(candidates, len(candidates) // 2)
        gallery = {identity: rng.choice(by_identity[identity]) for identity in enrolled}
        probes = [f for f in faces if f not in gallery.values()]
        for model in models:
            matrix = np.stack([g.vectors[model] for g in gallery.values()])
            names = list(gallery)
            scores = np.stack([p.vectors[model] for p in probes]) @ matrix.T
            for probe, row in zip(probes, scores, strict=True):
                best = int(np.argmax(row))
                results[model].append(
                    OpenSetProbe(
                        distance=1.0 - float(row[best]),
                        mated=probe.identity in gallery,
                        correct=names[best] == probe.identity,
                    )
                )
    return results


def acceptance(root: Path, detector: FaceDetector, embedder: object) -> tuple[list[str], list[str]]:
    """Refusals among the labelled photos under today's rules and under the old ones (codes per photo)."""
    today, old = [], []
    for photo in labelled_photos(root):
        data = (root / photo.path).read_bytes()
        try:
            face = prepare_enrolment(data, detector=detector, embedders=[embedder], min_face_px=DEFAULT_MIN_FACE_PX)  # type: ignore[list-item]
        except FaceImageError as error:
            today.append(f"{photo.path}: {error.code}")
            old.append(f"{photo.path}: {error.code}")
            continue
        codes = [w.code for w in face.warnings]
        if "several_faces" in codes:
            old.append(f"{photo.path}: several_faces")
        elif face.quality.size_px < 80:
            old.append(f"{photo.path}: face_too_small")
        elif face.quality.sharpness < 50:
            old.append(f"{photo.path}: face_too_blurry")
    return today, old


def calibration_lines(impostors: dict[str, list[float]]) -> list[str]:
    """Per model: impostor count, the implied per-pair FMR, the threshold for it and how far the data supports it."""
    target = per_pair_fmr_for(CITY_FPIR, WATCHLIST)
    lines = [
        f"FPIR <= {CITY_FPIR:.0%} per probe against a {WATCHLIST:,}-person list implies a per-pair FMR of {target:.3g}",
        f"(1 - (1 - {CITY_FPIR})^(1/{WATCHLIST})); measuring it needs >= {math.ceil(3 / target):,} impostor pairs "
        "with none accepted (rule of three).",
    ]
    rows = []
    for model, distances in impostors.items():
        enough = len(distances) >= 3 / target
        empirical = threshold_for_fmr(distances, target)
        fitted = _gaussian_threshold(distances, target)
        try:
            shipped = f"{shipped_threshold(model):.4f}"
        except KeyError:
            shipped = "-"
        rows.append(
            [
                model,
                f"{len(distances):,}",
                f"{min(distances):.4f}",
                f"{empirical:.4f}",
                f"{fitted:.4f}",
                f"{rule_of_three_fmr(len(distances)):.2g}",
                shipped,
                "yes" if enough else "NO: too few pairs",
            ]
        )
    head = ["model", "impostor pairs", "closest", f"thr@FMR {target:.2g}", "normal-fit thr", "FMR floor", "shipped"]
    lines.append(table(rows, [*head, "supports target"]))
    return lines


def _gaussian_threshold(distances: list[float], fmr: float) -> float:
    """Distance where a normal fit of the impostor distances puts ``fmr`` (bisection on its tail)."""
    low, high = 0.0, 1.0
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if gaussian_tail_fmr(distances, middle) < fmr else (low, middle)
    return low


def open_set_table(results: dict[str, list[OpenSetProbe]], costs: Costs) -> str:
    """FNIR at each FPIR target and at the shipped threshold, ms per face and ratios to Dlib."""
    rows = []
    reference_ms = statistics.median(costs.ms["Dlib"])
    reference = {t: fnir_at_fpir(results["Dlib"], t)[1] for t in FPIR_TARGETS}
    for model, probes in results.items():
        ms = sum(statistics.median(costs.ms[p]) for p, _ in FUSIONS.get(model, [(model, 1.0)]))
        row = [model, f"{sum(p.mated for p in probes)}/{sum(not p.mated for p in probes)}"]
        for target in FPIR_TARGETS:
            threshold, fnir = fnir_at_fpir(probes, target)
            ratio = f" (x{fnir / reference[target]:.2f})" if reference[target] > 0 else ""
            row.append(f"{fnir:.3f} @ {threshold:.4f}{ratio}")
        try:
            fnir, fpir = open_set_rates(probes, shipped_threshold(model))
            row.append(f"{fnir:.3f} / {fpir:.4f}")
        except KeyError:
            row.append("-")
        row += [f"{ms:.1f}", f"x{ms / reference_ms:.2f}"]
        rows.append(row)
    head = ["model", "mated/non-mated", *(f"FNIR@FPIR {t}" for t in FPIR_TARGETS), "FNIR/FPIR @shipped"]
    return table(rows, [*head, "ms/face", "cost vs Dlib-onnx"])


def main() -> None:
    """Embed everything once per model, then print the tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--splits", type=int, default=200, help="random 1:N gallery splits")
    parser.add_argument("--fusion-grid", action="store_true", help="also print FNIR for Dlib weights 0.2..0.8")
    parser.add_argument("--clip-detector", default="mtcnn", help="detector for the clips' faces")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    root = require_sample("faces")
    detector = build_detector("dlib-hog")
    embedders = {model: build_embedder(name) for model, name in MODELS.items()}
    costs = Costs()
    started = time.perf_counter()
    faces = photo_faces(root, embedders, detector, costs)
    faces += clip_faces(root, embedders, build_detector(args.clip_detector), costs)
    fuse(faces, FUSED, FUSIONS[FUSED])
    labelled = [f for f in faces if is_labelled(f)]
    print(
        f"{len(labelled)} labelled photos of {len({f.identity for f in labelled})} people, "
        f"{sum(1 for f in faces if not f.identity)} stranger faces, "
        f"{sum(1 for f in faces if f.identity.startswith('clip:'))} clip faces "
        f"(embedded in {time.perf_counter() - started:.0f} s)"
    )
    models = [*MODELS, FUSED]
    results = open_set(faces, models, args.splits)
    print(f"\n=== open-set 1:N, one photo per enrolled person, {args.splits} splits (FNIR @ distance threshold)")
    print(open_set_table(results, costs))
    if args.fusion_grid:
        print_fusion_grid(faces, args.splits)
    today, old = acceptance(root, detector, embedders["Dlib"])
    tried = len(labelled_photos(root))
    print(f"\n=== enrolment acceptance over {tried} labelled photos (one clear face each)")
    print(f"  today: {tried - len(today)}/{tried} enrolled; refused: {today or 'none'}")
    print(f"  old rules (>= 80 px, blur refused, any second face refused): {tried - len(old)}/{tried}; refused: {old}")
    print("\n=== calibration at city scale")
    print("\n".join(calibration_lines({m: impostor_distances(faces, m) for m in models})))


def print_fusion_grid(faces: list[Face], splits: int) -> None:
    """FNIR at each FPIR target for a range of Dlib weights in the fusion."""
    rows = []
    for weight in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        fuse(faces, FUSED, [("Dlib", weight), ("MobileFaceNet", 1.0 - weight)])
        probes = open_set(faces, [FUSED], splits)[FUSED]
        rows.append([f"{weight:.1f}", *(f"{fnir_at_fpir(probes, t)[1]:.3f}" for t in FPIR_TARGETS)])
    fuse(faces, FUSED, FUSIONS[FUSED])
    print("\n=== fusion weight (on Dlib's cosine) vs FNIR")
    print(table(rows, ["Dlib weight", *(f"FNIR@FPIR {t}" for t in FPIR_TARGETS)]))


if __name__ == "__main__":
    main()
