"""Live video cost and latency: one watched camera vs the 1 fps preview, on real footage.

Runs a real capture of opencv-doc's vtest.avi (768x576, real time, looped) three ways for the same time:
capture alone; capture + the 1 fps preview (what the camera wall showed before, polled every 2 s); capture +
live video while watched (LivePublisher publishing through Redis, read back by the web process's MJPEG
generator). Prints the added CPU per watched camera (process CPU seconds per second, in % of one core,
publisher and streaming view together) and the glass-to-browser delay: for a change at the camera at a
random moment, the time until the browser is handed a picture captured after it (preview: next 1/s publish,
then the wall's next 2 s fetch; live: the next frame through Redis and the MJPEG generator), each as a ratio
to the preview.

Usage: python bench/live_video.py [SECONDS]   (embedded Redis unless REDIS_URL is set)
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commandcenter.settings")

import django  # noqa: E402

django.setup()

import redis  # noqa: E402
from django.conf import settings  # noqa: E402

from core.redis import live_want_key  # noqa: E402
from venues.live import mjpeg_stream  # noqa: E402
from workers.capture import CaptureSettings, FrameGrabber, parse_source  # noqa: E402
from workers.preview import LivePublisher, PreviewPublisher  # noqa: E402

CLIP = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
CAMERA = "bench-live-video"


def _grabber() -> FrameGrabber:
    grabber = FrameGrabber(parse_source(f"file://{CLIP}"), CaptureSettings(loop=True, max_fps=11.0))
    grabber.start()
    return grabber


def _cpu_during(seconds: float) -> float:
    """Process CPU seconds per wall second over ``seconds``."""
    cpu, wall = time.process_time(), time.monotonic()
    time.sleep(seconds)
    return (time.process_time() - cpu) / (time.monotonic() - wall)


def capture_only(seconds: float) -> float:
    grabber = _grabber()
    try:
        time.sleep(2.0)
        return _cpu_during(seconds)
    finally:
        grabber.stop()


def delays(shown: list[tuple[float, float]], start: float, end: float, samples: int = 400) -> list[float]:
    """For changes at evenly spread moments in [start, end): seconds until a picture captured after them is shown.

    ``shown`` lists (shown at, captured at) in time order, both on the wall clock.
    """
    result = []
    for index in range(samples):
        moment = start + (end - start) * index / samples
        later = [at for at, captured in shown if captured >= moment]
        if later:
            result.append(min(later) - moment)
    return result


def preview(seconds: float, client: redis.Redis) -> tuple[float, list[float]]:
    """The 1 fps preview fed with every frame (as the loop does), polled every 2 s like the wall."""
    grabber = _grabber()
    publisher = PreviewPublisher(client, CAMERA, width=640, interval_s=1.0)
    stamps: dict[int, float] = {}
    published: list[tuple[float, float]] = []  # (published at, captured at)
    original = publisher._publish

    def publish(frame):  # type: ignore[no-untyped-def]
        original(frame)
        published.append((time.time(), stamps.get(id(frame.image), 0.0)))

    publisher._publish = publish  # type: ignore[method-assign]
    publisher.start()
    stop = threading.Event()

    def feed() -> None:
        seq = 0
        while not stop.is_set():
            frame = grabber.latest(seq, 0.5)
            if frame is not None:
                seq = frame.seq
                stamps[id(frame.image)] = frame.captured_at
                publisher.offer(frame.image, [], [])

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    shown: list[tuple[float, float]] = []
    try:
        time.sleep(2.0)
        cpu, wall = time.process_time(), time.monotonic()
        start = time.time()
        while time.monotonic() - wall < seconds:  # the wall fetches each visible preview every 2 s
            time.sleep(2.0)
            if published:
                shown.append((time.time(), published[-1][1]))
        cpu = (time.process_time() - cpu) / (time.monotonic() - wall)
        return cpu, delays(shown, start, start + seconds - 4.0)
    finally:
        stop.set()
        publisher.stop()
        grabber.stop()


def live(seconds: float, client: redis.Redis) -> tuple[float, list[float], float]:
    """Live video while watched: publisher + the web process's MJPEG generator reading it back."""
    grabber = _grabber()

    def source(after: int, timeout: float):  # type: ignore[no-untyped-def]
        frame = grabber.latest(after, timeout, take=False)
        return None if frame is None else (frame.seq, frame.image, frame.captured_at)

    publisher = LivePublisher(client, CAMERA, source)
    publisher.start()
    shown: list[tuple[float, float]] = []

    async def watch(duration: float) -> int:
        parts = 0
        stream = mjpeg_stream(CAMERA, max_s=duration)
        async for part in stream:
            head = part[: part.index(b"\r\n\r\n")].decode()
            shown.append((time.time(), float(head.rsplit("X-Captured-At: ", 1)[1])))
            parts += 1
        return parts

    try:
        asyncio.run(watch(3.0))  # demand noticed, pipeline warm
        shown.clear()
        cpu, wall = time.process_time(), time.monotonic()
        start = time.time()
        parts = asyncio.run(watch(seconds))
        elapsed = time.monotonic() - wall
        return (time.process_time() - cpu) / elapsed, delays(shown, start, start + seconds - 1.0), parts / elapsed
    finally:
        publisher.stop()
        grabber.stop()
        client.delete(live_want_key(CAMERA))


def main() -> None:
    if not CLIP.is_file():
        print(f"SKIP: {CLIP} not found (install the Debian package opencv-doc)")
        raise SystemExit(0)
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
    client = redis.Redis.from_url(settings.REDIS_URL)
    base = capture_only(seconds)
    preview_cpu, preview_latency = preview(seconds, client)
    live_cpu, live_latency, fps = live(seconds, client)
    added_preview, added_live = preview_cpu - base, live_cpu - base
    p50 = statistics.median

    def p95(values: list[float]) -> float:
        return sorted(values)[int(0.95 * (len(values) - 1))]

    print(
        f"footage: {CLIP.name} 768x576, captured in real time; {seconds:.0f} s per run; load {os.getloadavg()[0]:.1f}"
    )
    print(f"capture alone: {base * 100:.1f}% of a core")
    print(
        f"1 fps preview (baseline): +{added_preview * 100:.1f}% of a core; glass-to-browser "
        f"p50 {p50(preview_latency):.2f} s, p95 {p95(preview_latency):.2f} s"
    )
    print(
        f"live video, one watched camera: {fps:.1f} fps delivered, +{added_live * 100:.1f}% of a core "
        f"(x{added_live / max(added_preview, 1e-6):.1f} the preview); glass-to-browser p50 "
        f"{p50(live_latency) * 1000:.0f} ms, p95 {p95(live_latency) * 1000:.0f} ms "
        f"(x{p50(live_latency) / p50(preview_latency):.2f} the preview's)"
    )
    print("not watched: one Redis EXISTS per camera every 0.5 s; no frame is encoded")


if __name__ == "__main__":
    main()
