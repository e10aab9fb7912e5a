"""Capture from network sources on loopback: RTSP over TCP, MJPEG over HTTP, dead hosts."""

from __future__ import annotations

import os
import socket
import threading

import cv2
import numpy as np
import pytest

from tests.support.mjpeg_server import MjpegTestServer, jpeg_frames_from_clip, wait_until
from tests.support.required import unavailable
from tests.support.rtsp_server import RtspTestServer, ensure_rtsp_server_available, free_port
from workers.capture import CaptureSettings, CaptureState, FrameGrabber, open_capture, parse_source

HAMILTON = ("faces", "face_recognition", "examples", "short_hamilton_clip.mp4")
QUICK = CaptureSettings(open_timeout_s=2.0, read_timeout_s=2.0, backoff_initial_s=0.2, backoff_max_s=1.0)


@pytest.fixture
def grabbers():
    started: list[FrameGrabber] = []
    yield started
    for grabber in started:
        grabber.stop()


def _start(grabbers: list[FrameGrabber], source: str, settings: CaptureSettings) -> FrameGrabber:
    grabber = FrameGrabber(source, settings)
    grabbers.append(grabber)
    grabber.start()
    return grabber


def _state_is(grabber: FrameGrabber, state: CaptureState, timeout: float) -> bool:
    return wait_until(lambda: grabber.stats().state is state, timeout=timeout)


@pytest.fixture
def rtsp_server(sample_file):
    reason = ensure_rtsp_server_available()
    if reason is not None:
        unavailable(f"RTSP test server: {reason}")
    server = RtspTestServer(sample_file(*HAMILTON))
    server.start()
    yield server
    server.stop()


def _solid_jpeg(width: int, height: int, bgr: tuple[int, int, int]) -> bytes:
    image = np.full((height, width, 3), bgr, dtype=np.uint8)
    ok, buffer = cv2.imencode(".jpg", image)
    assert ok
    return buffer.tobytes()


# --- RTSP ------------------------------------------------------------------------------


@pytest.mark.slow
def test_rtsp_stream_survives_server_stop_and_restart(rtsp_server, grabbers):
    # given a camera online over RTSP/TCP
    grabber = _start(grabbers, rtsp_server.url, QUICK)
    first = grabber.latest(timeout=10.0)
    assert first is not None
    assert first.size == (640, 360)
    assert _state_is(grabber, CaptureState.ONLINE, 5.0)
    # when the server dies mid-stream
    rtsp_server.stop()
    # then the camera is offline within a few seconds
    assert _state_is(grabber, CaptureState.OFFLINE, 6.0)
    offline = grabber.stats()
    assert offline.last_error in {
        "stream ended",
        f"connection refused: 127.0.0.1:{rtsp_server.port}",
    } or offline.last_error.startswith("connection timed out")
    # when the server comes back on the same port
    rtsp_server.start()
    # then frames flow again without anyone touching the grabber
    assert _state_is(grabber, CaptureState.ONLINE, 10.0)
    resumed = grabber.latest(after_seq=offline.frames_read, timeout=5.0)
    stats = grabber.stats()
    assert resumed is not None
    assert resumed.epoch >= 2
    assert stats.reconnects >= 1


def test_rtsp_closed_port_goes_offline_with_connection_refused(grabbers):
    # given a port nobody listens on
    port = free_port()
    grabber = _start(grabbers, f"rtsp://127.0.0.1:{port}/stream", QUICK)
    # when
    assert _state_is(grabber, CaptureState.OFFLINE, 3.0)
    # then
    assert grabber.stats().last_error == f"connection refused: 127.0.0.1:{port}"


