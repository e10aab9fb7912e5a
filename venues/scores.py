"""A camera's recent fight/aggression scores in Redis (compact chunks), for its false-alert budget.

One sorted set per camera (`core.redis.scores_key`): members are `vision.incidents.scorelog` chunks,
scored by the wall time of their last sample; every append trims what is older than
`CC_SCORE_HISTORY_HOURS`. Stream workers append (`workers.scores.ScoreRecorder`), the calibration
reads a window back. Losing the history (a Redis restart without persistence) only means the next
calibration says "not enough footage".
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from django.conf import settings

from core.redis import scores_key
from vision.incidents.budget import ScoreSegment
from vision.incidents.scorelog import ChunkError, decode, segments

logger = logging.getLogger(__name__)


def history_s() -> float:
    """How long chunks are kept (CC_SCORE_HISTORY_HOURS)."""
    return float(settings.CC_SCORE_HISTORY_HOURS) * 3600.0


def score_log_append(client: redis.Redis, camera_id: object, chunk: bytes, at: float) -> None:
    """Add a chunk whose last sample was at wall time `at`; drop chunks past the history."""
    key = scores_key(camera_id)
    keep = history_s()
    pipe = client.pipeline(transaction=False)
    pipe.zadd(key, {chunk: at})
    pipe.zremrangebyscore(key, "-inf", at - keep)
    pipe.expire(key, int(keep) + 3600)
    pipe.execute()


def score_log_read(
    client: redis.Redis, camera_id: object, *, hours: float, model: str, zones: str, now: float | None = None
) -> list[ScoreSegment]:
    """The camera's segments of the last `hours` scored with this model and these excluded areas."""
    since = (time.time() if now is None else now) - hours * 3600.0
    raw: list[Any] = client.zrangebyscore(scores_key(camera_id), since, "+inf")
    chunks = []
    for data in raw:
        try:
            chunks.append(decode(bytes(data)))
        except ChunkError as exc:
            logger.warning("camera %s: skipped a score chunk: %s", camera_id, exc)
    return segments(chunks, model=model, zones=zones)


def score_log_clear(client: redis.Redis, camera_id: object) -> None:
    """Forget a camera's score history."""
    client.delete(scores_key(camera_id))
