"""Face matching accuracy on the real DeepFace sample photos (1:1 and open-set 1:N).

Run: ``.venv/bin/python bench/face_accuracy.py [--no-baseline] [--splits 50]``.
Pipeline: decode -> dlib HOG detector -> dlib 5-point chip -> dlib ResNet (128-d).
Baseline (same run): one-shot ``DeepFace.represent(model_name="Dlib")`` with its
default OpenCV detector, i.e. what calling DeepFace directly would give.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import random
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from workers.faces.base import FloatArray, l2_normalise
from workers.faces.calibration import (
    OpenSetProbe,
    accuracy_at,
    best_accuracy_threshold,
    distance_stats,
    expected_false_alerts,
    fnir_at_fpir,
    gaussian_tail_fmr,
    open_set_rates,
    rates_at,
    roc_auc,
    rule_of_three_fmr,
    shipped_threshold,
)
from workers.faces.datasets import read_clusters, read_pairs
from workers.faces.detectors import build_detector
from workers.faces.embedders import build_embedder
from workers.faces.image import decode_image
from workers.faces.measure import text_table as table
from workers.faces.provision import provision_weights
from workers.sampledata import sample_path

Vectors = dict[str, FloatArray | None]
WATCHLIST = 1000


def require_sample(*parts: str) -> Path:
    """Return a sample-data path, or exit 0 with a clear message when it is absent."""
    path = sample_path(*parts)
    if path is None:
        print(
            f"SKIP: sample data {'/'.join(parts)} not found "
            "(set CC_SAMPLE_DATA to the real photos folder, by default ../shared/data)"
        )
        raise SystemExit(0)
    return path


def pipeline_vectors(folder: Path, files: list[str]) -> Vectors:
    """Embed the largest face of each photo with our pipeline (None when no face)."""
    detector, embedder = build_detector("dlib-hog"), build_embedder("Dlib")
    vectors: Vectors = {}
    for name in files:
        image = decode_image((folder / name).read_bytes())
        faces = detector.detect(image)
        vectors[name] = embedder.embed(image, faces[0]) if faces else None
    return vectors


def baseline_vectors(folder: Path, files: list[str]) -> Vectors:
    """Embed each photo with one-shot ``DeepFace.represent`` (largest face)."""
    import os

    home = Path(tempfile.gettempdir()) / "commandcenter-deepface"
    provision_weights(home)
    os.environ["DEEPFACE_HOME"] = str(home)
    from deepface import DeepFace

    vectors: Vectors = {}
    for name in files:
        found = DeepFace.represent(str(folder / name), model_name="Dlib", enforce_detection=False)
        best = max(found, key=lambda r: r["facial_area"]["w"] * r["facial_area"]["h"])  # type: ignore[index]
        vectors[name] = l2_normalise(np.asarray(best["embedding"]))  # type: ignore[index]
    return vectors


def distance(vectors: Vectors, a: str, b: str) -> float:
    """Cosine distance of two photos; 2.0 (never accepted) when either has no face."""
    va, vb = vectors.get(a), vectors.get(b)
    return 2.0 if va is None or vb is None else float(1.0 - va @ vb)


def split_pairs(
    pairs: list[tuple[str, str, bool]], vectors: Vectors
) -> tuple[list[float], list[float]]:
    """Genuine and impostor distances of labelled pairs."""
    genuine = [distance(vectors, a, b) for a, b, same in pairs if same]
    impostor = [distance(vectors, a, b) for a, b, same in pairs if not same]
    return genuine, impostor


def all_pairs(clusters: dict[str, list[str]]) -> list[tuple[str, str, bool]]:
    """Every pair of photos in the identity clusters, labelled same/different."""
    labelled = [(f, c) for c, files in clusters.items() for f in files]
    return [(a, b, ca == cb) for (a, ca), (b, cb) in itertools.combinations(labelled, 2)]


def verification_rows(label: str, genuine: list[float], impostor: list[float]) -> list[str]:
    """One table row: AUC, best threshold/accuracy, accuracy/FMR/FNMR at the shipped one."""
    shipped = shipped_threshold("Dlib")
    best_t, best_acc = best_accuracy_threshold(genuine, impostor)
    at = rates_at(genuine, impostor, shipped)
    return [
        label,
        f"{len(genuine)}/{len(impostor)}",
        f"{roc_auc(genuine, impostor):.4f}",
        f"{best_t:.4f}",
        f"{best_acc:.2%}",
        f"{accuracy_at(genuine, impostor, shipped):.2%}",
        f"{at.fmr:.2%}",
        f"{at.fnmr:.2%}",
    ]


def open_set_probes(
    clusters: dict[str, list[str]], vectors: Vectors, splits: int, seed: int = 7
) -> list[OpenSetProbe]:
    """Pool top-1 results over random splits: half the identities enrolled, one photo each."""
    rng = random.Random(seed)
    identities = sorted(clusters)
    probes: list[OpenSetProbe] = []
    for _ in range(splits):
        enrolled = rng.sample(identities, len(identities) // 2)
        gallery = {c: rng.choice(clusters[c]) for c in enrolled}
        for cluster, files in clusters.items():
            for name in files:
                if name == gallery.get(cluster):
                    continue
                best = min(gallery.items(), key=lambda item: distance(vectors, name, item[1]))
                probes.append(
                    OpenSetProbe(
                        distance=distance(vectors, name, best[1]),
                        mated=cluster in gallery,
                        correct=best[0] == cluster,
                    )
                )
    return probes


def open_set_rows(label: str, probes: list[OpenSetProbe]) -> list[str]:
    """FNIR at FPIR 1% and 0.1%, and FNIR/FPIR at the shipped threshold."""
    row = [label, f"{sum(p.mated for p in probes)}/{sum(not p.mated for p in probes)}"]
    for target in (0.01, 0.001):
        threshold, fnir = fnir_at_fpir(probes, target)
        row += [f"{fnir:.2%} @ {threshold:.4f}"]
    fnir, fpir = open_set_rates(probes, shipped_threshold("Dlib"))
    return [*row, f"{fnir:.2%}", f"{fpir:.2%}"]


def false_alert_lines(impostor: list[float]) -> list[str]:
    """Expected false alerts per 10,000 passers-by for a 1,000-person watchlist."""
    shipped = shipped_threshold("Dlib")
    measured = rates_at([], impostor, shipped).fmr
    bound = rule_of_three_fmr(len(impostor)) if measured == 0 else measured
    fitted = gaussian_tail_fmr(impostor, shipped)
    lines = [f"Per 10,000 faces vs a {WATCHLIST:,}-person watchlist at threshold {shipped}:"]
    for label, fmr in (
        ("measured FMR", measured),
        ("95% upper bound", bound),
        ("normal-fit extrapolation", fitted),
    ):
        alerts = expected_false_alerts(fmr, WATCHLIST)
        lines.append(f"  {label:26s} FMR {fmr:.2e} -> {alerts:,.0f} false alerts")
    for fmr in (1e-5, 1e-6, 1e-7):
        needed = expected_false_alerts(fmr, WATCHLIST)
        lines.append(f"  (for reference: FMR {fmr:.0e} -> {needed:,.1f})")
    return lines


def report(name: str, vectors: Vectors, folder: Path, splits: int) -> dict[str, float]:
    """Print the 1:1 and 1:N tables for one set of vectors; return headline numbers."""
    clusters = read_clusters(folder / "identity_clusters_derived.csv")
    photos = {c: [f for f in files if f.startswith("img")] for c, files in clusters.items()}
    missing = sorted(f for f, v in vectors.items() if v is None)
    print(f"\n=== {name}: {len(vectors)} photos, no face found in {len(missing)} {missing}")
    rows, headline = [], {}
    for label, pairs in (
        ("master.csv", read_pairs(folder / "master.csv")),
        ("face-recognition-pivot.csv", read_pairs(folder / "face-recognition-pivot.csv")),
        ("all cluster pairs", all_pairs(photos)),
    ):
        genuine, impostor = split_pairs(pairs, vectors)
        rows.append(verification_rows(label, genuine, impostor))
        headline[f"auc {label}"] = roc_auc(genuine, impostor)
        headline[f"best acc {label}"] = best_accuracy_threshold(genuine, impostor)[1]
        for kind, values in (("genuine", genuine), ("impostor", impostor)):
            s = distance_stats(values)
            print(
                f"  {label:27s} {kind:8s} n={s.count:4d} mean={s.mean:.4f} sd={s.std:.4f} "
                f"min={s.minimum:.4f} p5={s.p05:.4f} median={s.median:.4f} p95={s.p95:.4f} "
                f"max={s.maximum:.4f}"
            )
    head = ["pairs", "gen/imp", "AUC", "best thr", "best acc", "acc@ship", "FMR@ship", "FNMR@ship"]
    print(table(rows, head))
    probes = open_set_probes(photos, vectors, splits)
    head = ["open-set 1:N", "mated/non", "FNIR@FPIR1%", "FNIR@FPIR0.1%", "FNIR@ship", "FPIR@ship"]
    print(table([open_set_rows(f"{splits} splits", probes)], head))
    headline["fnir@fpir1%"] = fnir_at_fpir(probes, 0.01)[1]
    print("\n".join(false_alert_lines(split_pairs(all_pairs(photos), vectors)[1])))
    return headline


def compare(ours: dict[str, float], base: dict[str, float]) -> None:
    """Print error-rate ratios (ours / baseline; below 1 means fewer errors)."""
    print("\n=== pipeline vs DeepFace.represent baseline (error ratio, lower is better)")
    for key, value in ours.items():
        if key.startswith(("auc", "best acc")):
            mine, theirs = 1 - value, 1 - base[key]
        else:
            mine, theirs = value, base[key]
        ratio = mine / theirs if theirs > 0 else float("inf") if mine > 0 else 1.0
        print(f"  {key:34s} ours {value:.4f}  baseline {base[key]:.4f}  error ratio {ratio:.2f}")


def main() -> None:
    """Parse arguments, embed the photos, print the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-baseline", action="store_true", help="skip DeepFace.represent")
    parser.add_argument("--splits", type=int, default=50, help="random 1:N gallery splits")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    folder = require_sample("faces", "deepface")
    clusters = read_clusters(require_sample("faces", "deepface", "identity_clusters_derived.csv"))
    files = sorted({f for names in clusters.values() for f in names if f.startswith("img")})
    runs: list[tuple[str, Callable[[Path, list[str]], Vectors]]] = [
        ("pipeline dlib-hog + Dlib chip", pipeline_vectors)
    ]
    if not args.no_baseline:
        runs.append(("baseline DeepFace.represent(Dlib)", baseline_vectors))
    results = [report(name, embed(folder, files), folder, args.splits) for name, embed in runs]
    if len(results) == 2:
        compare(*results)


if __name__ == "__main__":
    main()
