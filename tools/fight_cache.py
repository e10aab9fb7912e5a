"""Per-frame flow cells and MoveNet people of every clip the fight model trains and is measured on, cached once.

Extraction is the slow part of training (optical flow and one pose inference per analysed frame); scoring
from the cache takes seconds, so the training recipe, the benchmark and experiments all replay cached
frames through the same scoring code the live `FightScorer` runs (`vision.incidents.fight.FrameInput`).

For every analysed frame (the clip read at 10 fps like `FightScorer`) the cache keeps: the time; the flow
step's outcome (a new pair with its 8x8 cell summary, a repeated frame, or no pair); the camera-motion fit
of the pair; and the people MoveNet MultiPose finds at `POSE_INPUT` px with a person score of at least
`POSE_MIN_SCORE` (replays may drop weaker ones). Files go to ``var/fight-cache/`` (never committed), keyed by
the clip's path, size and modification time and the extraction settings, so a changed clip or setting is
re-extracted and nothing else is.

Run: .venv/bin/python -m tools.fight_cache [--only SUBSTRING]   (single-threaded; ~10 min for all footage)
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tools.sampledata import REPO_ROOT, sample_path
from vision.incidents.fight import FEATURE_NAMES, FightModel, FightScorer, FlowStep, StepResult
from vision.incidents.video import iter_frames
from vision.people.movenet import Person, PoseDetector, PoseSettings
from vision.people.tracker import PersonTrack, PersonTracker

logger = logging.getLogger(__name__)

CACHE_DIR = REPO_ROOT / "var" / "fight-cache"
ANALYSIS_FPS = 10.0
FLOW_WIDTH = 200
POSE_INPUT = 384
POSE_MIN_SCORE = 0.1
MAX_PEOPLE = 6
VERSION = 2  # 2: the fine flow grid (version 1 files lend their people, so MoveNet does not run again)

# status of an analysed frame's flow step
PAIR, REPEAT, NO_PAIR = 0, 1, 2

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
# Ordinary footage with no fight in it (the false-alert bench), as sample-data parts.
NORMAL_FOOTAGE: tuple[tuple[str, ...], ...] = (
    ("video", "intel_people", "one-by-one-person-detection.mp4"),
    ("video", "mot_crowds", "MOT20-05-raw_even_shorter.mp4"),
    ("video", "mot_crowds", "MOT20-08-raw_shorter.h264"),
    ("video", "mot_crowds", "MOT17-13-SDP-raw.h265"),
    ("video", "street_night", "demo.mp4"),
    ("faces", "face_recognition", "examples", "short_hamilton_clip.mp4"),
    ("faces", "facenet_pytorch", "examples", "video.mp4"),
    ("fights", "violence_clips", "non_violence_1.mp4"),
)
VIOLENCE_CLIPS: tuple[tuple[str, ...], ...] = tuple(
    ("fights", "violence_clips", f"{name}.mp4")
    for name in ("violence_1", "violence_2", "violence_3", "violence_4", "violence_5", "boxer")
)

IntArray = npt.NDArray[np.int8]
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class CachedClip:
    """Everything the scorer needs from a clip's frames, frame by frame (see the module docstring)."""

    path: str
    t: F64  # [n] seconds
    status: IntArray  # [n] PAIR / REPEAT / NO_PAIR
    cells: F32  # [n, 8, 8, channels] (zeros where status != PAIR)
    camera: F32  # [n, 2] camera-motion (speed, share); NaN where no pair
    fine: npt.NDArray[np.float16]  # [n, rows, cols, 3] fine flow grid (zeros where status != PAIR)
    people: F32  # [n, MAX_PEOPLE, 56]: box x, y, w, h, score, 17 x (x, y, score); NaN rows = nobody
    frame_hw: tuple[int, int]


def cache_key(path: Path, version: int = VERSION) -> str:
    """Hash of the clip's identity (path, size, mtime) and the extraction settings."""
    stat = path.stat()
    ident = f"{path.resolve()}|{stat.st_size}|{int(stat.st_mtime)}|{version}|{ANALYSIS_FPS}|{FLOW_WIDTH}|"
    ident += f"{POSE_INPUT}|{POSE_MIN_SCORE}"
    return hashlib.sha256(ident.encode()).hexdigest()[:20]


