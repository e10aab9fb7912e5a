"""Stream worker throughput on real clips: stage costs, cameras per machine, alert latency.

1. Per-stage cost per analysed frame (1 core, unpaced) at 640x360 and 1280x720, and the
   baseline of calling ``DeepFace.represent`` once per frame versus our hot path.
2. Capacity: N camera loops as separate processes (as Celery prefork children run them),
   each a real-time file capture + the pipeline at 5 (and 2) analysed fps, with the person stage
   (shipped) and without it (the previous pipeline) at 4 and 8 cameras; a load is sustained when
   every camera reaches >= 90% of its target fps and lag does not grow. Other programs share the
   cores, so each camera's cost is also printed as CPU time (process time per second).
3. Decode cost: % of one core per camera for capture alone (session capture settings).
4. Frame-to-committed-alert latency of a real session (PostgreSQL + Redis), in a transaction
   that is rolled back at the end so the benchmark leaves no rows behind.
5. CPU budget per camera, unpaced and in CPU time (load from other programs does not change it):
   one camera's loop as a session runs it (people at CC_PERSON_FPS, faces at 5 fps, fight at its
   10 fps, counting at 1 Hz) over the same footage, with and without the person stage; the person
   stage's ms per call, calls per second and share of a core; how many cameras fit in 70% of the
   machine's cores (decode included) and the ratio against the previous pipeline.

Usage: ``python bench/stream_throughput.py [--seconds 15] [--max-cameras 8] [--skip-latency]``
(env BENCH_DETECTOR=dlib-hog|dlib-hog-fast|mtcnn, BENCH_EMBEDDER=Dlib-onnx|Dlib, BENCH_FPS=5,2; the
detector and embedder default to what live cameras run: CC_STREAM_FACE_DETECTOR, CC_FACE_MODEL;
BENCH_INCIDENTS=0 leaves out the fight scorer and people counter that cameras run by default;
BENCH_PERSON_FPS overrides CC_PERSON_FPS, default 2)
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bench_subject, require_sample, table

# What live cameras run by default (settings CC_STREAM_FACE_DETECTOR and CC_FACE_MODEL), unless overridden.
DETECTOR = os.environ.get("BENCH_DETECTOR") or os.environ.get("CC_STREAM_FACE_DETECTOR", "dlib-hog-fast")
EMBEDDER = os.environ.get("BENCH_EMBEDDER") or os.environ.get("CC_FACE_MODEL", "Dlib-onnx")

os.environ.setdefault("DEEPFACE_HOME", str(Path(__file__).resolve().parent.parent / "var" / "deepface"))
EXAMPLES = ("faces", "face_recognition", "examples")
HAMILTON = (*EXAMPLES, "short_hamilton_clip.mp4")


@dataclass(frozen=True)
class Cand:
    """A watchlist candidate as the pipeline sees it (pure, no database)."""

    subject_id: int
    template_id: int
    similarity: float
    threshold: float
    passes: bool
    display_name: str
    watchlist_name: str = "bench"


def gallery_matcher() -> Any:
    """A matcher over Lin-Manuel Miranda and Alex Lacamoire enrolled from their photos."""
    from vision.faces.detectors import build_detector
    from vision.faces.embedders import build_embedder
    from vision.faces.enrol import prepare_enrolment

    detector, embedder = build_detector("dlib-hog"), build_embedder(EMBEDDER)
    photos = ["lin-manuel-miranda.png", "alex-lacamoire.png"]
    enrolled = [
        prepare_enrolment(require_sample(*EXAMPLES, p).read_bytes(), detector=detector, embedders=[embedder])
        for p in photos
    ]
    gallery = np.stack([face.embeddings[embedder.model_name] for face in enrolled])

    def match(vectors: np.ndarray) -> list[list[Cand]]:
        sims = vectors @ gallery.T
        return [[Cand(i, i, float(r[i]), 0.93, float(r[i]) >= 0.93, photos[i]) for i in np.argsort(-r)] for r in sims]

    return match


def frames_of(path: Path, count: int, size: tuple[int, int] | None) -> tuple[list[np.ndarray], float]:
    """Decode ``count`` frames (resized to ``size``); return them and decode ms per frame."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    frames: list[np.ndarray] = []
    started = time.perf_counter()
    while len(frames) < count:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    decode_ms = (time.perf_counter() - started) * 1000 / max(1, len(frames))
    cap.release()
    if size is not None:
        frames = [cv2.resize(f, size, interpolation=cv2.INTER_LINEAR) for f in frames]
    return frames, decode_ms


