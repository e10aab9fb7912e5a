"""The zone editor's test scene: the add page, a drawn rectangle, and a room-like JPEG put where stream
workers put previews (raw Redis, removed after the test)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import cv2
import numpy as np
import pytest

from core.redis import preview_key, redis_client

ADD_URL = "/admin/venues/zone/add/"
DRAWN = [(0.2, 0.25), (0.8, 0.25), (0.8, 0.75), (0.2, 0.75)]


def scene_jpeg(width: int = 640, height: int = 360) -> bytes:
    """A real JPEG that looks like a room: floor, a bar, a door."""
    frame = np.full((height, width, 3), (70, 62, 55), dtype=np.uint8)
    cv2.rectangle(frame, (0, height * 2 // 3), (width, height), (40, 90, 120), -1)
    cv2.rectangle(frame, (width // 10, height // 3), (width // 2, height * 2 // 3), (30, 45, 160), -1)
    cv2.rectangle(frame, (width * 3 // 4, height // 6), (width * 7 // 8, height * 2 // 3), (160, 150, 140), 3)
    return bytes(cv2.imencode(".jpg", frame)[1].tobytes())


@pytest.fixture
def preview_store() -> Iterator[Callable[[Any, bytes], None]]:
    """Put a camera's preview JPEG in Redis as a stream worker would; keys written are removed after the test."""
    client = redis_client()
    written: list[str] = []

    def put(camera: Any, data: bytes) -> None:
        key = preview_key(camera.pk)
        client.set(key, data, ex=120)
        written.append(key)

    yield put
    if written:
        client.delete(*written)
