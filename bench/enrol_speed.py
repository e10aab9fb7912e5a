"""Enrolment speed per detector/embedder combination vs one-shot DeepFace.represent.

Run: ``OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/enrol_speed.py [--photos 12]
[--threads 1]``. For each combination: photos/s end to end (decode, detect, embed the
largest face) and ms per face for detection and for embedding. Then, per embedder,
ms per face for the embedding alone (alignment + network, and the network's share),
interleaved round-robin so machine load hits every embedder alike, with the ratio to
``Dlib`` from the same run; ``Dlib-onnx`` is also timed with ONNX Runtime on 2 threads.
Baseline (same run, same photos): one ``DeepFace.represent(model_name="Dlib")`` call
per photo, models already loaded.
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

import cv2

from tools.measure import Timer
from tools.measure import text_table as table
from tools.sampledata import sample_path
from vision.faces.base import DetectedFace, FaceEmbedder, ImageBGR
from vision.faces.datasets import read_clusters
from vision.faces.detectors import build_detector, detector_names
from vision.faces.embedders import DlibOnnxEmbedder, build_embedder, embedder_names
from vision.faces.image import decode_image
from vision.faces.provision import provision_weights

DETECTORS = detector_names(available_only=True)
EMBEDDERS = embedder_names(available_only=True)
ROUNDS = 5


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


def embedding_rows(photos: list[bytes]) -> list[list[str]]:
    """Median ms/face of ``embed()`` per embedder, interleaved; ratios vs Dlib."""
    detector = build_detector("dlib-hog")
    faces: list[tuple[ImageBGR, DetectedFace]] = []
    for data in photos:
        image = decode_image(data)
        found = detector.detect(image)
        if found:
            faces.append((image, found[0]))
    embedders: dict[str, FaceEmbedder] = {name: build_embedder(name) for name in EMBEDDERS}
    if "Dlib-onnx" in embedders:
        embedders["Dlib-onnx (2 threads)"] = DlibOnnxEmbedder(threads=2)
    timers = {name: Timer() for name in embedders}
    for _ in range(ROUNDS):
        for image, face in faces:
            for name, embedder in embedders.items():
                with timers[name].measure():
                    embedder.embed(image, face)
    reference = timers["Dlib"].ms() if "Dlib" in timers else float("nan")
    return [
        [
            name,
            str(embedders[name].model_name),
            f"{t.ms():.1f}",
            f"{t.ms(0.1):.1f}",
            f"{t.ms(0.9):.1f}",
            f"x{t.ms() / reference:.2f}",
        ]
        for name, t in timers.items()
    ]


def main() -> None:
    """Time every combination and the baseline; print the table and ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=int, default=12, help="how many sample photos")
    parser.add_argument("--threads", type=int, default=1, help="OpenCV / ONNX Runtime threads")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    cv2.setNumThreads(args.threads)
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
    openblas = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    print(f"\nembedding only (alignment + network), {ROUNDS} rounds interleaved, {args.threads} thread(s), ", end="")
    print(f"OPENBLAS_NUM_THREADS={openblas}; target <= 30 ms/face on 2 cores")
    head = ["embedder", "model_name", "median ms/face", "p10 ms", "p90 ms", "time vs Dlib"]
    print(table(embedding_rows(photos), head))


if __name__ == "__main__":
    main()
