"""Read a clip at a fixed analysis rate (frames picked by timestamp, not by index)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

Frame = npt.NDArray[np.uint8]

_DEFAULT_FPS = 25.0


def _source_fps(cap: cv2.VideoCapture) -> float:
    fps = float(cap.get(cv2.CAP_PROP_FPS))
    return fps if 1.0 <= fps <= 240.0 else _DEFAULT_FPS


def iter_frames(path: Path | str, fps: float = 5.0) -> Iterator[tuple[float, Frame]]:
    """Yield (t_seconds, frame_bgr) sampled at about `fps`; reads until the decoder stops."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise OSError(f"cannot open video {path}")
    try:
        src_fps = _source_fps(cap)
        step = 1.0 / fps
        next_t = 0.0
        index = 0
        while cap.grab():
            t = index / src_fps
            index += 1
            if t + 1e-6 < next_t:
                continue
            ok, frame = cap.retrieve()
            if not ok:
                break
            next_t = (int(t / step + 1e-6) + 1) * step
            yield t, np.asarray(frame, dtype=np.uint8)
    finally:
        cap.release()
    logger.debug("read %s: %d source frames", path, index)