def extract(path: Path, known_people: F32 | None = None) -> CachedClip:
    """Run the flow step and MoveNet (unless the people are known) over every analysed frame of a clip."""
    detector = None
    if known_people is None:
        detector = PoseDetector(PoseSettings(input_size=POSE_INPUT, min_score=POSE_MIN_SCORE, threads=1))
    step = FlowStep(FLOW_WIDTH)
    times: list[float] = []
    status: list[int] = []
    cells: list[F32 | None] = []
    fine: list[npt.NDArray[np.float16] | None] = []
    camera: list[tuple[float, float]] = []
    people: list[F32] = []
    hw = (0, 0)
    for i, (t, frame) in enumerate(iter_frames(path, ANALYSIS_FPS)):
        hw = (int(frame.shape[0]), int(frame.shape[1]))
        if detector is not None:
            people.append(_people_rows(detector.detect(frame)))
        elif known_people is None or i >= len(known_people):
            raise ValueError(f"{path}: the cached people cover fewer frames than the clip has")
        result = step.push(frame, t)
        times.append(t)
        status.append(result.status)
        cells.append(result.cells)
        fine.append(result.fine)
        camera.append(result.camera if result.camera is not None else (np.nan, np.nan))
    if known_people is not None:
        people = list(known_people[: len(times)])
    return CachedClip(
        str(path),
        np.asarray(times, np.float64),
        np.asarray(status, np.int8),
        _dense(cells, (8, 8, 21), np.float32),
        np.asarray(camera, np.float32),
        _dense(fine, (1, 1, 3), np.float16),
        np.stack(people) if people else np.zeros((0, MAX_PEOPLE, 56), np.float32),
        hw,
    )


def _dense(items: Sequence[npt.NDArray[Any] | None], fallback: tuple[int, ...], dtype: Any) -> npt.NDArray[Any]:
    """Stack per-frame arrays, zeros where a frame has none."""
    shape = next((item.shape for item in items if item is not None), fallback)
    zeros = np.zeros(shape, dtype)
    return np.stack([item if item is not None else zeros for item in items]).astype(dtype) if items else zeros[None][:0]


def _people_rows(found: Sequence[object]) -> F32:
    rows = np.full((MAX_PEOPLE, 56), np.nan, dtype=np.float32)
    for i, person in enumerate(found[:MAX_PEOPLE]):
        rows[i, :4] = person.box  # type: ignore[attr-defined]
        rows[i, 4] = person.score  # type: ignore[attr-defined]
        rows[i, 5:] = person.keypoints.reshape(-1)  # type: ignore[attr-defined]
    return rows


def load(path: Path, *, build: bool = True) -> CachedClip:
    """The cached frames of a clip, extracting (and storing) them first when absent or stale."""
    target = CACHE_DIR / f"{cache_key(path)}.npz"
    if target.exists():
        with np.load(target) as data:
            return CachedClip(
                str(path),
                data["t"],
                data["status"],
                data["cells"],
                data["camera"],
                data["fine"],
                data["people"],
                (int(data["hw"][0]), int(data["hw"][1])),
            )
    if not build:
        raise FileNotFoundError(f"no cached frames for {path}: run python -m tools.fight_cache")
    start = time.perf_counter()
    known = None
    for version in range(VERSION - 1, 0, -1):
        earlier = CACHE_DIR / f"{cache_key(path, version)}.npz"
        if earlier.exists():
            with np.load(earlier) as data:
                known = np.asarray(data["people"], dtype=np.float32)
            break
    clip = extract(path, known)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial.npz")
    np.savez_compressed(
        partial,
        t=clip.t,
        status=clip.status,
        cells=clip.cells.astype(np.float32),
        camera=clip.camera,
        fine=clip.fine,
        people=clip.people,
        hw=np.asarray(clip.frame_hw),
    )
    os.replace(partial, target)
    logger.info("cached %s: %d frames in %.1f s", path.name, len(clip.t), time.perf_counter() - start)
    return clip


