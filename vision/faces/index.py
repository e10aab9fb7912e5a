"""Exact in-process nearest-neighbour index over L2-normalised face embeddings.

Distances are **cosine distances**: ``distance = 1 - dot(a, b)`` for unit vectors,
0 for identical directions, 1 for orthogonal, 2 for opposite. **Similarity** shown to
people is ``1 - distance`` (= the dot product, -1..1). A probe matches when its
distance is at or below the calibrated threshold (see ``calibration``).
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Iterable, Sequence
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt

from vision.faces.base import FloatArray, l2_normalise

logger = logging.getLogger(__name__)

IdT = TypeVar("IdT", bound=Hashable)
Hit = tuple[IdT, float]

_SCORE_BUDGET = 1 << 24
"""Most float32 scores materialised at once (64 MiB) when searching many probes."""


def cosine_distance(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """Cosine distance ``1 - cos(a, b)`` of two vectors (normalised here)."""
    unit = l2_normalise(np.stack([np.asarray(a), np.asarray(b)]))
    return float(1.0 - unit[0] @ unit[1])


class MatrixIndex(Generic[IdT]):
    """Ids plus a float32 matrix of unit rows; exact top-k by matmul + argpartition."""

    def __init__(self, dimensions: int, *, capacity: int = 1024) -> None:
        self.dimensions = dimensions
        self._matrix: FloatArray = np.zeros((max(capacity, 1), dimensions), dtype=np.float32)
        self._ids: list[IdT] = []
        self._rows: dict[IdT, int] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, item: object) -> bool:
        return item in self._rows

    @property
    def ids(self) -> list[IdT]:
        """The ids in row order (a copy)."""
        return list(self._ids)

    @property
    def matrix(self) -> FloatArray:
        """The live rows (read-only view; row i belongs to ``ids[i]``)."""
        view = self._matrix[: len(self._ids)]
        view.flags.writeable = False
        return view

    def _prepare(self, ids: Sequence[IdT], vectors: npt.ArrayLike) -> FloatArray:
        rows = l2_normalise(np.asarray(vectors, dtype=np.float32).reshape(-1, self.dimensions))
        if len(rows) != len(ids):
            raise ValueError(f"{len(ids)} ids but {len(rows)} vectors")
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate ids in one add()")
        return rows

    def _grow(self, needed: int) -> None:
        if needed <= len(self._matrix):
            return
        bigger = np.zeros((max(needed, 2 * len(self._matrix)), self.dimensions), np.float32)
        bigger[: len(self._ids)] = self._matrix[: len(self._ids)]
        self._matrix = bigger

    def add(self, ids: Sequence[IdT], vectors: npt.ArrayLike) -> None:
        """Append vectors (normalised here) under new ids; an existing id raises ValueError."""
        rows = self._prepare(ids, vectors)
        clash = [i for i in ids if i in self._rows]
        if clash:
            raise ValueError(f"ids already in the index: {clash[:5]}")
        start = len(self._ids)
        self._grow(start + len(ids))
        self._matrix[start : start + len(ids)] = rows
        for offset, item in enumerate(ids):
            self._rows[item] = start + offset
        self._ids.extend(ids)

    def remove(self, ids: Iterable[IdT]) -> int:
        """Remove ids (unknown ones are ignored); return how many were removed."""
        removed = 0
        for item in ids:
            row = self._rows.pop(item, None)
            if row is None:
                continue
            last = len(self._ids) - 1
            if row != last:
                moved = self._ids[last]
                self._matrix[row] = self._matrix[last]
                self._ids[row] = moved
                self._rows[moved] = row
            self._ids.pop()
            removed += 1
        return removed

    def rebuild(self, ids: Sequence[IdT], vectors: npt.ArrayLike) -> None:
        """Replace the whole content (e.g. after a watchlist reload)."""
        rows = self._prepare(ids, vectors)
        matrix = np.zeros((max(len(rows), 1), self.dimensions), dtype=np.float32)
        matrix[: len(rows)] = rows
        self._matrix, self._ids = matrix, list(ids)
        self._rows = {item: row for row, item in enumerate(self._ids)}

    def search(self, probes: npt.ArrayLike, k: int = 1) -> list[list[Hit[IdT]]]:
        """Return, per probe, up to ``k`` (id, cosine distance) pairs, nearest first."""
        queries = l2_normalise(np.asarray(probes, dtype=np.float32).reshape(-1, self.dimensions))
        count = len(self._ids)
        if count == 0 or k <= 0:
            return [[] for _ in range(len(queries))]
        k = min(k, count)
        step = max(1, _SCORE_BUDGET // count)
        results: list[list[Hit[IdT]]] = []
        for start in range(0, len(queries), step):
            results.extend(self._search_chunk(queries[start : start + step], k))
        return results

    def _search_chunk(self, queries: FloatArray, k: int) -> list[list[Hit[IdT]]]:
        scores = queries @ self._matrix[: len(self._ids)].T
        results: list[list[Hit[IdT]]] = []
        for row_scores in scores:
            top = _top_k(row_scores, k)
            results.append([(self._ids[r], max(0.0, 1.0 - float(row_scores[r]))) for r in top.tolist()])
        return results


_SAMPLE_STRIDE = 64
"""Top-k pre-selection samples every 64th score (see ``_top_k``)."""


def _top_k(scores: FloatArray, k: int) -> npt.NDArray[np.intp]:
    """Indices of the ``k`` highest scores, highest first (ties: lower index first); exact.

    A full ``argpartition`` over 100k scores costs about a third of a single-probe search. The
    k-th highest score of a strided sample is a lower bound of the k-th highest overall, so every
    true top-k score passes it; only the few that do are partitioned.
    """
    count = len(scores)
    if k >= count:
        candidates = np.arange(count)
    else:
        if count >= 16 * _SAMPLE_STRIDE * max(k, 1):
            sample = scores[::_SAMPLE_STRIDE]
            cutoff = np.partition(sample, len(sample) - k)[len(sample) - k]
            candidates = np.flatnonzero(scores >= cutoff)
        else:
            candidates = np.arange(count)
        if k < len(candidates):
            keep = np.argpartition(-scores[candidates], k - 1)[:k]
            candidates = candidates[keep]
    order = np.lexsort((candidates, -scores[candidates]))
    return candidates[order]