def face_stage(matcher: Any, fps: float = 5.0) -> Any:
    from vision.faces.detectors import build_detector
    from vision.faces.embedders import build_embedder
    from vision.motion import MotionSettings
    from workers.pipeline import FaceStage, StageTimer

    return FaceStage(
        build_detector(DETECTOR),
        build_embedder(EMBEDDER),
        matcher,
        timer=StageTimer(),
        detect_max_side=960,
        analysis_fps=fps,
        motion=MotionSettings(keepalive_s=0.0),
    )


INCIDENTS = os.environ.get("BENCH_INCIDENTS", "1") != "0"
"""Cameras run fight scoring (10 fps) and people counting (1 Hz, one whole-frame zone) by default, as shipped."""
PERSON_FPS = float(os.environ.get("BENCH_PERSON_FPS") or os.environ.get("CC_PERSON_FPS") or 2.0)
"""The person stage's calls per second (CC_PERSON_FPS, shipped 2)."""


def person_stage() -> Any:
    """The person stage a live camera runs (MoveNet 384 px behind its motion gate, tracked)."""
    from vision.people.stage import PersonStage, PersonStageSettings

    return PersonStage(PersonStageSettings(fps=PERSON_FPS))


def incident_stage(capacity: int = 500) -> Any:
    """The incident stage a default camera runs: fight/aggression scoring and crowd counting in one zone.

    The Hamilton clip shows 2-5 people: a zone for 500 is far from its limit (counted every 3rd second when
    people are tracked), a zone for 2 is at it (counted every second, as a busy scene is).
    """
    from workers.pipeline import IncidentStage, StageTimer, ZoneSpec

    zone = ZoneSpec("bench", "whole frame", ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)), capacity, None)
    return IncidentStage(timer=StageTimer(), crowd=True, fight=True, zones=[zone])


def incident_costs() -> None:
    """ms per call of the fight scorer (10 fps) and the people counter (1 Hz), and their share of a core."""
    from vision.incidents.fight import FightScorer
    from vision.incidents.people import default_person_detector

    frames, _ = frames_of(require_sample(*HAMILTON), 60, None)
    scorer, people = FightScorer(), default_person_detector()
    started = time.process_time()
    for i, image in enumerate(frames):
        scorer.update(image, i / scorer.model.analysis_fps)
    fight_ms = (time.process_time() - started) * 1000 / len(frames)
    started = time.process_time()
    for image in frames[:20]:
        people.detect(image)
    people_ms = (time.process_time() - started) * 1000 / 20
    share = fight_ms * scorer.model.analysis_fps / 10 + people_ms / 10
    print(
        f"incident detectors on 640x360: fight scorer {fight_ms:.1f} ms/frame at {scorer.model.analysis_fps:.0f} fps, "
        f"people counter {people_ms:.1f} ms/call at 1 Hz -> {share:.1f}% of a core per camera"
    )
    person_costs(frames)
    for view in ("wide", "distant"):  # camera counting views beyond the default "near"
        counter = default_person_detector(view)
        counter.detect(frames[0])  # load the net for this input size
        started = time.process_time()
        for image in frames[:10]:
            counter.detect(image)
        view_ms = (time.process_time() - started) * 1000 / 10
        print(f"  counting view {view!r}: people counter {view_ms:.1f} ms/call, {view_ms / 10:.1f}% of a core at 1 Hz")


