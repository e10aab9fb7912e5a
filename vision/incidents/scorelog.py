"""Compact chunks of a camera's fight and aggression score stream, for its false-alert budget.

A chunk holds up to a minute of one segment (scoring without a gap): per sample the step since the
previous one in centiseconds and each score floored to GRID (0.01, the grid thresholds are chosen
on, so replaying the trigger on stored scores gives the same alerts as on the live ones), zlib-
compressed after delta coding. The header names the segment, the sample's offset in it, the wall
time of the first sample, and the model and excluded-area fingerprints the scores were made with.
No images, no people, no positions: only two numbers per analysed frame.
"""

from __future__ import annotations

import math
import struct
import uuid
import zlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vision.incidents.budget import GRID, ScoreSegment

MAGIC = b"CCS1"
HEADER = struct.Struct("<4sBIId16s8s8s")  # magic, flags, samples, offset cs, first wall time, segment, model, zones
_SAME = 1  # flag: the aggression score equals the fight score (not stored twice)
MAX_STEP_CS = 250  # a longer step between samples ends the segment (a pause, a stall)
_LEVELS = round(1 / GRID)

U8 = npt.NDArray[np.uint8]


class ChunkError(ValueError):
    """A stored chunk that cannot be read (wrong format or damaged)."""


@dataclass(frozen=True)
class Chunk:
    """Samples of one segment: offsets (centiseconds from the segment's start) and quantised scores."""

    segment: str
    model: str
    zones: str
    first_wall_s: float
    offsets_cs: npt.NDArray[np.int64]
    fight: U8
    aggression: U8


def quantise(score: float) -> int:
    """A score 0..1 floored to the grid (0..100), so `q >= round(thr * 100)` exactly when `score >= thr`."""
    return min(_LEVELS, max(0, math.floor(score * _LEVELS + 1e-9)))


def _delta(values: U8) -> bytes:
    return np.diff(values, prepend=np.uint8(0)).astype(np.uint8).tobytes()


def _undelta(data: bytes, n: int) -> U8:
    return np.cumsum(np.frombuffer(data, dtype=np.uint8, count=n), dtype=np.uint64).astype(np.uint8)


def encode(chunk: Chunk) -> bytes:
    """Header plus the compressed steps and scores."""
    n = len(chunk.offsets_cs)
    steps = np.diff(chunk.offsets_cs, prepend=chunk.offsets_cs[0])
    if n == 0 or steps.min() < 0 or steps.max() > MAX_STEP_CS:
        raise ValueError("a chunk needs samples at increasing offsets, at most 2.5 s apart")
    same = bool(np.array_equal(chunk.fight, chunk.aggression))
    body = steps.astype(np.uint8).tobytes() + _delta(chunk.fight) + (b"" if same else _delta(chunk.aggression))
    header = HEADER.pack(
        MAGIC,
        _SAME if same else 0,
        n,
        int(chunk.offsets_cs[0]),
        chunk.first_wall_s,
        uuid.UUID(chunk.segment).bytes,
        bytes.fromhex(chunk.model),
        bytes.fromhex(chunk.zones),
    )
    return header + zlib.compress(body, 9)


def decode(data: bytes) -> Chunk:
    """The chunk `encode` wrote; ChunkError for anything else."""
    try:
        magic, flags, n, offset, wall, segment, model, zones = HEADER.unpack_from(data)
        body = zlib.decompress(data[HEADER.size :])
    except (struct.error, zlib.error) as exc:
        raise ChunkError(f"unreadable score chunk: {exc}") from exc
    expected = n * (2 if flags & _SAME else 3)
    if magic != MAGIC or len(body) != expected:
        raise ChunkError("unreadable score chunk: wrong format")
    steps = np.frombuffer(body, dtype=np.uint8, count=n).astype(np.int64)
    steps[0] = 0
    fight = _undelta(body[n : 2 * n], n)
    aggression = fight if flags & _SAME else _undelta(body[2 * n :], n)
    return Chunk(
        str(uuid.UUID(bytes=segment)), model.hex(), zones.hex(), wall, offset + np.cumsum(steps), fight, aggression
    )


def segments(chunks: Iterable[Chunk], *, model: str, zones: str) -> list[ScoreSegment]:
    """Join the chunks of each segment (in order); only scores made with this model and these zones."""
    parts: dict[str, list[Chunk]] = defaultdict(list)
    for chunk in chunks:
        if chunk.model == model and chunk.zones == zones:
            parts[chunk.segment].append(chunk)
    found = [_joined(sorted(group, key=lambda c: int(c.offsets_cs[0]))) for group in parts.values()]
    return sorted(found, key=lambda s: s.wall_start)


def _joined(group: Sequence[Chunk]) -> ScoreSegment:
    """One segment from its chunks; times in seconds from its first sample."""
    offsets = np.concatenate([c.offsets_cs for c in group])
    seen = np.maximum.accumulate(offsets)
    keep = np.concatenate(([True], offsets[1:] > seen[:-1]))  # samples stored twice count once
    t = (offsets[keep] - offsets[0]) / 100.0
    fight = np.concatenate([c.fight for c in group])[keep] / float(_LEVELS)
    aggression = np.concatenate([c.aggression for c in group])[keep] / float(_LEVELS)
    return ScoreSegment(
        t.astype(np.float64), fight.astype(np.float64), aggression.astype(np.float64), wall_start=group[0].first_wall_s
    )
