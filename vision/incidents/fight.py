"""Fight/aggression score from per-cell optical-flow statistics over a sliding window.

Fights are bursts of motion that keeps changing direction in the same place. For every cell of
an 8x8 grid the window keeps the summed flow vector, the summed speed and a direction histogram;
walking people and passing cars move the same way for the whole window (high temporal coherence,
peaked direction histogram), people hitting and grappling do not. The same coherence is also
measured on 2x2 blocks of cells and on quarter cells, so opposing motion of neighbouring body
parts and of limbs counts too.

Flow alone sees motion, not people: dancing, a busy doorway or people walking close to the camera
swing back and forth too. The scorer therefore also takes the person stage's tracked people and adds
the cues of close pairs (vision.incidents.pairs: limb speed relative to body size, approach, reach,
flow inside the pair's box); with the people gate (`FightModel.gate_s`) nothing scores unless a close
pair of people was seen lately.
"""

from __future__ import annotations

import json
import logging
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from vision.incidents.flow import (
    CELL_CHANNELS,
    CELL_ORIENT_BINS,
    MOVING_SPEED,
    FloatArray,
    FlowFeatureExtractor,
    Frame,
)
from vision.incidents.pairs import PEOPLE_FEATURE_NAMES, PeopleCues
from vision.people.tracker import PersonTrack

logger = logging.getLogger(__name__)

MODEL_PATH = Path(__file__).resolve().parent / "fight_model.json"

WINDOW_FEATURE_NAMES: tuple[str, ...] = (
    "temporal_coherence",
    "cell_orient_entropy",
    "cell_reversal",
    "active_cells",
    "mean_speed",
    "moving_frac",
    "coarse_coherence",
    "fine_coherence",
)

FEATURE_NAMES: tuple[str, ...] = WINDOW_FEATURE_NAMES + PEOPLE_FEATURE_NAMES

_VX, _VY, _ENERGY, _MOVING, _SPEED = (CELL_CHANNELS.index(c) for c in CELL_CHANNELS[:5])
_ORIENT = CELL_CHANNELS.index("orient_0")
_SUB_VX, _SUB_VY = CELL_CHANNELS.index("sub_vx_0"), CELL_CHANNELS.index("sub_vy_0")
_ACTIVE_CELL = 0.1
_EPS = 1e-9

# The camera itself moves (a PTZ turning or zooming, a shaking mount) when an affine fit to the flow
# is faster than CAMERA_MOVING_SPEED frame widths per second and explains at least
# CAMERA_MOVING_SHARE of the flow's energy. Flow then measures the camera rather than people, so the
# score holds at 0 until the view has been steady for CAMERA_SETTLE_S. Measured on the labelled
# clips: 0 of 38 no-fight and 1 of 38 fight clips (filmed hand-held) have over 30 % of their frame
# pairs flagged; a close-up fight filling the frame (violence_5: fit explains 23 %) is not flagged;
# a camera on a moving vehicle (MOT17-13: 76 %) is, on 19 % of its pairs.
CAMERA_MOVING_SPEED = 0.1
CAMERA_MOVING_SHARE = 0.6
CAMERA_SETTLE_S = 1.0

Polygon = Sequence[tuple[float, float]]


def _coherence(vx: FloatArray, vy: FloatArray, total: float) -> float:
    """Share of the window's motion energy left after summing each cell's flow over time.

    `vx`, `vy` are moving-pixel velocity sums shaped (pairs, cells...): 1 when every cell moves
    the same way all window, 0 when each cell's motion cancels out (back and forth, opposing).
    """
    return float(np.hypot(vx.sum(axis=0), vy.sum(axis=0)).sum() / total)