def person_costs(frames: list[np.ndarray]) -> None:
    """MoveNet's CPU ms per call at 256 and 384 px (the person stage's input), with people found per call."""
    from vision.people.movenet import PoseDetector, PoseSettings

    found = {}
    for size in (256, 384):
        detector = PoseDetector(PoseSettings(input_size=size))
        detector.detect(frames[0])
        started = time.process_time()
        people = [len(detector.detect(image)) for image in frames[:30]]
        found[size] = ((time.process_time() - started) * 1000 / 30, float(np.mean(people)))
    (ms256, n256), (ms384, n384) = found[256], found[384]
    print(
        f"person stage (MoveNet MultiPose, CPU time): 384 px {ms384:.1f} ms/call, {n384:.1f} people per frame; "
        f"256 px {ms256:.1f} ms/call, {n256:.1f} people ({ms384 / ms256:.2f}x the cost, "
        f"{n384 / max(n256, 1e-9):.2f}x the people)"
    )


def stage_costs(matcher: Any) -> None:
    """Per-stage ms per analysed frame, every frame analysed (worst case: motion everywhere)."""
    clip = require_sample(*HAMILTON)
    print("\n== 1. stage cost per analysed frame (1 core, every frame through detection)")
    print(
        f"{'input':>22} {'decode':>7} {'motion':>7} {'detect':>7} {'embed':>7} {'match':>6} "
        f"{'total':>7} {'fps/core':>8}"
    )
    for label, size in (("640x360 (native)", None), ("1280x720 (upscaled)", (1280, 720))):
        frames, decode_ms = frames_of(clip, 60, size)
        stage = face_stage(matcher)
        for i, image in enumerate(frames):
            stage.process(image, i / 5.0, time.time(), i)
        timer = stage.timer
        per = {k: timer.total_s.get(k, 0.0) * 1000 / len(frames) for k in ("motion", "detect", "embed", "match")}
        if size is not None:
            decode_ms = 0.0  # no 720p H.264 sample here; capture cost is measured in section 3
        total = decode_ms + sum(per.values())
        print(
            f"{label:>22} {decode_ms or float('nan'):7.1f} {per['motion']:7.1f} "
            f"{per['detect']:7.1f} {per['embed']:7.1f} {per['match']:6.2f} {total:7.1f} {1000 / total:8.1f}"
        )
    incident_costs()
    baseline(matcher)


def baseline(matcher: Any) -> None:
    """DeepFace.represent once per frame (its own detection + alignment) vs our hot path."""
    clip = require_sample(*HAMILTON)
    frames, _ = frames_of(clip, 20, None)
    try:
        from deepface import DeepFace

        DeepFace.represent(frames[0], model_name="Dlib", detector_backend="opencv", enforce_detection=False)
    except Exception as exc:  # weights missing offline, etc.
        print(f"baseline skipped: DeepFace.represent unavailable ({exc})")
        return
    started = time.perf_counter()
    for image in frames:
        DeepFace.represent(image, model_name="Dlib", detector_backend="opencv", enforce_detection=False)
    deepface_ms = (time.perf_counter() - started) * 1000 / len(frames)
    stage = face_stage(matcher)
    started = time.perf_counter()
    for i, image in enumerate(frames):
        stage.process(image, i / 5.0, time.time(), i)
    ours_ms = (time.perf_counter() - started) * 1000 / len(frames)
    print(
        f"baseline DeepFace.represent(Dlib, opencv) per frame: {deepface_ms:.1f} ms; our hot path "
        f"(motion+HOG+track+bounded embed+match): {ours_ms:.1f} ms -> {deepface_ms / ours_ms:.1f}x faster"
    )


MATCHER: Any = None
"""Set before the process pool forks (closures do not pickle)."""