def labelled_root() -> Path | None:
    """fights/surveillance (labels.csv and the 76 clips), or None when the sample data is absent."""
    return sample_path("fights", "surveillance")


def all_footage() -> list[Path]:
    """Every clip the training and the bench read: labelled clips, normal footage, violence clips, vtest.avi."""
    paths: list[Path] = []
    root = labelled_root()
    if root is not None:
        with (root / "labels.csv").open(newline="") as handle:
            paths += [root / row["file"] for row in csv.DictReader(handle)]
    for parts in (*NORMAL_FOOTAGE, *VIOLENCE_CLIPS):
        found = sample_path(*parts)
        if found is not None:
            paths.append(found)
    if VTEST.exists():
        paths.append(VTEST)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    """Cache every clip (or those whose path contains --only)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="only clips whose path contains this")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    paths = [p for p in all_footage() if args.only in str(p)]
    if not paths:
        logger.error("no footage found (set CC_SAMPLE_DATA; vtest.avi comes with the Debian package opencv-doc)")
        return 2
    for path in paths:
        load(path)
    logger.info("%d clips cached under %s", len(paths), CACHE_DIR)
    return 0


# --- replaying cached frames through the live scorer --------------------------------------------------


def people_at(clip: CachedClip, index: int, min_score: float) -> list[Person]:
    """The cached people of one analysed frame scoring at least `min_score`, best first."""
    return _people_of(clip.people[index], min_score)


def _people_of(rows: F32, min_score: float) -> list[Person]:
    found = []
    for row in rows:
        if np.isnan(row[0]) or row[4] < min_score:
            continue
        box = (float(row[0]), float(row[1]), float(row[2]), float(row[3]))
        found.append(Person(box=box, score=float(row[4]), keypoints=row[5:].reshape(17, 3).astype(np.float32)))
    return found


@dataclass(frozen=True)
class Replay:
    """A cached clip scored by a model: per analysed frame the score, the feature values and the gate."""

    t: F64
    scores: F64
    values: F32  # [n, len(FEATURE_NAMES)], NaN where the scorer had no full window
    has_pair: npt.NDArray[np.bool_]
    camera_moving: npt.NDArray[np.bool_]


def replay(
    clip: CachedClip, model: FightModel, *, people_fps: float | None = None, min_score: float | None = None
) -> Replay:
    """Score a cached clip exactly as a live FightScorer fed by a person stage at `people_fps` would.

    The person stage is MoveNet (at the cache's input size) and a PersonTracker, run on the analysed
    frames at `people_fps` (the model's by default); its tracks are handed to every later frame, as the
    live pipeline does.
    """
    fps = people_fps if people_fps is not None else model.people_fps
    threshold = min_score if min_score is not None else (model.people_min_score or POSE_MIN_SCORE)
    scorer = FightScorer(model)
    tracker = PersonTracker()
    tracks: list[PersonTrack] = []
    next_people = float("-inf")
    n = len(clip.t)
    scores = np.zeros(n)
    values = np.full((n, len(FEATURE_NAMES)), np.nan, dtype=np.float32)
    gate = np.zeros(n, dtype=bool)
    moving = np.zeros(n, dtype=bool)
    for i in range(n):
        t = float(clip.t[i])
        if fps > 0 and t + 1e-6 >= next_people:
            tracks = tracker.update(people_at(clip, i, threshold), t)
            next_people = t + 1.0 / fps
        camera = None if np.isnan(clip.camera[i, 0]) else (float(clip.camera[i, 0]), float(clip.camera[i, 1]))
        pair = clip.status[i] == PAIR
        step = StepResult(int(clip.status[i]), clip.cells[i] if pair else None, camera, clip.fine[i] if pair else None)
        scores[i] = scorer.score_step(t, step, tracks, clip.frame_hw)
        if scorer.last_values is not None:
            values[i] = scorer.last_values
        gate[i], moving[i] = scorer.has_pair, scorer.camera_moving
    return Replay(clip.t, scores, values, gate, moving)


if __name__ == "__main__":
    sys.exit(main())
