"""Decode cost per camera on the real clips: CPU ms/frame and % of one core.

Run: ``.venv/bin/python bench/capture_cost.py [--frames 120]``. Compares, per clip:
  default   cv2 default decoder threads, read() every frame
  threads1  one decoder thread (the FrameGrabber default), read() every frame
  hw-none   CAP_PROP_HW_ACCELERATION=VIDEO_ACCELERATION_NONE, one thread
  grab5fps  one thread, grab() every frame, retrieve() (BGR conversion) only at 5 fps
CPU is process time (all FFmpeg threads), so run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools.sampledata import sample_path

CLIPS = [
    ("faces", "face_recognition", "examples", "short_hamilton_clip.mp4"),
    ("video", "intel_people", "one-by-one-person-detection.mp4"),
    ("video", "mot_crowds", "MOT20-05-raw_even_shorter.mp4"),
    ("video", "mot_crowds", "MOT20-08-raw_shorter.h264"),
    ("video", "mot_crowds", "MOT17-13-SDP-raw.h265"),
    ("faces", "facenet_pytorch", "examples", "video.mp4"),
]
ANALYSIS_FPS = 5.0


@dataclass(frozen=True)
class Result:
    """CPU and wall time of one variant on one clip."""

    frames: int
    cpu_ms: float
    wall_ms: float


def measure(path: Path, params: list[int], frames: int, keep_every: int) -> Result:
    """Decode ``frames`` frames (grab all, retrieve every ``keep_every``-th); per-frame cost."""
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, params)
    if not cap.isOpened():
        raise SystemExit(f"cannot open {path}")
    cap.grab()  # exclude open/probe cost
    cpu0, wall0, count = time.process_time(), time.perf_counter(), 0
    while count < frames and cap.grab():
        if count % keep_every == 0:
            cap.retrieve()
        count += 1
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    cap.release()
    return Result(count, cpu * 1000 / max(1, count), wall * 1000 / max(1, count))


def native_fps(path: Path) -> tuple[float, int, int]:
    """Return (fps, width, height) of a clip."""
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    fps = cap.get(cv2.CAP_PROP_FPS)
    size = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    cap.release()
    return (fps if 1 <= fps <= 240 else 25.0), size[0], size[1]


def variants(fps: float) -> dict[str, Callable[[Path, int], Result]]:
    """The decode strategies compared."""
    one = [cv2.CAP_PROP_N_THREADS, 1]
    hw_none = [cv2.CAP_PROP_HW_ACCELERATION, cv2.VIDEO_ACCELERATION_NONE, *one]
    every = max(1, round(fps / ANALYSIS_FPS))
    return {
        "default": lambda p, n: measure(p, [], n, 1),
        "threads1": lambda p, n: measure(p, one, n, 1),
        "hw-none": lambda p, n: measure(p, hw_none, n, 1),
        "grab5fps": lambda p, n: measure(p, one, n, every),
    }


def main() -> None:
    """Print a table of costs and the ratios that drive the capture defaults."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=120)
    args = parser.parse_args()
    print(f"opencv {cv2.__version__}; CPU = process time incl. FFmpeg threads; % of one core")
    header = f"{'clip':34} {'size':>9} {'fps':>5} {'variant':>9} {'cpu ms/f':>8} {'wall ms/f':>9}"
    print(header + f" {'%core@native':>12} {'%core@5fps*':>11}")
    for parts in CLIPS:
        path = sample_path(*parts)
        if path is None:
            print(f"{parts[-1]:34} missing (set CC_SAMPLE_DATA)")
            continue
        report_clip(path, args.frames)
    print("* %core@5fps: a live camera must decode every frame (inter-frame coding), so")
    print("  cost = decode at native fps; grab5fps saves only the BGR conversion of unused frames.")


def report_clip(path: Path, frames: int) -> None:
    """Measure and print every variant for one clip, then the ratios."""
    fps, width, height = native_fps(path)
    results = {name: run(path, frames) for name, run in variants(fps).items()}
    for name, result in results.items():
        core_native = result.cpu_ms * fps / 10.0
        print(
            f"{path.name[:34]:34} {width:>4}x{height:<4} {fps:5.1f} {name:>9} "
            f"{result.cpu_ms:8.2f} {result.wall_ms:9.2f} {core_native:11.1f}% {core_native:10.1f}%"
        )
    base = results["default"].cpu_ms
    print(
        f"{'':34} ratios vs default: threads1 {results['threads1'].cpu_ms / base:.2f}, "
        f"hw-none {results['hw-none'].cpu_ms / base:.2f}, "
        f"grab5fps {results['grab5fps'].cpu_ms / base:.2f}"
    )


if __name__ == "__main__":
    main()
