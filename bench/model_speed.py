"""Cost of the committed ONNX models (models/manifest.json) on this machine.

Run: ``.venv/bin/python bench/model_speed.py [--rounds 20]``. For each model: file size,
session creation (sha256 check included, median of 5) and ms per call on real photos at 1
and 2 intra-op threads, calls interleaved round-robin so machine load hits every case
alike. Baselines from the same run: MoveNet MultiPose at its trained 256x256 (384x384 and
256x448 are printed as ratios to it) and, for MobileFaceNet, the current face embedder's
network (dlib ResNet as ONNX, ``Dlib-onnx``) on one face.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2
import numpy as np
from _common import require_sample

from tools.measure import Timer
from tools.measure import text_table as table
from vision import models


def _rgb(path: Path, size: tuple[int, int]) -> np.ndarray:
    height, width = size
    bgr = cv2.imread(str(path))
    return cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), (width, height), interpolation=cv2.INTER_LINEAR)


def load_ms(name: str) -> float:
    """Median session creation time, the sha256 check included (cache cleared each time)."""
    timer = Timer()
    for _ in range(5):
        models._verified.clear()
        with timer.measure():
            models.onnx_session(name)
    return timer.ms()


def _runner(name: str, feed: dict[str, np.ndarray]) -> Callable[[int], Callable[[], object]]:
    """Factory: thread count -> a call running ``name`` on ``feed`` in its own checked session."""

    def build(threads: int) -> Callable[[], object]:
        session = models.onnx_session(name, threads=threads)
        return lambda: session.run(None, feed)

    return build


def _dlib_onnx(face: Path) -> Callable[[int], Callable[[], object]]:
    """Factory for the current embedder's network (dlib ResNet as ONNX) on one 150x150 chip."""
    from vision.faces.dlib_onnx import chip_tensor
    from vision.faces.embedders import _onnx_session

    def build(threads: int) -> Callable[[], object]:
        session, mean = _onnx_session(threads)
        tensor = chip_tensor([_rgb(face, (150, 150))], mean)
        return lambda: session.run(None, {"chip": tensor})

    return build


def cases(photo: Path, face: Path) -> dict[str, Callable[[int], Callable[[], object]]]:
    """Label -> factory of a zero-argument call for a given thread count."""
    chip = (_rgb(face, (112, 112)).astype(np.float32) - 127.5) / 128.0
    return {
        **{
            f"movenet {h}x{w}": _runner("movenet-multipose", {"input": _rgb(photo, (h, w)).astype(np.int32)[None]})
            for h, w in ((256, 256), (384, 384), (256, 448))
        },
        "mobilefacenet 1 face": _runner("mobilefacenet", {"input": chip[None]}),
        "mobilefacenet 8 faces": _runner("mobilefacenet", {"input": np.repeat(chip[None], 8, axis=0)}),
        "Dlib-onnx 1 face (current)": _dlib_onnx(face),
    }


def main() -> None:
    """Print size, load time and per-call cost with ratios to the same-run baselines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    photo = require_sample("faces", "dlib_detection", "2008_001322.jpg")
    face = require_sample("faces", "deepface", "img1.jpg")
    os.environ.setdefault("DEEPFACE_HOME", tempfile.mkdtemp(prefix="bench-models-"))
    from vision.faces.provision import provision_weights

    provision_weights(Path(os.environ["DEEPFACE_HOME"]))

    info = models.manifest()
    print(
        table(
            [[n, f"{i.size / 1e6:.1f} MB", f"{load_ms(n):.0f} ms"] for n, i in info.items()],
            ["model", "file", "session load (+sha256)"],
        )
    )
    calls = {(label, threads): build(threads) for label, build in cases(photo, face).items() for threads in (1, 2)}
    timers = {key: Timer() for key in calls}
    for call in calls.values():
        call()  # warm-up
    for _ in range(args.rounds):
        for key, call in calls.items():
            with timers[key].measure():
                call()
    base_pose = timers[("movenet 256x256", 1)].ms()
    base_face = timers[("Dlib-onnx 1 face (current)", 1)].ms()
    rows = []
    for (label, threads), timer in timers.items():
        baseline = base_face if label.startswith(("mobilefacenet", "Dlib")) else base_pose
        rows.append(
            [label, str(threads), f"{timer.ms():.1f}", f"{timer.ms(0.95):.1f}", f"{timer.ms() / baseline:.2f}x"]
        )
    print(table(rows, ["case", "threads", "p50 ms", "p95 ms", "vs baseline (1 thread)"]))
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; rounds {args.rounds}")


if __name__ == "__main__":
    main()