def window_features(cells: FloatArray) -> FloatArray:
    """WINDOW_FEATURE_NAMES values of a window of cell summaries shaped (pairs, rows, cols, ch).

    Temporal coherence is measured on three grids: the cells (temporal_coherence), 2x2 blocks of
    cells (coarse_coherence: also cancels opposing motion of neighbouring cells) and the cells'
    quarters (fine_coherence: limbs and heads rather than whole bodies).
    """
    pairs, rows, cols = cells.shape[:3]
    grid = cells.reshape(pairs, -1, cells.shape[-1])
    vx, vy, energy = grid[..., _VX], grid[..., _VY], grid[..., _ENERGY]
    cell_energy = energy.sum(axis=0)
    total = float(cell_energy.sum())
    if total <= _EPS:
        return np.array([1.0, 0.0, 0.0, 0.0, float(grid[..., _SPEED].mean()), 0.0, 1.0, 1.0], np.float32)
    blocks = (pairs, rows // 2, 2, cols // 2, 2)
    coarse_vx = cells[:, : rows // 2 * 2, : cols // 2 * 2, _VX].reshape(blocks).sum(axis=(2, 4))
    coarse_vy = cells[:, : rows // 2 * 2, : cols // 2 * 2, _VY].reshape(blocks).sum(axis=(2, 4))
    weights = cell_energy / total
    coherence = _coherence(vx, vy, total)
    hist = grid[..., _ORIENT : _ORIENT + CELL_ORIENT_BINS].sum(axis=0)
    p = hist / np.maximum(hist.sum(axis=1, keepdims=True), _EPS)
    entropy = -(p * np.log(np.maximum(p, 1e-12))).sum(axis=1) / math.log(p.shape[1])
    dot = vx[1:] * vx[:-1] + vy[1:] * vy[:-1]
    later = energy[1:]
    reversal = float(((dot < 0) * later).sum() / max(float(later.sum()), _EPS))
    values = (
        coherence,
        float((entropy * weights).sum()),
        reversal,
        float((grid[..., _MOVING].mean(axis=0) > _ACTIVE_CELL).mean()),
        float(grid[..., _SPEED].mean()),
        float(grid[..., _MOVING].mean()),
        _coherence(coarse_vx, coarse_vy, total),
        _coherence(grid[..., _SUB_VX : _SUB_VX + 4], grid[..., _SUB_VY : _SUB_VY + 4], total),
    )
    return np.asarray(values, dtype=np.float32)


def transform_features(values: FloatArray) -> FloatArray:
    """Compress heavy-tailed motion features (log1p of 10x) before standardising."""
    return np.log1p(np.maximum(values, 0.0) * 10.0).astype(np.float32)


@dataclass
class FightModel:
    """Logistic-regression fight model over flow and people features, stored as plain JSON (no pickles).

    `gate_s` > 0 is the people gate: the score is 0 unless a close pair of people (vision.incidents.pairs)
    was seen in the last `gate_s` seconds. `people_input_size`, `people_min_score` and `people_fps` are
    the person stage the people features were trained with (0: no people).
    """

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
    smooth_s: float = 0.0
    fight_min_duration_s: float = 0.6
    roi_min_cells: int = 0  # kept for old files; only 0 (the whole frame) is supported
    gate_s: float = 0.0
    people_window_s: float = 1.0
    people_input_size: int = 0
    people_min_score: float = 0.0
    people_fps: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)

    def columns(self) -> list[int]:
        """Indices of the model's features in FEATURE_NAMES."""
        return [FEATURE_NAMES.index(name) for name in self.features]

    @property
    def uses_people(self) -> bool:
        """True when people features or the people gate shape the score."""
        return self.gate_s > 0 or any(name in PEOPLE_FEATURE_NAMES for name in self.features)

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
        """Load parameters written by `to_json`; ValueError naming the file when it is not such a file."""
        try:
            model = cls(**json.loads(path.read_text()))
        except (UnicodeDecodeError, json.JSONDecodeError, TypeError) as exc:
            raise ValueError(
                f"{path} is not a fight model file ({exc}); write one with tools.train_fight --out"
            ) from exc
        if not len(model.features) == len(model.mean) == len(model.scale) == len(model.coef):
            raise ValueError(f"inconsistent fight model file {path}")
        unknown = set(model.features) - set(FEATURE_NAMES)
        if unknown:
            raise ValueError(f"unknown fight features {sorted(unknown)} in {path}")
        if model.roi_min_cells:
            raise ValueError(f"{path}: motion-crop models (roi_min_cells > 0) are no longer supported")
        return model


_LOADED: dict[tuple[str, int], FightModel] = {}


def load_model(path: str | Path | None = None) -> FightModel:
    """The model in `path` (None or "": the shipped one), read once per file version; ValueError if malformed."""
    target = Path(path) if path else MODEL_PATH
    key = (str(target.resolve()), target.stat().st_mtime_ns)
    if key not in _LOADED:
        _LOADED[key] = FightModel.from_json(target)
    return _LOADED[key]


# Outcome of one frame's flow step (FlowStep.push).
PAIR, REPEAT, NO_PAIR = 0, 1, 2


# The fine flow grid: moving-pixel velocity sums and speed of FINE_PX x FINE_PX blocks of the analysed
# frame (4 px of 200: a person 80 px tall in a 768 px frame spans 5 blocks), for flow inside people's boxes.
FINE_PX = 4
FINE_CHANNELS = ("vx", "vy", "energy")
FineGrid = npt.NDArray[np.float16]


@dataclass(frozen=True)
class StepResult:
    """What one frame added: a flow pair's cell summary, a repeated frame, or no pair (first frame, gap)."""

    status: int
    cells: FloatArray | None = None
    camera: tuple[float, float] | None = None  # camera-motion fit (speed, share) of the new pair
    fine: FineGrid | None = None  # [rows, cols, FINE_CHANNELS] means of FINE_PX blocks


def fine_grid(vx: FloatArray, vy: FloatArray, speed: FloatArray) -> FineGrid:
    """FINE_CHANNELS means over FINE_PX x FINE_PX blocks of one flow field (moving pixels only)."""
    moving = (speed > MOVING_SPEED).astype(np.float32)
    h, w = speed.shape
    rows, cols = h // FINE_PX, w // FINE_PX
    stacked = np.stack([vx * moving, vy * moving, speed * moving], axis=-1)[: rows * FINE_PX, : cols * FINE_PX]
    return np.asarray(stacked.reshape(rows, FINE_PX, cols, FINE_PX, 3).mean(axis=(1, 3)), dtype=np.float16)


class FlowStep:
    """Whole-frame flow cells of the pair each frame closes (the flow half of FightScorer, cacheable)."""

    def __init__(self, width: int, *, fine: bool = True) -> None:
        """Analyse frames downscaled to `width` pixels; `fine`: also the fine grid (only pair cues read it)."""
        self._extractor = FlowFeatureExtractor(width)
        self._fine = fine

    def reset(self) -> None:
        """Forget the previous frame."""
        self._extractor.reset()

    def push(self, frame_bgr: Frame, t_seconds: float) -> StepResult:
        """Add a frame and return what it added."""
        cells = self._extractor.push_cells(frame_bgr, t_seconds)
        flow = self._extractor.last_flow
        if cells is not None and flow is not None:
            fine = fine_grid(flow.vx, flow.vy, flow.speed) if self._fine else None
            return StepResult(PAIR, cells, self._extractor.camera_motion, fine)
        return StepResult(REPEAT if self._extractor.last_was_repeat else NO_PAIR)


class FightScorer:
    """Per-camera streaming fight score: update(frame, t, people=tracks) -> 0..1 over the last window.

    `people` are the person stage's latest tracks (`vision.people.tracker.PersonTrack`); passing the
    same tracks again on frames the person stage skipped is fine (only newer sightings count). A caller
    without a person stage passes None (the default): the scorer then runs its own (MoveNet and a
    PersonTracker at the model's `people_fps`, input size and score threshold). `exclude`
    polygons (0..1 frame coordinates) are painted over before the flow is measured, so motion there (a
    screen, a door, a road) never counts. `camera_moving` is True while the score is held at 0 because
    the camera itself moves; `camera_hold=False` scores through camera motion (a benchmark baseline).
    """

    def __init__(
        self, model: FightModel | None = None, *, exclude: Sequence[Polygon] = (), camera_hold: bool = True
    ) -> None:
        """Use the given model or the shipped `fight_model.json`; ValueError for a malformed polygon."""
        self.model = model if model is not None else load_model()
        for polygon in exclude:
            if len(polygon) < 3 or not all(0.0 <= c <= 1.0 for point in polygon for c in point):
                raise ValueError(f"an excluded area needs 3 or more points inside 0..1, got {list(polygon)}")
        self.exclude = [list(polygon) for polygon in exclude]
        self.camera_hold = camera_hold
        self.camera_moving = False
        self.has_pair = False
        self.last_values: FloatArray | None = None  # every FEATURE_NAMES value of the last scored window
        self._steady_from = float("-inf")
        self._exclude_px: tuple[tuple[int, int], list[np.ndarray]] | None = None
        self._columns = self.model.columns()
        # the pair cues (and the fine flow grid they read) only when the model uses one; the gate always
        self._cues = any(name in PEOPLE_FEATURE_NAMES for name in self.model.features)
        self._flow = FlowStep(self.model.width, fine=self._cues)
        self._people = PeopleCues(self.model.people_window_s, self.model.gate_s, cues=self._cues)
        self._pairs: deque[tuple[float, FloatArray, FineGrid | None]] = deque()
        self._scores: deque[tuple[float, float]] = deque()
        self._last_t: float | None = None
        self._last_score = 0.0
        self._own: tuple[Any, Any] | None = None  # (PoseDetector, PersonTracker) when no caller passes people
        self._own_tracks: list[PersonTrack] = []
        self._own_next = float("-inf")

    def reset(self) -> None:
        """Drop all history (camera reconnect, scene change)."""
        self._flow.reset()
        self._people.reset()
        self._pairs.clear()
        self._scores.clear()
        self._last_t = None
        self._last_score = 0.0
        self.camera_moving = False
        self._steady_from = float("-inf")
        self._own_tracks = []
        self._own_next = float("-inf")
        if self._own is not None:
            self._own[1].reset()

    def wants(self, t_seconds: float) -> bool:
        """True when a frame at t would be used at the model's analysis rate."""
        if self._last_t is None:
            return True
        return t_seconds - self._last_t >= 0.9 / self.model.analysis_fps

    def update(self, frame_bgr: Frame, t_seconds: float, *, people: Sequence[PersonTrack] | None = None) -> float:
        """Add a frame (and the person stage's tracks) and return the current fight score.

        The score is 0 until the window has warmed up; a repeated (duplicate) frame returns the
        previous score.
        """
        masked = self._masked(frame_bgr)
        step = self._flow.push(masked, t_seconds)
        if people is None:
            people = self._own_people(masked, t_seconds) if self.model.uses_people else ()
        hw = (int(frame_bgr.shape[0]), int(frame_bgr.shape[1]))
        return self.score_step(t_seconds, step, self._outside_exclusions(people, hw), hw)

    def _own_people(self, frame_bgr: Frame, t_seconds: float) -> list[PersonTrack]:
        """Tracks from the scorer's own person stage, run at the model's people rate."""
        if t_seconds < self._own_next:
            return self._own_tracks
        detector, tracker = self._own_stage()
        rate = self.model.people_fps or self.model.analysis_fps
        self._own_next = t_seconds + 0.9 / rate
        self._own_tracks = tracker.update(detector.detect(frame_bgr), t_seconds)
        return self._own_tracks

    def _own_stage(self) -> tuple[Any, Any]:
        """The scorer's own MoveNet and tracker, at the model's settings (loaded once)."""
        if self._own is None:
            from vision.people.stage import shared_detector  # the ONNX session loads only when used
            from vision.people.tracker import PersonTracker

            detector = shared_detector(self.model.people_input_size or 384, self.model.people_min_score or 0.2)
            self._own = (detector, PersonTracker())
        return self._own

    def _outside_exclusions(self, people: Sequence[PersonTrack], hw: tuple[int, int]) -> Sequence[PersonTrack]:
        """The tracks whose box centre is outside every excluded area (people there never count)."""
        if not self.exclude or not people:
            return people
        h, w = hw
        scale = np.array([w, h], dtype=np.float32)
        polygons = [np.asarray(p, dtype=np.float32) * scale for p in self.exclude]
        kept = []
        for track in people:
            x, y, bw, bh = track.box
            centre = (float(x + bw / 2), float(y + bh / 2))
            if all(cv2.pointPolygonTest(poly.reshape(-1, 1, 2), centre, False) < 0 for poly in polygons):
                kept.append(track)
        return kept

    def score_step(
        self, t_seconds: float, step: StepResult, people: Sequence[PersonTrack], frame_hw: tuple[int, int]
    ) -> float:
        """The score after one frame's flow step; `update` and cached replays (tools.fight_cache) share it."""
        self._last_t = t_seconds
        self.last_values = None
        if self._camera_moved(step, t_seconds):
            self._pairs.clear()
            self._scores.clear()
            self._people.reset()
            self._last_score = 0.0
            return 0.0
        if step.status == PAIR and step.cells is not None:
            self._pairs.append((t_seconds, step.cells, step.fine))
            while self._pairs and self._pairs[0][0] <= t_seconds - self.model.window_s:
                self._pairs.popleft()
        elif step.status == NO_PAIR:
            self._pairs.clear()
        self._people.update(t_seconds, people, self._fine_window, frame_hw)
        self.has_pair = self._people.has_pair(t_seconds)
        if step.status == REPEAT:
            return self._last_score
        if step.status == NO_PAIR:
            self._scores.clear()
            self._last_score = 0.0
            return 0.0
        if len(self._pairs) < self.model.min_pairs:
            self._last_score = 0.0
            return 0.0
        window = np.stack([c for _, c, _ in self._pairs])
        values = np.concatenate([window_features(window), self._people.vector(t_seconds)])
        self.last_values = values
        probability = self.model.probability(transform_features(values[self._columns]))
        if self.model.gate_s > 0 and not self.has_pair:
            probability = 0.0
        self._last_score = self._smoothed(probability, t_seconds)
        return self._last_score

    def _fine_window(self) -> FineGrid | None:
        """The window's fine flow grids stacked (None without any, or when they differ in shape)."""
        fines = [f for _, _, f in self._pairs if f is not None]
        if not fines or any(f.shape != fines[0].shape for f in fines):
            return None
        return np.stack(fines)

    def _masked(self, frame_bgr: Frame) -> Frame:
        """The frame with the excluded areas painted black (a copy; the caller's frame is kept)."""
        if not self.exclude:
            return frame_bgr
        h, w = frame_bgr.shape[:2]
        if self._exclude_px is None or self._exclude_px[0] != (w, h):
            scaled = [np.round(np.asarray(p, dtype=np.float64) * (w, h)).astype(np.int32) for p in self.exclude]
            self._exclude_px = ((w, h), scaled)
        out = frame_bgr.copy()
        cv2.fillPoly(out, self._exclude_px[1], (0, 0, 0))
        return out

    def _camera_moved(self, step: StepResult, t_seconds: float) -> bool:
        """Update and return `camera_moving` from the flow pair this frame closed."""
        motion = step.camera if step.status == PAIR and self.camera_hold else None
        if motion is not None and motion[0] >= CAMERA_MOVING_SPEED and motion[1] >= CAMERA_MOVING_SHARE:
            if not self.camera_moving:
                logger.info(
                    "camera moving (%.2f frame widths/s, %.0f%% of the flow): fight score held at 0",
                    motion[0],
                    motion[1] * 100,
                )
            self._steady_from = t_seconds + CAMERA_SETTLE_S
        self.camera_moving = t_seconds < self._steady_from
        return self.camera_moving

    def _smoothed(self, probability: float, t_seconds: float) -> float:
        """Mean window probability over the last `smooth_s` seconds (the raw one when 0)."""
        self._scores.append((t_seconds, probability))
        while self._scores and self._scores[0][0] <= t_seconds - self.model.smooth_s:
            self._scores.popleft()
        return float(np.mean([s for _, s in self._scores])) if self._scores else probability