def camera_loop(args: tuple[str, float, float, bool]) -> dict[str, float]:
    """One camera as a session runs it: real-time capture, people (optional), incidents and faces at ``fps``."""
    path, fps, seconds, with_people = args
    from workers.capture import CaptureSettings, FrameGrabber
    from workers.pipeline import people_now

    stage = face_stage(MATCHER, fps)
    incidents = incident_stage() if INCIDENTS else None
    people = person_stage() if with_people else None
    loop_fps = max(fps, 5.0, incidents.fight_fps if incidents is not None else 0.0, PERSON_FPS if people else 0.0)
    grabber = FrameGrabber(f"file://{path}", CaptureSettings(loop=True, max_fps=loop_fps + 1.0))
    grabber.start()
    lags: list[tuple[float, float]] = []
    started = time.monotonic()
    cpu0 = time.process_time()
    next_due, next_face, seq = time.monotonic(), 0.0, 0
    while time.monotonic() - started < seconds:
        delay = next_due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        frame = grabber.latest(seq, timeout=1.0)
        if frame is None:
            continue
        seq = frame.seq
        next_due = max(next_due + 1.0 / loop_fps, time.monotonic() - 1.0 / loop_fps)
        tracks = people_now(people, frame.image, frame.monotonic, None)
        if incidents is not None:
            incidents.process(frame.image, frame.monotonic, people=tracks)
        if frame.monotonic + 1e-3 < next_face:
            continue
        next_face = max(next_face + 1.0 / fps, frame.monotonic + 0.5 / fps)
        stage.process(frame.image, frame.monotonic, frame.captured_at, frame.seq)
        lags.append((time.monotonic() - started, time.time() - frame.captured_at))
    cpu = time.process_time() - cpu0
    grabber.stop()
    half = seconds / 2
    first = [lag for t, lag in lags if t < half] or [0.0]
    second = [lag for t, lag in lags if t >= half] or [0.0]
    return {
        "fps": len(lags) / seconds,
        "lag_p95": float(np.percentile([lag for _, lag in lags] or [0], 95)),
        "lag_growth": statistics.mean(second) - statistics.mean(first),
        "cpu": cpu / seconds,
    }


def decode_only(args: tuple[str, float]) -> float:
    """Share of a core used by capture alone (real-time file, session capture settings)."""
    from workers.capture import CaptureSettings, FrameGrabber

    path, seconds = args
    grabber = FrameGrabber(f"file://{path}", CaptureSettings(loop=True, max_fps=6.0))
    cpu0 = time.process_time()
    grabber.start()
    time.sleep(seconds)
    grabber.stop()
    return (time.process_time() - cpu0) / seconds


def capture_cost(seconds: float) -> float:
    """Capture's share of a core per camera (section 3), which the CPU budget adds to each camera."""
    clip = str(require_sample(*HAMILTON))
    with mp.get_context("fork").Pool(1) as pool:
        decode: float = pool.map(decode_only, [(clip, min(seconds, 10.0))])[0]
    print(f"\n== 3. capture alone (640x360 H.264 @30 fps, real time): {decode * 100:.1f}% of one core per camera")
    return decode


def capacity(matcher: Any, seconds: float, max_cameras: int) -> None:
    """Cameras the machine sustains in real time, with the person stage and (at 4 and 8) without it."""
    global MATCHER
    MATCHER = matcher
    clip = str(require_sample(*HAMILTON))
    cores = os.cpu_count() or 1
    ctx = mp.get_context("fork")
    extra = "face + fight + people counting" if INCIDENTS else "face only"
    print(
        f"\n== 2. cameras on this {cores}-core machine (processes, {seconds:.0f} s each, hamilton 640x360, "
        f"{DETECTOR} + {EMBEDDER}, {extra}; 'people': the person stage at {PERSON_FPS:g}/s; cpu/cam is CPU time "
        "per second of each camera process, decode included)"
    )
    print(
        f"{'fps':>4} {'cams':>5} {'pipeline':>9} {'min fps':>8} {'lag p95':>8} {'lag growth':>10} {'cpu/cam':>8} "
        f"{'% of cores':>10}  verdict"
    )
    for fps in [float(f) for f in os.environ.get("BENCH_FPS", "5,2").split(",")]:
        for n in (1, 4, 8):  # every row runs: with other programs on the cores a row can fall behind by itself
            if n > max_cameras:
                break
            for people in (True, False) if n > 1 else (True,):
                _capacity_row(ctx, clip, fps, n, seconds, people, cores)


