"""Readers for the labelled face sets used to calibrate and benchmark (pairs, identities)."""

from __future__ import annotations

import csv
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
