"""Record a camera's fight and aggression scores for its false-alert budget (venues.scores).

The session attaches a recorder to each IncidentStage it builds; the stage calls `add` with every
score it feeds its triggers. Samples are buffered and stored as one compact chunk a minute
(`vision.incidents.scorelog`). A segment (what the calibration replays with one fresh trigger) ends
when the stage is rebuilt (settings changed), while the camera itself moves (the score is held, no
alert can start: that time is not counted as footage) and when samples stop for more than 2.5 s
(paused by the venue's schedule, a stall, a reconnect). Only numbers are kept.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from functools import partial

import numpy as np
import redis

from venues.scores import score_log_append
from vision.incidents.budget import ScoreSegment
from vision.incidents.scorelog import MAX_STEP_CS, Chunk, decode, encode, quantise, segments
from workers.pipeline import IncidentStage

logger = logging.getLogger(__name__)

CHUNK_S = 60.0

Store = Callable[[bytes, float], None]  # (chunk, wall time of its last sample)


class ScoreRecorder:
    """Buffers one camera's scores and hands a chunk to `store` every `chunk_s` seconds of samples."""

    def __init__(
        self, store: Store, *, label: str = "", chunk_s: float = CHUNK_S, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.label = label
        self.chunk_s = chunk_s
        self.clock = clock
        self.chunks_written = 0
        self.fingerprints = ("", "")
        self._segment: str | None = None
        self._start_t = 0.0
        self._last_cs = -1
        self._first_wall = 0.0
        self._offsets: list[int] = []
        self._fight: list[int] = []
        self._aggression: list[int] = []

    def attach(self, stage: IncidentStage | None) -> None:
        """Record what this stage scores from now on (None, or no fight scoring: nothing); ends the segment."""
        self.close()
        if stage is not None and stage.fight_fps > 0:
            self.fingerprints = stage.score_fingerprints
            stage.score_sink = self.add

    def add(self, t: float, fight: float, aggression: float, held: bool) -> None:
        """One score sample at monotonic time t; `held` while the camera itself moves."""
        if held:
            self.close()
            return
        offset = round((t - self._start_t) * 100)
        if self._segment is not None and not 0 < offset - self._last_cs <= MAX_STEP_CS:
            self.close()
        if self._segment is None:
            self._segment, self._start_t, offset = str(uuid.uuid4()), t, 0
        if not self._offsets:
            self._first_wall = self.clock()
        self._offsets.append(offset)
        self._fight.append(quantise(fight))
        self._aggression.append(quantise(aggression))
        self._last_cs = offset
        if (offset - self._offsets[0]) / 100.0 >= self.chunk_s:
            self.flush()

    def flush(self) -> None:
        """Store the buffered samples as one chunk (the segment goes on); a Redis error drops them."""
        if not self._offsets or self._segment is None:
            return
        model, zones = self.fingerprints
        chunk = Chunk(
            self._segment,
            model,
            zones,
            self._first_wall,
            np.asarray(self._offsets, dtype=np.int64),
            np.asarray(self._fight, dtype=np.uint8),
            np.asarray(self._aggression, dtype=np.uint8),
        )
        self._offsets, self._fight, self._aggression = [], [], []
        try:
            self.store(encode(chunk), self.clock())
            self.chunks_written += 1
        except redis.RedisError as exc:
            logger.warning("%s: score chunk not stored: %s", self.label, exc)

    def close(self) -> None:
        """Flush and end the segment (the next sample starts a new one)."""
        self.flush()
        self._segment = None
        self._last_cs = -1


def live_recorder(client: redis.Redis, camera_id: str) -> ScoreRecorder:
    """A recorder appending to the camera's score history in Redis."""
    return ScoreRecorder(partial(score_log_append, client, camera_id), label=f"camera {camera_id}")


class MemoryScores:
    """A recorder whose chunks stay in memory (recorded footage): the same quantisation and segments as live."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.recorder = ScoreRecorder(lambda chunk, at: self.chunks.append(chunk), label="recording")

    def segments(self) -> list[ScoreSegment]:
        """Everything recorded, as the calibration reads it."""
        self.recorder.close()
        model, zones = self.recorder.fingerprints
        return segments([decode(chunk) for chunk in self.chunks], model=model, zones=zones)
