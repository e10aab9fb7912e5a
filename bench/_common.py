"""Small shared helpers for the bench scripts: sample data, labelled face sets, timing."""

from __future__ import annotations

import csv
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tools.measure import Timer as _FaceTimer  # noqa: E402
from tools.sampledata import sample_path  # noqa: E402


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


def bench_subject(owner: Any, display_name: str, *, threshold: float, days: int = 1) -> Any:
    """A watchlist owned by `owner` (match threshold given) holding one subject that expires in `days`."""
    from datetime import timedelta

    from django.utils import timezone

    from watchlists.models import Subject, Watchlist

    watchlist = Watchlist.objects.create(
        name="Bench", category="wanted", legal_basis="Bench order", owner=owner, match_threshold=threshold
    )
    return Subject.objects.create(
        watchlist=watchlist,
        display_name=display_name,
        legal_basis_reference="bench",
        added_by=owner,
        expires_at=timezone.now() + timedelta(days=days),
    )


def read_pairs(path: Path) -> list[tuple[str, str, bool]]:
    """Read a labelled pair file (master.csv or face-recognition-pivot.csv) by file name."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    pairs = []
    for row in rows:
        decision = row.get("Decision") or row.get("decision") or ""
        pairs.append((Path(row["file_x"]).name, Path(row["file_y"]).name, decision == "Yes"))
    return pairs


def read_clusters(path: Path) -> dict[str, list[str]]:
    """Read identity_clusters_derived.csv as {cluster id: [image file names]}."""
    clusters: dict[str, list[str]] = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            clusters.setdefault(row["cluster_id"], []).append(row["image"])
    return clusters


Timer = _FaceTimer  # one implementation, shared with the face benchmarks


def timed(function: Callable[[], object], repeats: int = 1) -> float:
    """Run ``function`` ``repeats`` times; return the mean seconds per run."""
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - start) / repeats


def table(rows: list[list[str]], header: list[str]) -> str:
    """Format rows as a fixed-width text table."""
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)
