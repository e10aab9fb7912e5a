"""The person stage of a camera: MoveNet MultiPose behind the motion gate at its own rate, people tracked.

Live sessions and recorded-footage analysis run the same stage, so offline and live agree. Every frame
of the analysis loop is offered (``process``); the stage runs the detector only when its period has
passed *and* the motion gate sees movement (or its keep-alive is due); otherwise the people of its
latest run are kept where they were at this time (standing still: speed 0, same ids), so a still scene
costs one small frame difference per period.

Cost and rate (``bench/stream_throughput.py``, CPU time on a 2-core machine): MoveNet at a 384 px input
takes 33-44 ms of one core per call on 640x360-768x576 frames (256 px: 16-21 ms, but it finds 0.4x the
people on ``vtest.avi``), so the default 2 calls/s cost about 7-9% of a core per camera.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from vision.motion import MotionGate, MotionSettings
from vision.people.movenet import ImageBGR, PoseDetector, PoseSettings
from vision.people.tracker import PersonTrack, PersonTracker
from vision.tracking import TrackerSettings

DEFAULT_FPS = 2.0
DEFAULT_INPUT_SIZE = 384
DEFAULT_MIN_SCORE = 0.1  # people tracked and given to the fight scorer
DEFAULT_COUNT_MIN_SCORE = 0.2  # people counted (crowd zones): fewer false people


@dataclass(frozen=True, slots=True)
class PersonStageSettings:
    """How often (calls per second; 0 = off), at which input size and from which person score people are found."""

    fps: float = DEFAULT_FPS
    input_size: int = DEFAULT_INPUT_SIZE
    min_score: float = DEFAULT_MIN_SCORE
    count_min_score: float = DEFAULT_COUNT_MIN_SCORE
    motion: MotionSettings = field(default_factory=MotionSettings)

    def __post_init__(self) -> None:
        if not 0.0 <= self.fps <= 30.0:
            raise ValueError(f"person fps must be within 0-30, not {self.fps}")
        if self.input_size % 32 or not 128 <= self.input_size <= 1024:
            raise ValueError(f"person input size must be a multiple of 32 within 128-1024, not {self.input_size}")
        if not 0.0 < self.min_score < 1.0:
            raise ValueError(f"person min score must be within (0, 1), not {self.min_score}")
        if not self.min_score <= self.count_min_score < 1.0:
            raise ValueError(f"person count score must be within [{self.min_score}, 1), not {self.count_min_score}")

    @property
    def enabled(self) -> bool:
        """False when the rate is 0 (people off)."""
        return self.fps > 0


class PersonStage:
    """Tracked people of one camera; the detector is shared by every camera of the process."""

    def __init__(self, settings: PersonStageSettings | None = None, detector: PoseDetector | None = None) -> None:
        self.settings = settings or PersonStageSettings()
        if not self.settings.enabled:
            raise ValueError("the person stage is off (fps 0); do not build it")
        self.detector = detector or shared_detector(self.settings.input_size, self.settings.min_score)
        self.gate = MotionGate(self.settings.motion)
        keepalive = self.settings.motion.keepalive_s or 0.0
        # a track outlives the gate's quiet spells and two missed runs, so still people keep their ids
        max_age = max(2.0, keepalive + 1.0, 2.5 / self.settings.fps)
        self.tracker = PersonTracker(TrackerSettings(iou_threshold=0.2, max_age_s=max_age))
        self.tracks: list[PersonTrack] = []
        self.ran = False
        self.runs = 0
        self.last_ms = 0.0
        self._next = float("-inf")

    @property
    def period_s(self) -> float:
        """Seconds between runs."""
        return 1.0 / self.settings.fps

    def process(self, image: ImageBGR, t: float) -> list[PersonTrack]:
        """Offer a frame (``t`` in seconds, any monotonic clock); the people now (``ran`` says if it looked)."""
        self.ran = False
        if t + 1e-6 < self._next:
            return self.tracks
        self._next = max(self._next + self.period_s, t + self.period_s * 0.5)
        if not self.gate.update(image, t).run_detectors:
            # nothing moved: the people are where they were, now (their speeds fall to 0, their ids live on)
            self.tracks = self.tracker.update([track.person for track in self.tracks], t)
            return self.tracks
        started = time.perf_counter()
        self.tracks = self.tracker.update(self.detector.detect(image), t)
        self.last_ms = (time.perf_counter() - started) * 1000.0
        self.ran = True
        self.runs += 1
        return self.tracks

    def reset(self) -> None:
        """Forget people and the background (a reconnect, a new source)."""
        self.tracker.reset()
        self.gate.reset()
        self.tracks = []
        self._next = float("-inf")


_DETECTORS: dict[tuple[int, float], PoseDetector] = {}
_DETECTORS_LOCK = threading.Lock()


def shared_detector(
    input_size: int, min_score: float, factory: Callable[[PoseSettings], PoseDetector] = PoseDetector
) -> PoseDetector:
    """One MoveNet session per (input size, score) per process (it serialises its calls)."""
    key = (input_size, round(min_score, 4))
    with _DETECTORS_LOCK:
        if key not in _DETECTORS:
            _DETECTORS[key] = factory(PoseSettings(input_size=input_size, min_score=min_score))
        return _DETECTORS[key]