def _capacity_row(ctx: Any, clip: str, fps: float, n: int, seconds: float, people: bool, cores: int) -> None:
    with ctx.Pool(n) as pool:
        results = pool.map(camera_loop, [(clip, fps, seconds, people)] * n)
    worst = min(r["fps"] for r in results)
    lag = max(r["lag_p95"] for r in results)
    growth = max(r["lag_growth"] for r in results)
    ok = worst >= 0.9 * fps and growth < 0.5
    cpu = statistics.mean(r["cpu"] for r in results)
    print(
        f"{fps:4.0f} {n:5d} {'people' if people else 'previous':>9} {worst:8.2f} {lag:8.2f} {growth:10.2f} "
        f"{cpu * 100:7.0f}% {cpu * n / cores * 100:9.0f}%  {'sustained' if ok else 'FALLS BEHIND'}"
    )


def cpu_budget(matcher: Any, seconds: float, decode: float) -> None:
    """One camera's analysis CPU per second of footage, unpaced, with and without the person stage."""
    from vision.incidents.video import iter_frames

    clip = require_sample(*HAMILTON)
    sampled = [image for _, image in iter_frames(clip, 10.0)]
    cores = os.cpu_count() or 1
    print(
        f"\n== 5. CPU budget per camera (CPU time, not wall time: other programs share the {cores} cores; "
        f"unpaced, {seconds:.0f} s of hamilton 640x360 at the loop's 10 fps, motion everywhere, the "
        f"pipelines interleaved 2 s at a time so load hits them alike; decode {decode * 100:.1f}% from section 3)"
    )
    variants = {
        "previous (no person stage)": _BudgetCamera(matcher, people=False, face_fps=5.0),
        "with people (shipped)": _BudgetCamera(matcher, people=True, face_fps=5.0),
        "with people, a zone at its capacity": _BudgetCamera(matcher, people=True, face_fps=5.0, capacity=2),
        "with people, faces at 2 fps (camera default)": _BudgetCamera(matcher, people=True, face_fps=2.0),
    }
    for start in range(0, round(seconds * 10), 20):
        for camera in variants.values():
            camera.run(sampled, start, min(start + 20, round(seconds * 10)))
    header = ["pipeline", "people", "faces", "fight+count", "decode", "total", "cams in 70%", "4 cams", "8 cams"]
    rows, totals = [], {}
    for label, camera in variants.items():
        costs = {name: value / seconds for name, value in camera.spent.items()}
        total = totals[label] = sum(costs.values()) + decode
        four, eight = 4 * total / cores, 8 * total / cores
        rows.append(
            [
                label,
                *(f"{costs[name] * 100:.1f}%" for name in ("people", "faces", "incidents")),
                f"{decode * 100:.1f}%",
                f"{total * 100:.1f}%",
                f"{int(0.7 * cores / total)}",
                f"{four * 100:.0f}% {'fits' if four <= 0.7 else 'OVER'}",
                f"{eight * 100:.0f}% {'fits' if eight <= 0.7 else 'OVER'}",
            ]
        )
    shipped = variants["with people (shipped)"]
    stage = shipped.people
    assert stage is not None
    per_call = shipped.spent["people"] / max(1, stage.runs) * 1000
    print(
        f"person stage: {per_call:.1f} ms CPU per call, {stage.runs / seconds:.2f} calls/s "
        f"(target {PERSON_FPS:g}), {shipped.spent['people'] / seconds * 100:.1f}% of a core per camera"
    )
    print(f"share of the {cores} cores for 4 and 8 cameras against the 70% aim:")
    print(table(rows, header))
    ratio = totals["with people (shipped)"] / totals["previous (no person stage)"]
    print(f"with people / previous at 5 fps: {ratio:.2f}x the CPU per camera")


