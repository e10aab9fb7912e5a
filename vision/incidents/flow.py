"""Dense optical-flow motion features for fight scoring: per-cell grid summaries and per-pair stats."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
Frame = npt.NDArray[np.uint8]

# Speeds are in frame-widths per second, so they do not depend on resolution or frame rate.
MOVING_SPEED = 0.08
FAST_SPEED = 0.35
_ORIENT_BINS = 8
_GRID = 4
_MAX_DT = 0.35
_LOCAL_CELLS = 8
_MIN_BLOB = 12
# A frame is a repeat of the previous one (recorders often pad low-rate CCTV with copies)
# when fewer than this share of pixels changed by more than _DUP_LEVEL grey levels.
_DUP_LEVEL = 8
_DUP_SHARE = 0.0005

# Per-cell summary of one flow field on a CELLS x CELLS grid (see `cell_summary`).
CELLS = 8
CELL_ORIENT_BINS = 8
CELL_CHANNELS: tuple[str, ...] = (
    "vx",  # mean x-velocity of moving pixels (0 elsewhere)
    "vy",  # mean y-velocity of moving pixels
    "energy",  # mean speed of moving pixels (0 elsewhere)
    "moving",  # fraction of moving pixels
    "speed",  # mean speed of all pixels
    *(f"orient_{i}" for i in range(CELL_ORIENT_BINS)),  # moving speed per direction bin
    # x- and y-velocity of the moving pixels of each quarter of the cell (top-left, top-right,
    # bottom-left, bottom-right), for coherence on a grid twice as fine
    *(f"sub_vx_{i}" for i in range(4)),
    *(f"sub_vy_{i}" for i in range(4)),
)

PAIR_FEATURE_NAMES: tuple[str, ...] = (
    "mean_speed",
    "moving_frac",
    "fast_frac",
    "moving_speed",
    "p95_speed",
    "orient_entropy",
    "coherence",
    "accel",
    "accel_ratio",
    "vif_change_frac",
    "vif_change",
    "concentration",
    "local_coherence",
    "local_spread",
    "reversal",
    "divergence",
    "curl",
    "blobs",
)


@dataclass(frozen=True)
class _Flow:
    """One compensated flow field in frame-widths per second."""

    vx: FloatArray
    vy: FloatArray
    speed: FloatArray
    camera_speed: float = 0.0  # mean speed of the best affine (pan, tilt, zoom, roll) fit to the flow
    camera_share: float = 0.0  # share of the flow's energy that fit explains (1: all camera motion)


def is_repeat(prev: Frame, cur: Frame) -> bool:
    """True when `cur` is (nearly) a copy of `prev`: no pixel group changed noticeably."""
    changed = cv2.absdiff(prev, cur) > _DUP_LEVEL
    return int(np.count_nonzero(changed)) < _DUP_SHARE * cur.size


@lru_cache(maxsize=64)
def _exact_step(w: int, h: int, width: int) -> int:
    """Largest whole factor that divides both sides and keeps the frame at least `width` wide."""
    common = math.gcd(w, h)
    return max((k for k in range(1, common + 1) if common % k == 0 and w // k >= width), default=1)


def prepare_grey(frame_bgr: Frame, width: int) -> Frame:
    """Downscale a BGR frame to `width` pixels wide, grey, lightly blurred.

    Grey first, then an exact whole-factor area reduction (OpenCV's fast path), then the rest:
    a direct area resize by a fractional factor (1280 -> 200 px) costs several times more.
    """
    h, w = frame_bgr.shape[:2]
    height = max(8, round(h * width / w))
    grey = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY)
    step = _exact_step(w, h, width)
    if step > 1:
        grey = cv2.resize(grey, (w // step, h // step), interpolation=cv2.INTER_AREA)
    small = cv2.resize(grey, (width, height), interpolation=cv2.INTER_AREA)
    return np.asarray(cv2.GaussianBlur(small, (3, 3), 0), dtype=np.uint8)


def compute_flow(prev: Frame, cur: Frame, dt: float) -> _Flow:
    """Farneback flow between two grey frames, minus the median (camera) motion."""
    flow = np.asarray(
        cv2.calcOpticalFlowFarneback(prev, cur, None, 0.5, 3, 9, 2, 5, 1.1, 0),  # type: ignore[call-overload]
        dtype=np.float32,
    )
    scale = 1.0 / (prev.shape[1] * max(dt, 1e-3))
    mx, my = float(np.median(flow[..., 0])), float(np.median(flow[..., 1]))
    vx = (flow[..., 0] - mx) * scale
    vy = (flow[..., 1] - my) * scale
    speed = np.sqrt(vx * vx + vy * vy)
    camera_speed, camera_share = _affine_motion(flow, scale)
    return _Flow(
        vx.astype(np.float32),
        vy.astype(np.float32),
        speed.astype(np.float32),
        camera_speed=camera_speed,
        camera_share=camera_share,
    )


_AFFINE_STEP = 4  # fit the camera model on every 4th pixel of every 4th row


@lru_cache(maxsize=16)
def _affine_design(h: int, w: int) -> tuple[FloatArray, FloatArray]:
    """Design matrix [1, x, y] of the sampled pixels (x, y in frame widths) and its pseudo-inverse."""
    ys, xs = np.mgrid[0:h:_AFFINE_STEP, 0:w:_AFFINE_STEP]
    design = np.stack([np.ones(xs.size), xs.ravel() / w - 0.5, ys.ravel() / w], axis=1)
    return design.astype(np.float32), np.linalg.pinv(design).astype(np.float32)


def _affine_motion(flow: FloatArray, scale: float) -> tuple[float, float]:
    """Mean speed of the least-squares affine flow and the share of flow energy it explains.

    A panning, zooming or shaking camera moves the whole image by one affine field (share near 1);
    people moving, even filling the frame, do not (share well under 0.5 on the labelled clips).
    """
    h, w = flow.shape[:2]
    design, pinv = _affine_design(h, w)
    uv = flow[::_AFFINE_STEP, ::_AFFINE_STEP].reshape(-1, 2) * scale
    fitted = design @ (pinv @ uv)
    total = float((uv * uv).sum())
    if total <= 1e-12:
        return 0.0, 0.0
    residual = float(((uv - fitted) ** 2).sum())
    return float(np.hypot(fitted[:, 0], fitted[:, 1]).mean()), 1.0 - residual / total


def _orientation_stats(flow: _Flow, moving: npt.NDArray[np.bool_]) -> tuple[float, float]:
    """Speed-weighted orientation entropy (0..1) and direction coherence (0..1)."""
    weights = flow.speed[moving]
    total = float(weights.sum())
    if total <= 1e-9:
        return 0.0, 0.0
    angles = np.arctan2(flow.vy[moving], flow.vx[moving])
    bins = ((angles + np.pi) / (2 * np.pi) * _ORIENT_BINS).astype(np.int32) % _ORIENT_BINS
    hist = np.bincount(bins, weights=weights, minlength=_ORIENT_BINS) / total
    nonzero = hist[hist > 0]
    entropy = float(-(nonzero * np.log(nonzero)).sum() / np.log(_ORIENT_BINS))
    coherence = float(np.hypot(flow.vx[moving].sum(), flow.vy[moving].sum()) / total)
    return entropy, coherence


def _concentration(speed: FloatArray) -> float:
    """Share of motion energy in the busiest cell of a coarse grid (1/16 = uniform)."""
    h, w = speed.shape
    cells = speed[: h - h % _GRID, : w - w % _GRID].reshape(_GRID, h // _GRID, _GRID, w // _GRID)
    energy = cells.sum(axis=(1, 3))
    total = float(energy.sum())
    return float(energy.max() / total) if total > 1e-9 else 0.0


def _cell_vectors(flow: _Flow, cells: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Summed flow vectors and summed speeds of a cells x cells grid."""
    h, w = flow.speed.shape
    ch, cw = h // cells, w // cells

    def pool(a: FloatArray) -> FloatArray:
        trimmed = a[: ch * cells, : cw * cells].reshape(cells, ch, cells, cw)
        return np.asarray(trimmed.sum(axis=(1, 3)), dtype=np.float32)

    masked = flow.speed > MOVING_SPEED
    return pool(flow.vx * masked), pool(flow.vy * masked), pool(flow.speed * masked)


def _local_stats(flow: _Flow, prev: _Flow | None) -> tuple[float, float, float]:
    """Energy-weighted local coherence, local orientation spread and cell-wise reversal."""
    sx, sy, energy = _cell_vectors(flow, _LOCAL_CELLS)
    total = float(energy.sum())
    if total <= 1e-9:
        return 1.0, 0.0, 0.0
    coherence = np.hypot(sx, sy) / np.maximum(energy, 1e-9)
    local_coherence = float((coherence * energy).sum() / total)
    local_spread = float(((1.0 - coherence) * energy).sum() / total)
    if prev is None or prev.speed.shape != flow.speed.shape:
        return local_coherence, local_spread, 0.0
    px, py, _ = _cell_vectors(prev, _LOCAL_CELLS)
    dot = sx * px + sy * py
    reversal = float((energy * (dot < 0)).sum() / total)
    return local_coherence, local_spread, reversal


def _curl_divergence(flow: _Flow) -> tuple[float, float]:
    """Mean |divergence| and |curl| over moving pixels, relative to their mean speed."""
    moving = flow.speed > MOVING_SPEED
    if not moving.any():
        return 0.0, 0.0
    dvx_dy, dvx_dx = np.gradient(flow.vx)
    dvy_dy, dvy_dx = np.gradient(flow.vy)
    base = float(flow.speed[moving].mean()) + 1e-6
    div = float(np.abs(dvx_dx + dvy_dy)[moving].mean()) / base
    curl = float(np.abs(dvy_dx - dvx_dy)[moving].mean()) / base
    return div, curl


def _blob_count(flow: _Flow) -> float:
    """Number of separate moving regions (a crude count of movers)."""
    raw = (flow.speed > MOVING_SPEED).astype(np.uint8)
    mask = cv2.morphologyEx(raw, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    return float((stats[1:, cv2.CC_STAT_AREA] >= _MIN_BLOB).sum())


def _change_features(flow: _Flow, prev: _Flow | None) -> tuple[float, float, float, float]:
    """Flow acceleration and ViF magnitude-change statistics against the previous field."""
    if prev is None or prev.speed.shape != flow.speed.shape:
        return 0.0, 0.0, 0.0, 0.0
    active = (flow.speed > MOVING_SPEED) | (prev.speed > MOVING_SPEED)
    if not active.any():
        return 0.0, 0.0, 0.0, 0.0
    dvx = flow.vx[active] - prev.vx[active]
    dvy = flow.vy[active] - prev.vy[active]
    accel = float(np.sqrt(dvx * dvx + dvy * dvy).mean())
    base = float(np.maximum(flow.speed[active], prev.speed[active]).mean())
    change = np.abs(flow.speed - prev.speed)
    change_frac = float((change > MOVING_SPEED).mean())
    return accel, accel / max(base, 1e-6), change_frac, float(change[active].mean())


def pair_features(flow: _Flow, prev: _Flow | None) -> FloatArray:
    """Feature vector (PAIR_FEATURE_NAMES order) of one flow field and the one before it."""
    speed = flow.speed
    moving = speed > MOVING_SPEED
    moving_frac = float(moving.mean())
    moving_speed = float(speed[moving].mean()) if moving.any() else 0.0
    entropy, coherence = _orientation_stats(flow, moving)
    accel, accel_ratio, change_frac, change = _change_features(flow, prev)
    values = (
        float(speed.mean()),
        moving_frac,
        float((speed > FAST_SPEED).mean()),
        moving_speed,
        float(np.percentile(speed, 95)),
        entropy,
        coherence,
        accel,
        accel_ratio,
        change_frac,
        change,
        _concentration(speed),
        *_local_stats(flow, prev),
        *_curl_divergence(flow),
        _blob_count(flow),
    )
    return np.asarray(values, dtype=np.float32)


def cell_summary(flow: _Flow) -> FloatArray:
    """Per-cell means (CELL_CHANNELS order) of a flow field on a CELLS x CELLS grid."""
    h, w = flow.speed.shape
    ch, cw = h // CELLS, w // CELLS
    speed = flow.speed[: ch * CELLS, : cw * CELLS]
    vx = flow.vx[: ch * CELLS, : cw * CELLS]
    vy = flow.vy[: ch * CELLS, : cw * CELLS]
    moving = (speed > MOVING_SPEED).astype(np.float32)
    energy = speed * moving
    cell = np.arange(CELLS).repeat(ch)[:, None] * CELLS + np.arange(CELLS).repeat(cw)[None, :]
    angles = np.arctan2(vy, vx)
    bins = ((angles + np.pi) / (2 * np.pi) * CELL_ORIENT_BINS).astype(np.int32) % CELL_ORIENT_BINS
    index = (cell * CELL_ORIENT_BINS + bins).ravel()
    hist = np.bincount(index, weights=energy.ravel(), minlength=CELLS * CELLS * CELL_ORIENT_BINS)
    flat = cell.ravel()

    def pool(a: FloatArray) -> FloatArray:
        return np.bincount(flat, weights=a.ravel(), minlength=CELLS * CELLS).astype(np.float32)

    mvx, mvy = vx * moving, vy * moving
    channels = [pool(mvx), pool(mvy), pool(energy), pool(moving), pool(speed)]
    rows = (np.arange(ch) >= ch // 2).astype(np.int64)
    cols = (np.arange(cw) >= cw // 2).astype(np.int64)
    quarter = (np.tile(rows, CELLS)[:, None] * 2 + np.tile(cols, CELLS)[None, :]).ravel()
    sub = flat * 4 + quarter

    def pool_sub(a: FloatArray) -> FloatArray:
        summed = np.bincount(sub, weights=a.ravel(), minlength=CELLS * CELLS * 4)
        return summed.reshape(CELLS * CELLS, 4).astype(np.float32)

    out = np.concatenate(
        [
            np.stack(channels, axis=1),
            hist.reshape(CELLS * CELLS, CELL_ORIENT_BINS),
            pool_sub(mvx),
            pool_sub(mvy),
        ],
        axis=1,
    )
    return (out / float(ch * cw)).reshape(CELLS, CELLS, len(CELL_CHANNELS)).astype(np.float32)


class FlowFeatureExtractor:
    """Turns a stream of frames into per-pair motion feature vectors."""

    def __init__(self, width: int = 160) -> None:
        """Analyse frames downscaled to `width` pixels."""
        self.width = width
        self._grey: Frame | None = None
        self._t = 0.0
        self._flow: _Flow | None = None
        self.last_was_repeat = False

    def reset(self) -> None:
        """Forget the previous frame (after a gap or a scene change)."""
        self._grey = None
        self._flow = None

    def _next_flow(self, frame_bgr: Frame, t_seconds: float) -> tuple[_Flow, _Flow | None] | None:
        """Flow of the pair this frame closes and the previous flow; None for a first frame.

        A repeated frame is skipped (None, `last_was_repeat` set) so the next real change is
        measured over its true time step instead of looking like a sudden burst.
        """
        grey = prepare_grey(frame_bgr, self.width)
        prev, prev_t = self._grey, self._t
        dt = t_seconds - prev_t
        same_shape = prev is not None and prev.shape == grey.shape
        self.last_was_repeat = same_shape and 0.0 < dt <= _MAX_DT and prev is not None and is_repeat(prev, grey)
        if self.last_was_repeat:
            return None
        self._grey, self._t = grey, t_seconds
        if prev is None or not same_shape or not 0.0 < dt <= _MAX_DT:
            self._flow = None
            return None
        before = self._flow
        self._flow = compute_flow(prev, grey, dt)
        return self._flow, before

    @property
    def camera_motion(self) -> tuple[float, float] | None:
        """(camera speed, share of the flow it explains) of the last pair; None before there is one."""
        return None if self._flow is None else (self._flow.camera_speed, self._flow.camera_share)

    @property
    def last_flow(self) -> _Flow | None:
        """The flow field of the last pair (None after a first frame or a gap)."""
        return self._flow

    def push(self, frame_bgr: Frame, t_seconds: float) -> FloatArray | None:
        """Add a frame; return the whole-frame features of the pair it closes (None for the first)."""
        flows = self._next_flow(frame_bgr, t_seconds)
        return None if flows is None else pair_features(*flows)

    def push_cells(self, frame_bgr: Frame, t_seconds: float) -> FloatArray | None:
        """Add a frame; return the cell summary of the pair it closes (None for the first)."""
        flows = self._next_flow(frame_bgr, t_seconds)
        return None if flows is None else cell_summary(flows[0])


# Motion crop: the share of the busiest cell's window energy a cell needs to be part of the crop.
_ROI_ACTIVE_SHARE = 0.25
_ROI_EVERY_S = 1.0
_ROI_WINDOW_S = 1.0

Roi = tuple[float, float, float, float]


def motion_roi(cells: FloatArray, min_cells: int) -> Roi | None:
    """Box (x0, y0, x1, y1 in 0..1) around the busy cells of a window of cell summaries.

    `cells` is shaped (pairs, CELLS, CELLS, channels). The box is grown by one cell, is at least
    `min_cells` cells on each side and stays inside the frame; None when nothing moves.
    """
    energy = cells[..., CELL_CHANNELS.index("energy")].sum(axis=0)
    if float(energy.max()) <= 1e-9:
        return None
    rows, cols = np.nonzero(energy >= _ROI_ACTIVE_SHARE * float(energy.max()))
    y0, y1 = _span(int(rows.min()) - 1, int(rows.max()) + 2, min_cells)
    x0, x1 = _span(int(cols.min()) - 1, int(cols.max()) + 2, min_cells)
    return x0 / CELLS, y0 / CELLS, x1 / CELLS, y1 / CELLS


def _span(start: float, end: float, min_cells: int) -> tuple[float, float]:
    """Cell range [start, end) widened to min_cells around its middle and clipped to the grid."""
    if end - start < min_cells:
        middle = (start + end) / 2
        start, end = middle - min_cells / 2, middle + min_cells / 2
    start, end = max(0.0, start), min(float(CELLS), end)
    if end - start < min_cells:
        start, end = (0.0, float(min_cells)) if start == 0.0 else (CELLS - float(min_cells), float(CELLS))
    return start, end


def crop(frame_bgr: Frame, roi: Roi) -> Frame:
    """The part of a frame inside a normalised box."""
    h, w = frame_bgr.shape[:2]
    x0, y0, x1, y1 = roi
    return np.ascontiguousarray(frame_bgr[int(y0 * h) : int(y1 * h), int(x0 * w) : int(x1 * w)])


def _contains(outer: Roi, inner: Roi) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


class MotionCropExtractor:
    """Cell summaries of a crop around where the frame moves, at the extractor's full width.

    Small, distant people cover a few pixels at the analysis width; re-measuring the busy part of
    the frame at that width magnifies them. Every second the crop is re-chosen from the last
    second of whole-frame cells; it is kept while the busy cells stay inside it. A new crop is
    primed with the previous frame so no flow pair is lost; `roi_changed` tells the caller that
    cell coordinates changed (its window must restart).
    """

    def __init__(self, width: int = 160, min_cells: int = 3) -> None:
        """Analyse the frame and the crop at `width` px; the crop spans >= min_cells of 8."""
        self.min_cells = min_cells
        self._frame = FlowFeatureExtractor(width)
        self._crop = FlowFeatureExtractor(width)
        self._recent: list[tuple[float, FloatArray]] = []
        self._roi: Roi | None = None
        self._next_roi = float("-inf")
        self._previous: tuple[float, Frame] | None = None
        self.last_was_repeat = False
        self.roi_changed = False

    @property
    def roi(self) -> Roi | None:
        """The current crop box (normalised), None before anything moved."""
        return self._roi

    @property
    def camera_motion(self) -> tuple[float, float] | None:
        """Camera motion measured on the whole frame (see FlowFeatureExtractor.camera_motion)."""
        return self._frame.camera_motion

    def reset(self) -> None:
        """Forget all history (after a gap or a scene change)."""
        self._frame.reset()
        self._crop.reset()
        self._recent.clear()
        self._roi = None
        self._next_roi = float("-inf")
        self._previous = None

    def push_cells(self, frame_bgr: Frame, t_seconds: float) -> FloatArray | None:
        """Add a frame; return the crop's cell summary of the pair it closes (None when none)."""
        cells = self._frame.push_cells(frame_bgr, t_seconds)
        self.roi_changed = False
        if cells is not None:
            self._recent = [(t, c) for t, c in self._recent if t > t_seconds - _ROI_WINDOW_S]
            self._recent.append((t_seconds, cells))
        elif not self._frame.last_was_repeat:
            self._recent.clear()
        if t_seconds >= self._next_roi and self._recent:
            self._choose_roi()
            self._next_roi = t_seconds + _ROI_EVERY_S
        if not self._frame.last_was_repeat:
            self._previous = (t_seconds, frame_bgr)
        if self._roi is None:
            self.last_was_repeat = self._frame.last_was_repeat
            return None
        out = self._crop.push_cells(crop(frame_bgr, self._roi), t_seconds)
        self.last_was_repeat = self._crop.last_was_repeat
        return out

    def _choose_roi(self) -> None:
        """Re-choose the crop; keep it while the busy part stays inside; prime a new one."""
        roi = motion_roi(np.stack([c for _, c in self._recent]), self.min_cells)
        if roi is None or (self._roi is not None and _contains(self._roi, roi)):
            return
        self._roi, self.roi_changed = roi, True
        self._crop.reset()
        if self._previous is not None:
            t_prev, frame_prev = self._previous
            self._crop.push_cells(crop(frame_prev, roi), t_prev)
