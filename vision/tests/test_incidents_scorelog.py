"""Score chunks: exact round trip on the threshold grid, compact, damaged chunks refused."""

from __future__ import annotations

import uuid
import zlib

import numpy as np
import pytest

from vision.incidents.scorelog import HEADER, Chunk, ChunkError, decode, encode, quantise, segments

MODEL, ZONES, OTHER = "0123456789abcdef", "fedcba9876543210", "00000000000000ff"


def chunk(segment: str, offsets: list[int], fight: list[float], aggression: list[float] | None = None) -> Chunk:
    agg = fight if aggression is None else aggression
    return Chunk(
        segment,
        MODEL,
        ZONES,
        1_790_000_000.0,
        np.asarray(offsets, dtype=np.int64),
        np.asarray([quantise(s) for s in fight], dtype=np.uint8),
        np.asarray([quantise(s) for s in agg], dtype=np.uint8),
    )


def test_quantised_scores_pass_a_grid_threshold_exactly_when_the_raw_ones_do():
    # given scores around 0.44 and 1.0
    raw = [0.4399999, 0.44, 0.4400001, 0.999, 1.0, 0.0]
    # when floored to the grid, then a stored level reaches 44 exactly when the score reaches 0.44
    assert [quantise(s) for s in raw] == [43, 44, 44, 99, 100, 0]


def test_round_trip_keeps_offsets_scores_and_segment():
    # given a minute of samples with a separate aggression score
    rng = np.random.default_rng(3)
    offsets = np.cumsum(rng.integers(8, 13, size=600)).tolist()
    fight = np.clip(np.cumsum(rng.normal(0, 0.02, size=600)) + 0.4, 0, 1).tolist()
    aggression = (np.asarray(fight) * 0.9).tolist()
    original = chunk(str(uuid.uuid4()), offsets, fight, aggression)
    # when encoded and decoded
    data = encode(original)
    back = decode(data)
    # then everything comes back and the chunk is far smaller than the raw samples
    assert (back.segment, back.model, back.zones, back.first_wall_s) == (
        original.segment,
        MODEL,
        ZONES,
        original.first_wall_s,
    )
    assert back.offsets_cs.tolist() == offsets
    assert back.fight.tolist() == original.fight.tolist()
    assert back.aggression.tolist() == original.aggression.tolist()
    assert len(data) < 600 * 3


def test_segments_join_chunks_in_order_and_keep_only_matching_scores():
    # given two chunks of one segment (stored out of order), one of another, and one of another model
    one, two = str(uuid.uuid4()), str(uuid.uuid4())
    first, second = chunk(one, [0, 10, 20], [0.1, 0.5, 0.9]), chunk(one, [30, 40], [0.6, 0.2])
    other = chunk(two, [0, 10], [0.3, 0.3])
    stale = Chunk(two, OTHER, ZONES, 0.0, np.array([50]), np.array([90], np.uint8), np.array([90], np.uint8))
    chunks = [decode(encode(c)) for c in (second, other, first, stale)]
    # when they are read back
    found = segments(chunks, model=MODEL, zones=ZONES)
    # then each segment is whole, in seconds from its start, and the other model's scores are left out
    assert [s.t.tolist() for s in found] == [[0.0, 0.1, 0.2, 0.3, 0.4], [0.0, 0.1]]
    assert found[0].fight.tolist() == [0.1, 0.5, 0.9, 0.6, 0.2]
    assert segments(chunks, model=MODEL, zones=OTHER) == []


def test_damaged_or_foreign_chunks_are_refused():
    data = encode(chunk(str(uuid.uuid4()), [0, 10], [0.2, 0.3]))
    # given a truncated chunk, a chunk with a wrong magic, and one with a body of the wrong length
    wrong_body = data[: HEADER.size] + zlib.compress(b"\x00")
    for bad in (data[:10], b"XXXX" + data[4:], wrong_body):
        # then each one is refused with a ChunkError
        with pytest.raises(ChunkError, match="unreadable score chunk"):
            decode(bad)
    # and a chunk with a step over 2.5 s cannot be written
    with pytest.raises(ValueError, match=r"at most 2\.5 s apart"):
        encode(chunk(str(uuid.uuid4()), [0, 300], [0.2, 0.3]))