class _BudgetCamera:
    """One camera's stages stepped over frames as a session's loop steps them (10 fps, faces at ``face_fps``)."""

    def __init__(self, matcher: Any, *, people: bool, face_fps: float, capacity: int = 500) -> None:
        self.faces, self.incidents = face_stage(matcher, face_fps), incident_stage(capacity)
        self.people = person_stage() if people else None
        self.face_every = round(10 / face_fps)
        self.spent = {"people": 0.0, "faces": 0.0, "incidents": 0.0}

    def run(self, sampled: list[np.ndarray], start: int, stop: int) -> None:
        """Loop frames ``start``..``stop`` (10 per second of footage), CPU time per component."""
        from workers.pipeline import people_now

        for index in range(start, stop):
            image, t = sampled[index % len(sampled)], index / 10.0
            began = time.process_time()
            tracks = people_now(self.people, image, t, None)
            middle = time.process_time()
            self.incidents.process(image, t, people=tracks)
            self.spent["people"] += middle - began
            self.spent["incidents"] += time.process_time() - middle
            if index % self.face_every == 0:
                began = time.process_time()
                self.faces.process(image, t, time.time(), index)
                self.spent["faces"] += time.process_time() - began


def latency(runs_s: float) -> None:
    """Frame-to-committed-alert latency of real sessions, in a throwaway database dropped afterwards."""
    from ws_fanout import django_on, throwaway_database

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commandcenter.settings")
    with throwaway_database(f"cc_bench_stream_{os.getpid()}") as url:
        django_on(url, redis_db=14)
        latencies = _session_latencies(runs_s)
        from django.db import connections

        connections.close_all()
    if latencies:
        p50, p95 = np.percentile(latencies, 50) * 1000, np.percentile(latencies, 95) * 1000
        print(
            f"\n== 4. frame captured -> face-match alert committed (with crop+snapshot evidence): "
            f"p50 {p50:.0f} ms, p95 {p95:.0f} ms over {len(latencies)} alerts"
        )
    else:
        print("\n== 4. latency: no alert raised")


def _session_latencies(runs_s: float) -> list[float]:
    """Enrol Lin-Manuel Miranda, run three sessions on the Hamilton clip, collect their alert latencies."""
    import tempfile

    from django.conf import settings
    from django.contrib.auth import get_user_model

    from tests.support.oversight import authorised_deployment
    from venues.models import Camera, Venue
    from watchlists.enrolment import subject_enroll_photo
    from watchlists.matching import reset_cache
    from workers.camera_config import SessionConfig
    from workers.session import CameraSession

    settings.MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="cc-bench-"))
    settings.CC_FACE_FOLD_WINDOW_S = 0  # each session's sighting is its own alert (no folding across cameras)
    owner = get_user_model().objects.create_user(username="bench", password="x" * 12)
    venue = Venue.objects.create(name="Bench")
    subject = bench_subject(owner, "Lin", threshold=0.93)
    photo = require_sample(*EXAMPLES, "lin-manuel-miranda.png")
    subject_enroll_photo(subject=subject, data=photo.read_bytes(), filename=photo.name, actor=owner)
    authorised_deployment(watchlists=[subject.watchlist], venues=[venue])  # live matching needs one
    reset_cache()
    latencies: list[float] = []
    for i in range(3):
        camera = Camera.objects.create(
            venue=venue,
            name=f"cam{i}",
            analysis_fps=2.0,
            crowd_enabled=False,
            fight_enabled=False,
            cooldown_s=10,
            stream_url=f"file://{require_sample(*HAMILTON)}",
        )
        session = CameraSession(camera.pk, config=SessionConfig.from_settings(clip_post_s=1.0), max_duration_s=runs_s)
        session.run()
        latencies.extend(session.alert_latency_s)
    reset_cache()
    shutil.rmtree(settings.MEDIA_ROOT, ignore_errors=True)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--max-cameras", type=int, default=8)
    parser.add_argument("--budget-seconds", type=float, default=30.0)
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-capacity", action="store_true")
    args = parser.parse_args()
    require_sample(*HAMILTON)
    matcher = gallery_matcher()
    stage_costs(matcher)
    decode = capture_cost(args.seconds)
    cpu_budget(matcher, args.budget_seconds, decode)
    if not args.skip_capacity:
        capacity(matcher, args.seconds, args.max_cameras)
    if not args.skip_latency:
        latency(4.0)


if __name__ == "__main__":
    main()
