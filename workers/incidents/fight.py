"""Fight/aggression score from dense-flow motion features over a sliding window."""

from __future__ import annotations

import json
import logging
import math
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workers.incidents.flow import (
    PAIR_FEATURE_NAMES,
    FloatArray,
    FlowFeatureExtractor,
    Frame,
)

logger = logging.getLogger(__name__)

MODEL_PATH = Path(__file__).resolve().parent / "fight_model.json"

# Features the shipped model uses (chosen by source-grouped cross-validation, see train_fight.py).
DEFAULT_FEATURES: tuple[str, ...] = (
    "orient_entropy",
    "accel_ratio",
    "local_coherence",
    "reversal",
    "blobs",
    "mean_speed",
    "moving_frac",
)


def transform_features(values: FloatArray) -> FloatArray:
    """Compress heavy-tailed motion features (log1p of 10x) before standardising."""
    return np.log1p(np.maximum(values, 0.0) * 10.0).astype(np.float32)


def window_vector(pairs: FloatArray, columns: list[int]) -> FloatArray:
    """Window feature vector: mean of the selected per-pair features, transformed."""
    return transform_features(pairs[:, columns].mean(axis=0))


@dataclass
class FightModel:
    """Logistic-regression fight model, stored as plain JSON (no pickles)."""

    features: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    threshold_fight: float
    threshold_aggression: float
    analysis_fps: float = 10.0
    width: int = 160
    window_s: float = 1.0
    min_pairs: int = 3
    meta: dict[str, Any] = field(default_factory=dict)

    def columns(self) -> list[int]:
        """Indices of the model's features in PAIR_FEATURE_NAMES."""
        return [PAIR_FEATURE_NAMES.index(name) for name in self.features]

    def probability(self, vector: FloatArray) -> float:
        """Fight probability 0..1 of one window feature vector."""
        z = (vector - np.asarray(self.mean)) / np.asarray(self.scale)
        logit = float(z @ np.asarray(self.coef)) + self.intercept
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))

    def to_json(self, path: Path) -> None:
        """Write the parameters as indented JSON."""
        path.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")

    @classmethod
    def from_json(cls, path: Path = MODEL_PATH) -> FightModel:
        """Load parameters written by `to_json`."""
        data = json.loads(path.read_text())
        model = cls(**data)
        if not len(model.features) == len(model.mean) == len(model.scale) == len(model.coef):
            raise ValueError(f"inconsistent fight model file {path}")
        return model


class FightScorer:
    """Per-camera streaming fight score: update(frame, t) -> 0..1 over the last window."""

    def __init__(self, model: FightModel | None = None) -> None:
        """Use the given model or the shipped `fight_model.json`."""
        self.model = model if model is not None else FightModel.from_json()
        self._columns = self.model.columns()
        self._extractor = FlowFeatureExtractor(self.model.width)
        self._pairs: deque[tuple[float, FloatArray]] = deque()
        self._last_t: float | None = None

    def reset(self) -> None:
        """Drop all history (camera reconnect, scene change)."""
        self._extractor.reset()
        self._pairs.clear()
        self._last_t = None

    def wants(self, t_seconds: float) -> bool:
        """True when a frame at t would be used at the model's analysis rate."""
        if self._last_t is None:
            return True
        return t_seconds - self._last_t >= 0.9 / self.model.analysis_fps

    def update(self, frame_bgr: Frame, t_seconds: float) -> float:
        """Add a frame and return the current fight score (0 until the window has warmed up)."""
        self._last_t = t_seconds
        features = self._extractor.push(frame_bgr, t_seconds)
        if features is None:
            self._pairs.clear()
            return 0.0
        self._pairs.append((t_seconds, features))
        while self._pairs and self._pairs[0][0] <= t_seconds - self.model.window_s:
            self._pairs.popleft()
        if len(self._pairs) < self.model.min_pairs:
            return 0.0
        pairs = np.stack([p for _, p in self._pairs])
        return self.model.probability(window_vector(pairs, self._columns))