def test_rtsp_server_that_never_answers_times_out(grabbers):
    # given a socket that accepts connections and then stays silent
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    settings = CaptureSettings(open_timeout_s=1.0, read_timeout_s=1.0, backoff_initial_s=5.0)
    try:
        grabber = _start(grabbers, f"rtsp://127.0.0.1:{port}/stream", settings)
        # when
        went_offline = _state_is(grabber, CaptureState.OFFLINE, 6.0)
        # then
        assert went_offline
        assert grabber.stats().last_error == "connection timed out: no answer within 1s"
    finally:
        for conn in accepted:
            conn.close()
        listener.close()


# --- MJPEG over HTTP -------------------------------------------------------------------


def test_mjpeg_over_http_delivers_frames(sample_file, grabbers):
    # given
    frames = jpeg_frames_from_clip(sample_file(*HAMILTON), max_frames=20)
    with MjpegTestServer(frames, fps=20.0) as server:
        grabber = _start(grabbers, server.url, QUICK)
        # when
        first = grabber.latest(timeout=10.0)
        later = grabber.latest(after_seq=first.seq if first else 0, timeout=5.0)
        # then
        assert first is not None
        assert later is not None
        assert first.size == (640, 360)
        assert grabber.stats().state is CaptureState.ONLINE


def test_mjpeg_resolution_change_keeps_frames_flowing(grabbers):
    # given a stream of red 640x360 frames that switches to blue 320x180 frames
    red = _solid_jpeg(640, 360, (0, 0, 255))
    blue = _solid_jpeg(320, 180, (255, 0, 0))
    with MjpegTestServer([red] * 10 + [blue] * 10, fps=25.0) as server:
        grabber = _start(grabbers, server.url, QUICK)
        seen_blue: list[tuple[int, int]] = []

        def blue_arrived() -> bool:
            frame = grabber.latest(timeout=0.2)
            if frame is not None and frame.image[90, 160, 0] > 200:
                seen_blue.append(frame.size)
            return bool(seen_blue)

        # when
        arrived = wait_until(blue_arrived, timeout=10.0)
        # then the blue frames arrive, scaled to the stream's first size, with no reconnect
        assert arrived
        assert seen_blue[0] == (640, 360)
        assert grabber.stats().reconnects == 0


def test_stalled_stream_times_out_then_recovers(sample_file, grabbers):
    # given an MJPEG camera that stops sending but keeps the connection open
    frames = jpeg_frames_from_clip(sample_file(*HAMILTON), max_frames=5)
    settings = CaptureSettings(open_timeout_s=1.0, read_timeout_s=1.0, backoff_initial_s=0.2)
    with MjpegTestServer(frames, fps=20.0) as server:
        grabber = _start(grabbers, server.url, settings)
        assert grabber.latest(timeout=10.0) is not None
        # when
        server.pause()
        # then
        assert _state_is(grabber, CaptureState.OFFLINE, 5.0)
        assert grabber.stats().last_error.startswith("connection timed out")
        # when it sends again
        server.resume()
        # then
        assert _state_is(grabber, CaptureState.ONLINE, 8.0)


def test_rtsp_open_sets_tcp_transport_for_ffmpeg(monkeypatch):
    # given no FFmpeg options in the environment
    monkeypatch.delenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", raising=False)
    spec = parse_source(f"rtsp://127.0.0.1:{free_port()}/stream")
    settings = CaptureSettings(open_timeout_s=1.0, read_timeout_s=1.0)
    # when
    capture = open_capture(spec, settings)
    # then
    assert capture.isOpened() is False
    assert os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] == "rtsp_transport;tcp|timeout;1000000"


def test_without_preflight_a_closed_port_reports_cannot_open(grabbers):
    port = free_port()
    settings = CaptureSettings(open_timeout_s=2.0, backoff_initial_s=5.0, preflight=False)
    grabber = _start(grabbers, f"rtsp://127.0.0.1:{port}/stream", settings)
    assert _state_is(grabber, CaptureState.OFFLINE, 4.0)
    assert grabber.stats().last_error == f"cannot open stream: rtsp://127.0.0.1:{port}/stream"
