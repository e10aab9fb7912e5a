"""Enrolment speed per detector/embedder combination vs one-shot DeepFace.represent.

Run: ``.venv/bin/python bench/enrol_speed.py [--photos 12]``. For each combination:
photos/s end to end (decode, detect, embed the largest face) and ms per face for
detection and for embedding. Baseline (same run, same photos): one
``DeepFace.represent(model_name="Dlib")`` call per photo, models already loaded.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workers.faces.datasets import read_clusters
from workers.faces.detectors import build_detector, detector_names
from workers.faces.embedders import build_embedder
from workers.faces.image import decode_image
from workers.faces.measure import Timer
from workers.faces.measure import text_table as table
from workers.faces.provision import provision_weights
from workers.sampledata import sample_path

DETECTORS = detector_names(available_only=True)
EMBEDDERS = ["Dlib", "deepface:Dlib"]


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


def pick_photos(count: int) -> list[Path]:
    """The first ``count`` single-person photos of the DeepFace sample set."""
    folder = require_sample("faces", "deepface")
    clusters = read_clusters(folder / "identity_clusters_derived.csv")
    names = sorted({f for files in clusters.values() for f in files if f.startswith("img")})
    return [folder / name for name in names[:count]]


def run_combination(photos: list[bytes], detector_name: str, embedder_name: str) -> list[str]:
    """Time one combination over all photos; return a table row."""
    detector, embedder = build_detector(detector_name), build_embedder(embedder_name)
    decode, detect, embed = Timer(), Timer(), Timer()
    faces_found = 0
    start = time.perf_counter()
    for data in photos:
        with decode.measure():
            image = decode_image(data)
        with detect.measure():
            faces = detector.detect(image)
        if faces:
            faces_found += 1
            with embed.measure():
                embedder.embed(image, faces[0])
    elapsed = time.perf_counter() - start
    return [
        f"{detector_name} + {embedder_name}",
        f"{len(photos) / elapsed:.2f}",
        f"{elapsed / len(photos) * 1000:.0f}",
        f"{decode.ms():.0f}",
        f"{detect.ms():.0f}",
        f"{embed.ms():.1f}",
        f"{faces_found}/{len(photos)}",
    ]


def run_baseline(paths: list[Path]) -> float:
    """Seconds per photo for one-shot ``DeepFace.represent`` (after one warm-up call)."""
    home = Path(tempfile.gettempdir()) / "commandcenter-deepface"
    provision_weights(home)
    os.environ["DEEPFACE_HOME"] = str(home)
    from deepface import DeepFace

    DeepFace.represent(str(paths[0]), model_name="Dlib", enforce_detection=False)
    start = time.perf_counter()
    for path in paths:
        DeepFace.represent(str(path), model_name="Dlib", enforce_detection=False)
    return (time.perf_counter() - start) / len(paths)


def warm_up(photo: bytes) -> None:
    """Load every model once so loading time is not counted."""
    image = decode_image(photo)
    for detector_name, embedder_name in itertools.product(DETECTORS, EMBEDDERS):
        faces = build_detector(detector_name).detect(image)
        if faces:
            build_embedder(embedder_name).embed(image, faces[0])


def main() -> None:
    """Time every combination and the baseline; print the table and ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=int, default=12, help="how many sample photos")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    paths = pick_photos(args.photos)
    home = Path(tempfile.gettempdir()) / "commandcenter-deepface"
    provision_weights(home)
    os.environ["DEEPFACE_HOME"] = str(home)
    photos = [path.read_bytes() for path in paths]
    warm_up(photos[0])
    baseline = run_baseline(paths)
    rows = [run_combination(photos, d, e) for d, e in itertools.product(DETECTORS, EMBEDDERS)]
    rows.append(
        [
            "DeepFace.represent (baseline)",
            f"{1 / baseline:.2f}",
            f"{baseline * 1000:.0f}",
            "-",
            "-",
            "-",
            "-",
        ]
    )
    head = ["combination", "photos/s", "ms/photo", "decode ms", "detect ms", "embed ms", "faces"]
    print(f"{len(photos)} photos, {photos[0].__len__() // 1024} KiB first; medians per face")
    print(table(rows, head))
    print("\nspeed-up vs DeepFace.represent (photos/s ratio):")
    for row in rows[:-1]:
        print(f"  {row[0]:32s} x{float(row[1]) * baseline:.1f}")


if __name__ == "__main__":
    main()
