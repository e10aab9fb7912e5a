"""Camera capture: parse a source, run a capture thread, keep only the newest frame.

The capture thread reads as fast as the source delivers (files are paced at their
native fps so they behave like a live camera) and overwrites a slot of one frame;
the analysis loop takes the newest frame when it is ready. A slow consumer makes
the capture thread drop (and count) frames, never queue them (STYLE rule 8).
Failures never raise into the caller: they become ``stats().state`` and
``stats().last_error``, and the thread reconnects with capped exponential backoff.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import cv2
import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

ImageBGR = npt.NDArray[np.uint8]

FILE_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm"})
RAW_SUFFIXES = frozenset({".h264", ".264", ".h265", ".265", ".hevc"})
DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}
_FALLBACK_FPS = 25.0
_FFMPEG_OPTIONS_ENV = "OPENCV_FFMPEG_CAPTURE_OPTIONS"


class SourceError(ValueError):
    """A camera source string that cannot be used (bad scheme, path or option)."""


class SourceKind(StrEnum):
    """How a source is reached."""

    RTSP = "rtsp"
    HTTP = "http"
    FILE = "file"


class CaptureState(StrEnum):
    """Health of a capture as shown on the camera-health panel."""

    CONNECTING = "connecting"
    ONLINE = "online"
    DEGRADED = "degraded"
    OFFLINE = "offline"


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A validated camera source: what to open and how to name it in logs."""

    kind: SourceKind
    target: str
    display: str
    host: str = ""
    port: int = 0
    rtsp_transport: str = "tcp"

    @property
    def is_live(self) -> bool:
        """True for network sources (they pace themselves and may reconnect)."""
        return self.kind is not SourceKind.FILE


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame; ``image`` is shared with other readers, so treat it read-only."""

    seq: int
    image: ImageBGR
    captured_at: float
    monotonic: float
    epoch: int
    position_ms: float

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return (int(self.image.shape[1]), int(self.image.shape[0]))


@dataclass(frozen=True, slots=True)
class CaptureSettings:
    """Tuning of one capture; defaults suit a city CCTV camera.

    ``decoder_threads=1`` decodes on the capture thread: least total CPU per camera
    (see bench/capture_cost.py) and makes ``decode_ms`` an exact CPU figure.
    """

    open_timeout_s: float = 8.0
    read_timeout_s: float = 8.0
    degraded_after_s: float = 2.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    backoff_jitter: float = 0.2
    realtime: bool | None = None
    loop: bool = False
    max_fps: float | None = None
    preflight: bool = True
    decoder_threads: int | None = 1


@dataclass(frozen=True, slots=True)
class CaptureStats:
    """A snapshot of capture health for heartbeats and the camera-health panel."""

    state: CaptureState
    source: str
    input_fps: float
    frames_read: int
    frames_dropped: int
    frames_skipped: int
    reconnects: int
    last_error: str
    decode_ms: float
    seconds_since_last_frame: float | None
    width: int
    height: int
    epoch: int

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        data = asdict(self)
        data["state"] = self.state.value
        return data


def parse_source(url: str, rtsp_transport: str = "tcp") -> SourceSpec:
    """Validate a camera source (rtsp[s]://, http[s]:// MJPEG, file:// or absolute path)."""
    text = (url or "").strip()
    if not text:
        raise SourceError("empty source")
    if rtsp_transport not in {"tcp", "udp"}:
        raise SourceError(f"rtsp_transport must be 'tcp' or 'udp', not {rtsp_transport!r}")
    if text.startswith("/"):
        return _file_spec(Path(text))
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if parts.netloc not in {"", "localhost"}:
            raise SourceError(f"file URL must be local: {text}")
        return _file_spec(Path(unquote(parts.path)))
    if scheme in {"rtsp", "rtsps"}:
        return _network_spec(text, SourceKind.RTSP, rtsp_transport)
    if scheme in {"http", "https"}:
        return _network_spec(text, SourceKind.HTTP, rtsp_transport)
    if not scheme:
        raise SourceError(f"relative path or missing scheme: {text!r} (use an absolute path)")
    raise SourceError(f"unsupported scheme {scheme!r} (expected rtsp, rtsps, http, https, file)")


def _file_spec(path: Path) -> SourceSpec:
    if not path.is_absolute():
        raise SourceError(f"file path must be absolute: {path}")
    suffix = path.suffix.lower()
    if suffix not in FILE_SUFFIXES | RAW_SUFFIXES:
        allowed = ", ".join(sorted(FILE_SUFFIXES | RAW_SUFFIXES))
        raise SourceError(f"unsupported file type {suffix or '(none)'!r} (expected {allowed})")
    return SourceSpec(kind=SourceKind.FILE, target=str(path), display=str(path))


def _network_spec(text: str, kind: SourceKind, rtsp_transport: str) -> SourceSpec:
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError as exc:
        raise SourceError(f"bad port in {mask_credentials(text)}") from exc
    if not parts.hostname:
        raise SourceError(f"missing host in {mask_credentials(text)}")
    return SourceSpec(
        kind=kind,
        target=text,
        display=mask_credentials(text),
        host=parts.hostname,
        port=port,
        rtsp_transport=rtsp_transport,
    )


def mask_credentials(url: str) -> str:
    """Return the URL with any password replaced by ``***`` (for logs and health text)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return parts._replace(netloc=f"{user}:***@{netloc}").geturl()


class FrameSlot:
    """Holds only the newest frame; counts frames overwritten before anyone took them."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._taken = True
        self._closed = False
        self.dropped = 0

    def put(self, frame: Frame) -> None:
        """Replace the held frame, counting the old one as dropped if nobody took it."""
        with self._cond:
            if self._frame is not None and not self._taken:
                self.dropped += 1
            self._frame = frame
            self._taken = False
            self._cond.notify_all()

    def latest(self, after_seq: int = 0, timeout: float | None = None, *, take: bool = True) -> Frame | None:
        """Return the newest frame with ``seq > after_seq``; wait up to ``timeout`` seconds.

        ``take=False`` looks without taking (live video): the frame still counts as dropped if analysis skips it.
        """
        with self._cond:
            if timeout is not None and timeout > 0:
                self._cond.wait_for(lambda: self._closed or self._is_newer(after_seq), timeout)
            if not self._is_newer(after_seq):
                return None
            if take:
                self._taken = True
            return self._frame

    def close(self) -> None:
        """Wake every waiting reader (used on stop)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def reopen(self) -> None:
        """Allow waiting again after a restart."""
        with self._cond:
            self._closed = False

    def _is_newer(self, after_seq: int) -> bool:
        return self._frame is not None and self._frame.seq > after_seq


@dataclass(slots=True)
class _Counters:
    frames_read: int = 0
    frames_skipped: int = 0
    reconnects: int = 0
    epoch: int = 0
    seq: int = 0
    last_error: str = ""
    decode_ms: float = 0.0
    last_frame_at: float | None = None
    width: int = 0
    height: int = 0
    state: CaptureState = CaptureState.CONNECTING
    grab_times: deque[float] = field(default_factory=lambda: deque(maxlen=60))


class _ReadFailed(Exception):
    """A session ended; the message is the health text."""


class FrameGrabber:
    """Capture thread for one camera: newest-frame slot, health stats, reconnects."""

    def __init__(self, source: SourceSpec | str, settings: CaptureSettings | None = None) -> None:
        self.spec = source if isinstance(source, SourceSpec) else parse_source(source)
        self.settings = settings or CaptureSettings()
        self._slot = FrameSlot()
        self._lock = threading.Lock()
        self._c = _Counters()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def realtime(self) -> bool:
        """True when file frames are paced at their native fps."""
        realtime = self.settings.realtime
        return (not self.spec.is_live) if realtime is None else realtime

    def start(self) -> None:
        """Start the capture thread (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._slot.reopen()
        self._set_state(CaptureState.CONNECTING)
        name = f"capture:{self.spec.display[-40:]}"
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> bool:
        """Stop the thread and wait for it; return True when it has ended."""
        self._stop.set()
        self._slot.close()
        thread = self._thread
        if thread is None:
            return True
        limit = timeout if timeout is not None else self._join_budget()
        thread.join(limit)
        if thread.is_alive():
            logger.warning("capture %s did not stop within %.1fs", self.spec.display, limit)
            return False
        self._thread = None
        self._set_state(CaptureState.OFFLINE)
        return True

    def __enter__(self) -> FrameGrabber:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def latest(self, after_seq: int = 0, timeout: float | None = None, *, take: bool = True) -> Frame | None:
        """Return the newest frame newer than ``after_seq`` (None if none within ``timeout``)."""
        return self._slot.latest(after_seq, timeout, take=take)

    def stats(self) -> CaptureStats:
        """Return a consistent snapshot of health and counters."""
        with self._lock:
            c = self._c
            since = None if c.last_frame_at is None else time.monotonic() - c.last_frame_at
            return CaptureStats(
                state=self._effective_state(c.state, since),
                source=self.spec.display,
                input_fps=round(_rate(c.grab_times), 2),
                frames_read=c.frames_read,
                frames_dropped=self._slot.dropped,
                frames_skipped=c.frames_skipped,
                reconnects=c.reconnects,
                last_error=c.last_error,
                decode_ms=round(c.decode_ms, 3),
                seconds_since_last_frame=None if since is None else round(since, 3),
                width=c.width,
                height=c.height,
                epoch=c.epoch,
            )

    def _effective_state(self, state: CaptureState, since: float | None) -> CaptureState:
        if state is not CaptureState.ONLINE or since is None:
            return state
        if since > self.settings.read_timeout_s + self.settings.open_timeout_s:
            return CaptureState.OFFLINE
        if since > self.settings.degraded_after_s:
            return CaptureState.DEGRADED
        return state

    def _join_budget(self) -> float:
        return self.settings.open_timeout_s + self.settings.read_timeout_s + 2.0

    def _set_state(self, state: CaptureState, error: str | None = None) -> None:
        with self._lock:
            previous = self._c.state
            self._c.state = state
            if error is not None:
                self._c.last_error = error
        if previous is not state:
            logger.info("capture %s: %s -> %s %s", self.spec.display, previous, state, error or "")

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            frames_before = self._c.frames_read
            try:
                self._session()
            except _ReadFailed as exc:
                failures = 1 if self._c.frames_read > frames_before else failures + 1
                self._set_state(CaptureState.OFFLINE, str(exc))
                if self._is_final(str(exc)):
                    return
                self._wait_backoff(failures)
            except Exception as exc:  # a capture bug must not kill the camera worker
                logger.exception("capture %s: unexpected error", self.spec.display)
                failures += 1
                self._set_state(CaptureState.OFFLINE, f"internal error: {exc}")
                self._wait_backoff(failures)

    def _is_final(self, reason: str) -> bool:
        return not self.spec.is_live and reason == "stream ended" and not self.settings.loop

    def _wait_backoff(self, failures: int) -> None:
        delay = backoff_delay(
            failures,
            self.settings.backoff_initial_s,
            self.settings.backoff_max_s,
            self.settings.backoff_jitter,
        )
        logger.debug("capture %s: retry in %.2fs", self.spec.display, delay)
        if not self._stop.wait(delay):
            with self._lock:
                self._c.reconnects += 1

    def _session(self) -> None:
        looping = True
        while looping and not self._stop.is_set():
            cap = self._open()
            try:
                with self._lock:
                    self._c.epoch += 1
                self._pump(cap)
            finally:
                cap.release()
            if self._stop.is_set():
                return
            looping = self.spec.kind is SourceKind.FILE and self.settings.loop
            if not looping:
                raise _ReadFailed("stream ended")

    def _open(self) -> cv2.VideoCapture:
        if self.spec.kind is SourceKind.FILE:
            check_file(Path(self.spec.target))
        elif self.settings.preflight:
            check_reachable(self.spec.host, self.spec.port, self.settings.open_timeout_s)
        started = time.monotonic()
        cap = open_capture(self.spec, self.settings)
        if cap.isOpened():
            return cap
        cap.release()
        elapsed = time.monotonic() - started
        raise _ReadFailed(self._open_error(elapsed))

    def _open_error(self, elapsed: float) -> str:
        if self.spec.kind is SourceKind.FILE:
            return f"cannot open file (corrupt or unsupported video): {self.spec.display}"
        if elapsed >= self.settings.open_timeout_s * 0.9:
            return f"connection timed out: no answer within {self.settings.open_timeout_s:g}s"
        return f"cannot open stream: {self.spec.display}"

    def _pump(self, cap: cv2.VideoCapture) -> None:
        """Read until stopped or the file ends; raise ``_ReadFailed`` on a failure."""
        pacer = _Pacer(_native_fps(cap)) if self.realtime else None
        limiter = _Pacer(self.settings.max_fps) if self.settings.max_fps else None
        got_frame = False
        while not self._stop.is_set():
            if pacer is not None:
                pacer.wait(self._stop)
            started = time.monotonic()
            cpu_started = time.thread_time()
            if not cap.grab():
                self._end_of_input(started, got_frame)
                return
            self._note_grab(started)
            if limiter is not None and not limiter.due():
                with self._lock:
                    self._c.frames_skipped += 1
                continue
            ok, image = cap.retrieve()
            if not ok or image is None:
                raise _ReadFailed("decode failed: frame could not be converted")
            cpu_ms = (time.thread_time() - cpu_started) * 1000.0
            self._publish(np.asarray(image, dtype=np.uint8), cap, cpu_ms)
            got_frame = True

    def _end_of_input(self, started: float, got_frame: bool) -> None:
        """Classify a failed grab: a file that played to its end returns, the rest raise."""
        waited = time.monotonic() - started
        if self.spec.is_live and waited >= self.settings.read_timeout_s * 0.9:
            raise _ReadFailed(f"connection timed out: no frame for {waited:.1f}s")
        if not got_frame and self.spec.kind is SourceKind.FILE:
            raise _ReadFailed(f"no decodable frames in file: {self.spec.display}")
        if self.spec.is_live:
            raise _ReadFailed("stream ended")

    def _note_grab(self, started: float) -> None:
        with self._lock:
            self._c.grab_times.append(started)

    def _publish(self, image: ImageBGR, cap: cv2.VideoCapture, cpu_ms: float) -> None:
        now = time.monotonic()
        with self._lock:
            c = self._c
            c.seq += 1
            c.frames_read += 1
            c.decode_ms = cpu_ms if c.frames_read == 1 else 0.9 * c.decode_ms + 0.1 * cpu_ms
            c.last_frame_at = now
            c.height, c.width = int(image.shape[0]), int(image.shape[1])
            frame = Frame(
                seq=c.seq,
                image=image,
                captured_at=time.time(),
                monotonic=now,
                epoch=c.epoch,
                position_ms=float(cap.get(cv2.CAP_PROP_POS_MSEC)),
            )
        self._slot.put(frame)
        if self._c.state is not CaptureState.ONLINE:
            self._set_state(CaptureState.ONLINE)


class _Pacer:
    """Spaces events at a fixed rate; resynchronises instead of bursting after a stall."""

    def __init__(self, fps: float) -> None:
        self.interval = 1.0 / fps
        self.next_due = time.monotonic()

    def wait(self, stop: threading.Event) -> None:
        """Sleep until the next slot (or until ``stop`` is set)."""
        now = time.monotonic()
        if self.next_due > now:
            stop.wait(self.next_due - now)
        elif now - self.next_due > 1.0:
            self.next_due = now
        self.next_due += self.interval

    def due(self) -> bool:
        """Return True (and book the slot) when an event is due now."""
        now = time.monotonic()
        if now + 0.002 < self.next_due:
            return False
        self.next_due = max(self.next_due + self.interval, now - 1.0)
        return True


def backoff_delay(failures: int, initial: float, cap: float, jitter: float) -> float:
    """Return the wait before retry number ``failures`` (1-based): doubling, capped, jittered."""
    base = min(cap, initial * (2.0 ** max(0, failures - 1)))
    spread = base * jitter
    return max(0.0, min(cap, base + random.uniform(-spread, spread)))


def check_file(path: Path) -> None:
    """Raise ``_ReadFailed`` with a clear message when a file cannot be a video."""
    if not path.exists():
        raise _ReadFailed(f"file not found: {path}")
    if not path.is_file():
        raise _ReadFailed(f"not a regular file: {path}")
    if not os.access(path, os.R_OK):
        raise _ReadFailed(f"permission denied: {path}")
    if path.stat().st_size == 0:
        raise _ReadFailed(f"file is empty: {path}")


def check_reachable(host: str, port: int, timeout: float) -> None:
    """Raise ``_ReadFailed`` when a TCP connection to host:port cannot be made."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return
    except socket.gaierror:
        raise _ReadFailed(f"cannot resolve host: {host}") from None
    except ConnectionRefusedError:
        raise _ReadFailed(f"connection refused: {host}:{port}") from None
    except TimeoutError:
        raise _ReadFailed(f"connection timed out: {host}:{port} after {timeout:g}s") from None
    except OSError as exc:
        raise _ReadFailed(f"cannot connect to {host}:{port}: {exc.strerror or exc}") from None


def ffmpeg_options(spec: SourceSpec, settings: CaptureSettings) -> str:
    """Return the OPENCV_FFMPEG_CAPTURE_OPTIONS value for this source ('' for none)."""
    if spec.kind is not SourceKind.RTSP:
        return ""
    timeout_us = int(settings.read_timeout_s * 1_000_000)
    return f"rtsp_transport;{spec.rtsp_transport}|timeout;{timeout_us}"


def open_capture(spec: SourceSpec, settings: CaptureSettings) -> cv2.VideoCapture:
    """Open a cv2.VideoCapture on the FFmpeg backend with timeouts and RTSP transport set."""
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        int(settings.open_timeout_s * 1000),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        int(settings.read_timeout_s * 1000),
    ]
    if settings.decoder_threads is not None:
        params += [cv2.CAP_PROP_N_THREADS, settings.decoder_threads]
    with _ENV_GATE.options(ffmpeg_options(spec, settings)):
        return cv2.VideoCapture(spec.target, cv2.CAP_FFMPEG, params)


class _EnvGate:
    """Serialises changes of the process-wide FFmpeg options env var, not the opens.

    OpenCV reads OPENCV_FFMPEG_CAPTURE_OPTIONS while opening. Opens that agree with the
    current value (or need none) run together; an open needing another value waits
    for them, sets it and keeps it, so a fleet of TCP cameras never queues behind
    one camera's slow open.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._sharing = 0
        self._swapping = False

    @contextmanager
    def options(self, wanted: str) -> Iterator[None]:
        """Hold the env var at ``wanted`` ('' = any value) for the duration of an open."""
        exclusive = self._enter(wanted)
        try:
            yield
        finally:
            with self._cond:
                if exclusive:
                    self._swapping = False
                else:
                    self._sharing -= 1
                self._cond.notify_all()

    def _enter(self, wanted: str) -> bool:
        with self._cond:
            while True:
                agrees = not wanted or os.environ.get(_FFMPEG_OPTIONS_ENV) == wanted
                if not self._swapping and agrees:
                    self._sharing += 1
                    return False
                if not self._swapping and self._sharing == 0:
                    self._swapping = True
                    os.environ[_FFMPEG_OPTIONS_ENV] = wanted
                    return True
                self._cond.wait()


_ENV_GATE = _EnvGate()


def _native_fps(cap: cv2.VideoCapture) -> float:
    fps = float(cap.get(cv2.CAP_PROP_FPS))
    return fps if 1.0 <= fps <= 240.0 else _FALLBACK_FPS


def _rate(stamps: deque[float]) -> float:
    if len(stamps) < 2:
        return 0.0
    span = stamps[-1] - stamps[0]
    return (len(stamps) - 1) / span if span > 0 else 0.0
