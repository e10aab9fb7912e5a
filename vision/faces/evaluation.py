"""Every labelled face we have, embedded once per model: the pairs that calibrate and the sets that benchmark.

Used by ``manage.py calibrate_faces`` and ``bench/face_accuracy.py``. Faces come from the labelled
single-person photos, every face of the stranger photos and the faces of the probe clips (see
``vision.faces.datasets``). Impostor pairs are all pairs that cannot be one person with at least
one labelled photo in them (a watchlist is made of labelled photos).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vision.faces.base import DetectedFace, FaceDetector, FloatArray, ImageBGR
from vision.faces.datasets import PROBE_CLIPS, labelled_photos, stranger_photos
from vision.faces.embedders import combine_vectors
from vision.faces.image import decode_image
from vision.faces.quality import assess_quality

CLIP_FPS = 2.0
CLIP_MIN_FACE_PX = 24
CLIP_MIN_QUALITY = 0.1


@dataclass
class Face:
    """One face of the data set: where it came from, who it is ("" for a stranger), its vectors per model."""

    source: str
    identity: str
    vectors: dict[str, FloatArray] = field(default_factory=dict)


@dataclass
class Costs:
    """Embedding times per model, in ms."""

    ms: dict[str, list[float]] = field(default_factory=dict)

    def add(self, model: str, seconds: float) -> None:
        self.ms.setdefault(model, []).append(seconds * 1000.0)


def embed_face(image: ImageBGR, face: DetectedFace, costs: Costs, embedders: dict[str, Any]) -> dict[str, FloatArray]:
    """Every model's vector of one face, timing each (interleaved so machine load hits all alike)."""
    vectors = {}
    for model, embedder in embedders.items():
        start = time.perf_counter()
        vectors[model] = embedder.embed(image, face)
        costs.add(model, time.perf_counter() - start)
    return vectors


def photo_faces(root: Path, embedders: dict[str, Any], detector: FaceDetector, costs: Costs) -> list[Face]:
    """The largest face of each labelled photo and every face of the stranger photos."""
    faces = []
    for photo in labelled_photos(root):
        image = decode_image((root / photo.path).read_bytes())
        found = detector.detect(image)
        if found:
            faces.append(Face(photo.path, photo.identity, embed_face(image, found[0], costs, embedders)))
        else:
            print(f"  no face found in labelled photo {photo.path}")
    for path in stranger_photos(root):
        image = decode_image((root / path).read_bytes())
        for index, face in enumerate(detector.detect(image)):
            faces.append(Face(f"{path}#{index}", "", embed_face(image, face, costs, embedders)))
    return faces


def clip_faces(root: Path, embedders: dict[str, Any], detector: FaceDetector, costs: Costs) -> list[Face]:
    """Faces found in the probe clips at 2 fps (quality >= 0.1), as strangers to everyone they cannot be."""
    from vision.incidents.video import iter_frames  # OpenCV video reading, only when clips are used

    faces = []
    for clip, present in PROBE_CLIPS.items():
        path = root / clip
        if not path.is_file():
            continue
        for t, image in iter_frames(str(path), CLIP_FPS):
            for face in detector.detect(image):
                if face.min_side >= CLIP_MIN_FACE_PX and assess_quality(image, face).score >= CLIP_MIN_QUALITY:
                    label = "clip:" + ",".join(present)
                    faces.append(Face(f"{clip}@{t:.1f}", label, embed_face(image, face, costs, embedders)))
    return faces


def fuse(faces: list[Face], name: str, parts: list[tuple[str, float]]) -> None:
    """Add the fused vector ``name`` of ``parts`` (model, weight) to every face."""
    for face in faces:
        face.vectors[name] = combine_vectors(parts, face.vectors)[0]


def can_be_same(a: Face, b: Face) -> bool:
    """Whether two faces might show one person (same identity, or a clip face and a person in that clip)."""
    if a.identity and a.identity == b.identity:
        return True
    for clip, other in ((a, b), (b, a)):
        if clip.identity.startswith("clip:") and other.identity in clip.identity.removeprefix("clip:").split(","):
            return True
    return a.identity.startswith("clip:") and b.identity.startswith("clip:")


def impostor_distances(faces: list[Face], model: str) -> list[float]:
    """Cosine distances of every pair that cannot be one person, with at least one labelled photo."""
    labelled = [f for f in faces if f.identity and not f.identity.startswith("clip:")]
    others = [f for f in faces if f not in labelled]
    matrix_l = np.stack([f.vectors[model] for f in labelled])
    out: list[float] = []
    sims = matrix_l @ matrix_l.T
    for i, j in itertools.combinations(range(len(labelled)), 2):
        if labelled[i].identity != labelled[j].identity:
            out.append(1.0 - float(sims[i, j]))
    if others:
        cross = np.stack([f.vectors[model] for f in others]) @ matrix_l.T
        for i, face in enumerate(others):
            out.extend(1.0 - float(cross[i, j]) for j, lab in enumerate(labelled) if not can_be_same(face, lab))
    return out


def genuine_distances(faces: list[Face], model: str) -> list[float]:
    """Cosine distances of every pair of labelled photos of one person."""
    labelled = [f for f in faces if f.identity and not f.identity.startswith("clip:")]
    out = []
    for a, b in itertools.combinations(labelled, 2):
        if a.identity == b.identity:
            out.append(1.0 - float(a.vectors[model] @ b.vectors[model]))
    return out


def is_labelled(face: Face) -> bool:
    """A photo of a known person (not a stranger, not a clip face)."""
    return bool(face.identity) and not face.identity.startswith("clip:")
