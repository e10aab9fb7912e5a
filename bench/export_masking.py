"""Export masking on real photos: how many labelled faces each detector (and their union, which exports
use) masks, what the detectors still find afterwards (on the masked blobs or elsewhere), whether a masked
face can still be recognised (its embedding against the original's), and the time per photo.

Data: the 43 hand-labelled face boxes of faces/dlib_detection (PASCAL VOC group photos, testing.xml and
training.xml). A labelled face counts as masked when a masked box covers its centre. Recognisability: the
Dlib embedding of each labelled face before and after masking (same box, 5 landmarks fitted by dlib on the
box), on the calibrated scale where watchlists match at 0.94 (floor 0.90).
Run: `python bench/export_masking.py` (no database, no servers).
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np
from _common import require_sample

from vision.faces.base import DetectedFace
from vision.faces.calibration import calibrated_similarity
from vision.faces.detectors import build_detector
from vision.faces.embedders import build_embedder
from vision.faces.masking import detect_all, face_detector_boxes, mask_faces, overlaps
from vision.incidents.people import CenterFaceDetector

Box = tuple[float, float, float, float]


def labelled() -> list[tuple[Path, list[Box]]]:
    folder = require_sample("faces", "dlib_detection")
    found = []
    for name in ("testing.xml", "training.xml"):
        for image in ET.parse(folder / name).getroot().iter("image"):  # noqa: S314 (the shared data set, not user input)
            boxes = [
                (float(b.get("left", 0)), float(b.get("top", 0)), float(b.get("width", 0)), float(b.get("height", 0)))
                for b in image.iter("box")
                if b.get("ignore") != "1"
            ]
            found.append((folder / str(image.get("file")), boxes))
    return found


def two_looks(image: np.ndarray, detectors: list) -> tuple[np.ndarray, list[Box]]:  # type: ignore[type-arg]
    """What the export does: mask, look again, mask what is new."""
    first = mask_faces(image, detect_all(image, detectors))
    more = [
        b for b in detect_all(first.image, detectors) if not any(overlaps(b, m) or overlaps(m, b) for m in first.masked)
    ]
    second = mask_faces(first.image, more)
    return second.image, first.masked + second.masked


def main() -> None:
    centerface = CenterFaceDetector(width=640)

    def cf(image):  # type: ignore[no-untyped-def]
        return [(b.x, b.y, b.w, b.h) for b in centerface.detect(image)]

    detectors = {
        "centerface": cf,
        "mtcnn": face_detector_boxes(build_detector("mtcnn")),
        "dlib-hog": face_detector_boxes(build_detector("dlib-hog")),
    }
    embedder = build_embedder("Dlib-onnx")
    sets = labelled()
    others: list[float] = []
    labels = sum(len(boxes) for _path, boxes in sets)
    print(f"{len(sets)} photos, {labels} labelled faces")
    for name, detector in [*detectors.items(), ("union, 1 look", None), ("union, 2 looks", "two")]:
        chosen = list(detectors.values()) if detector in (None, "two") else [detector]
        covered, on_blobs, elsewhere, elapsed, best = 0, {k: 0 for k in detectors}, 0, 0.0, []
        for path, boxes in sets:
            image = cv2.imread(str(path))
            started = time.perf_counter()
            if detector == "two":
                out, masked = two_looks(image, chosen)
            else:
                result = mask_faces(image, detect_all(image, chosen))
                out, masked = result.image, result.masked
            elapsed += time.perf_counter() - started
            covered += sum(1 for box in boxes if any(overlaps(box, m) or overlaps(m, box) for m in masked))
            for key, each in detectors.items():
                for found in each(out):
                    if any(overlaps(found, m) or overlaps(m, found) for m in masked):
                        on_blobs[key] += 1
                    else:
                        elsewhere += 1
            if detector == "two":
                faces = [DetectedFace(int(x), int(y), int(w), int(h), 1.0) for x, y, w, h in boxes]
                before, after = embedder.embed_many(image, faces), embedder.embed_many(out, faces)
                best += [calibrated_similarity("Dlib", float(np.dot(a, b))) for a, b in zip(before, after, strict=True)]
                others += [
                    calibrated_similarity("Dlib", float(np.dot(before[j], after[i])))
                    for i in range(len(faces))
                    for j in range(len(faces))
                    if i != j
                ]
        print(
            f"{name:15s} masked {covered}/{labels} ({covered / labels:.0%}); found again on masked blobs "
            f"{on_blobs}; new faces elsewhere {elapsed and elsewhere}; {elapsed * 1000 / len(sets):.0f} ms per photo"
        )
    print(
        f"recognisability after masking (2 looks): a masked face matches its own original at calibrated "
        f"similarity max {max(best):.3f}, median {float(np.median(best)):.3f} (watchlists match at >= 0.90-0.94); "
        f"against the other people's originals in the same photo: median {float(np.median(others)):.3f}, "
        f"max {max(others):.3f}"
    )


if __name__ == "__main__":
    main()
