"""Readers for the labelled face sets used to calibrate and benchmark (pairs, identities)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path


def read_pairs(path: Path) -> list[tuple[str, str, bool]]:
    """Read a same/different pair file (``file_x,file_y,Decision``) by file name only.

    Accepts DeepFace's ``master.csv`` (``Decision``) and ``face-recognition-pivot.csv``
    (``decision``, old ``deepface/tests/dataset/`` paths).
    """
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    pairs = []
    for row in rows:
        decision = (row.get("Decision") or row.get("decision") or "").strip()
        pairs.append((Path(row["file_x"]).name, Path(row["file_y"]).name, decision == "Yes"))
    return pairs


def read_clusters(path: Path) -> dict[str, list[str]]:
    """Read ``identity_clusters_derived.csv`` as {identity: [image file names]}."""
    clusters: dict[str, list[str]] = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            clusters.setdefault(row["cluster_id"], []).append(row["image"])
    return clusters


def single_face_clusters(path: Path) -> dict[str, list[str]]:
    """Identity clusters without the group photos (only ``img*.jpg`` portraits)."""
    clusters = read_clusters(path)
    return {c: [f for f in files if f.startswith("img")] for c, files in clusters.items()}


@dataclass(frozen=True, slots=True)
class LabelledPhoto:
    """One photo of one known person (relative path under the sample-data root)."""

    identity: str
    path: str


FACE_RECOGNITION_PHOTOS: dict[str, list[str]] = {
    "barack_obama": [
        "examples/obama.jpg",
        "examples/obama2.jpg",
        "examples/obama-1080p.jpg",
        "examples/knn_examples/test/obama1.jpg",
        "tests/test_images/obama3.jpg",
    ],
    "joe_biden": ["examples/biden.jpg", "examples/knn_examples/train/biden/biden2.jpg"],
    "alex_lacamoire": [
        "examples/alex-lacamoire.png",
        "examples/knn_examples/train/alex_lacamoire/img1.jpg",
        "examples/knn_examples/test/alex_lacamoire1.jpg",
    ],
    "kit_harington": [
        "examples/knn_examples/train/kit_harington/john1.jpeg",
        "examples/knn_examples/train/kit_harington/john2.jpeg",
        "examples/knn_examples/test/johnsnow_test1.jpg",
    ],
    "rose_leslie": [
        "examples/knn_examples/train/rose_leslie/img1.jpg",
        "examples/knn_examples/train/rose_leslie/img2.jpg",
    ],
    "lin_manuel_miranda": ["examples/lin-manuel-miranda.png"],
}
"""``faces/face_recognition`` identities as its SOURCE.md states them, near-duplicates left out (the other
resolutions of obama-1080p, obama_small, the byte-identical knn copies, 32bit.png, the partial-face crops)."""

FACENET_PHOTOS: dict[str, list[str]] = {
    "deepface_person_01": ["data/test_images/angelina_jolie/1.jpg"],
    "kate_siegel": ["data/test_images/kate_siegel/1.jpg"],
    "paul_rudd": ["data/test_images/paul_rudd/1.jpg"],
    "shea_whigham": ["data/test_images/shea_whigham/1.jpg"],
    "bradley_cooper": ["data/test_images_aligned/bradley_cooper/1.png"],
}
"""``faces/facenet_pytorch``: folder = identity; the other aligned crops are copies of the photos. Its
``angelina_jolie`` is DeepFace's ``person_01`` (Dlib distance 0.018-0.039 to each of her photos there)."""

STRANGER_PHOTOS: dict[str, list[str]] = {
    "dlib_detection": [
        "2007_007763.jpg",
        "2008_001009.jpg",
        "2008_001322.jpg",
        "2008_002079.jpg",
        "2008_002470.jpg",
        "2008_002506.jpg",
        "2008_004176.jpg",
        "2008_007676.jpg",
        "2009_004587.jpg",
        "bald_guys.jpg",
        "Tom_Cruise_avp_2014_4.jpg",
    ],
}
"""Photos of people in none of the labelled identities: every face in them is an impostor probe. Left out
because they show labelled people: DeepFace's ``couple.jpg`` and ``selfie-many-people.jpg`` (its
``person_01``, Dlib distance 0.014-0.048) and facenet's ``multiface.jpg`` (DeepFace's ``person_02``)."""

PROBE_CLIPS: dict[str, tuple[str, ...]] = {
    "face_recognition/examples/short_hamilton_clip.mp4": ("lin_manuel_miranda", "alex_lacamoire"),
    "facenet_pytorch/examples/video.mp4": (),
}
"""Clips whose faces are probes: (clip, labelled identities that may appear in it, never paired as impostors)."""


def labelled_photos(faces_root: Path) -> list[LabelledPhoto]:
    """Every single-person photo with a stated identity under ``<data>/faces`` (paths relative to it)."""
    photos = [
        LabelledPhoto(f"deepface_{cluster}", f"deepface/{name}")
        for cluster, names in single_face_clusters(faces_root / "deepface" / "identity_clusters_derived.csv").items()
        for name in names
    ]
    for folder, table in (("face_recognition", FACE_RECOGNITION_PHOTOS), ("facenet_pytorch", FACENET_PHOTOS)):
        photos += [LabelledPhoto(identity, f"{folder}/{name}") for identity, names in table.items() for name in names]
    return [photo for photo in photos if (faces_root / photo.path).is_file()]


def stranger_photos(faces_root: Path) -> list[str]:
    """Photos (relative to ``<data>/faces``) whose every face is a stranger to the labelled identities."""
    paths = [f"{folder}/{name}" for folder, names in STRANGER_PHOTOS.items() for name in names]
    return [path for path in paths if (faces_root / path).is_file()]
