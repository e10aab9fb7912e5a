"""Capture from files: source parsing, pacing, looping, newest-frame slot, file errors."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tests.support.mjpeg_server import wait_until
from workers.capture import (
    CaptureSettings,
    CaptureState,
    Frame,
    FrameGrabber,
    FrameSlot,
    SourceError,
    SourceKind,
    backoff_delay,
    ffmpeg_options,
    mask_credentials,
    parse_source,
)

HAMILTON = ("faces", "face_recognition", "examples", "short_hamilton_clip.mp4")
RAW_H264 = ("video", "mot_crowds", "MOT20-08-raw_shorter.h264")
RAW_H265 = ("video", "mot_crowds", "MOT17-13-SDP-raw.h265")
FAST = CaptureSettings(backoff_initial_s=0.1, backoff_max_s=0.5)


def _frame(seq: int) -> Frame:
    image = np.zeros((2, 2, 3), dtype=np.uint8)
    return Frame(seq=seq, image=image, captured_at=0.0, monotonic=0.0, epoch=1, position_ms=0.0)


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


# --- parse_source -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kind", "target"),
    [
        ("rtsp://cam.local:8554/live", SourceKind.RTSP, "rtsp://cam.local:8554/live"),
        ("rtsps://cam.local/live", SourceKind.RTSP, "rtsps://cam.local/live"),
        ("http://10.0.0.5/mjpg/video.mjpg", SourceKind.HTTP, "http://10.0.0.5/mjpg/video.mjpg"),
        ("file:///srv/clips/gate%201.mp4", SourceKind.FILE, "/srv/clips/gate 1.mp4"),
        ("  /srv/clips/entry.h265 ", SourceKind.FILE, "/srv/clips/entry.h265"),
    ],
)
def test_parse_source_accepts_supported_sources(url, kind, target):
    # when
    spec = parse_source(url)
    # then
    assert (spec.kind, spec.target) == (kind, target)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "empty source"),
        ("ftp://cam/x.mp4", "unsupported scheme 'ftp'"),
        ("clips/x.mp4", "relative path or missing scheme"),
        ("/srv/clips/notes.txt", "unsupported file type '.txt'"),
        ("rtsp:///live", "missing host"),
        ("rtsp://cam:99999/live", "bad port"),
        ("file://otherhost/x.mp4", "file URL must be local"),
    ],
)
def test_parse_source_rejects_bad_sources_with_clear_error(url, message):
    # when / then
    with pytest.raises(SourceError, match=message):
        parse_source(url)


def test_parse_source_rejects_unknown_rtsp_transport():
    with pytest.raises(SourceError, match="rtsp_transport must be 'tcp' or 'udp'"):
        parse_source("rtsp://cam/live", rtsp_transport="http")


def test_rtsp_sources_get_tcp_transport_and_socket_timeout():
    # given
    spec = parse_source("rtsp://admin:secret@cam:554/live")
    # when
    options = ffmpeg_options(spec, CaptureSettings(read_timeout_s=3.0))
    # then
    assert options == "rtsp_transport;tcp|timeout;3000000"
    assert spec.display == "rtsp://admin:***@cam:554/live"
    assert spec.port == 554


def test_mask_credentials_leaves_urls_without_password_alone():
    assert mask_credentials("rtsp://cam/live") == "rtsp://cam/live"


def test_backoff_doubles_and_is_capped():
    # when
    delays = [backoff_delay(n, 0.5, 4.0, 0.0) for n in range(1, 7)]
    # then
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_backoff_jitter_stays_within_its_spread():
    delays = [backoff_delay(3, 0.5, 30.0, 0.2) for _ in range(200)]
    assert min(delays) >= 1.6
    assert max(delays) <= 2.4


# --- FrameSlot ----------------------------------------------------------------------


def test_slot_keeps_only_newest_and_counts_overwritten_frames():
    # given
    slot = FrameSlot()
    for seq in (1, 2, 3):
        slot.put(_frame(seq))
    # when
    taken = slot.latest()
    # then
    assert taken is not None
    assert taken.seq == 3
    assert slot.dropped == 2


def test_slot_returns_none_when_nothing_newer_arrives_within_timeout():
    # given
    slot = FrameSlot()
    slot.put(_frame(1))
    assert slot.latest() is not None
    # when
    again = slot.latest(after_seq=1, timeout=0.05)
    # then
    assert again is None
    assert slot.dropped == 0


def test_slot_does_not_count_a_taken_frame_as_dropped():
    slot = FrameSlot()
    slot.put(_frame(1))
    slot.latest()
    slot.put(_frame(2))
    assert slot.dropped == 0


# --- file sources ---------------------------------------------------------------------


def test_file_source_is_paced_at_native_fps(sample_file, grabbers):
    # given a 29.97 fps clip
    grabber = _start(grabbers, str(sample_file(*HAMILTON)), FAST)
    # when a consumer takes frames for about 1.5 s
    assert grabber.latest(timeout=10.0) is not None
    wait_until(lambda: grabber.stats().frames_read >= 45, timeout=10.0)
    stats = grabber.stats()
    # then frames came at about the native rate, not as fast as decoding allows
    assert stats.state is CaptureState.ONLINE
    assert 24.0 <= stats.input_fps <= 36.0
    assert (stats.width, stats.height) == (640, 360)


def test_slow_consumer_gets_newest_frame_and_drops_are_counted(sample_file, grabbers):
    # given a consumer that takes nothing for a while
    grabber = _start(grabbers, str(sample_file(*HAMILTON)), FAST)
    wait_until(lambda: grabber.stats().frames_read >= 10, timeout=10.0)
    grabber.stop()
    # when it finally takes a frame
    frame = grabber.latest()
    stats = grabber.stats()
    # then it gets the last frame read and every earlier one was dropped
    assert frame is not None
    assert frame.seq == stats.frames_read
    assert stats.frames_dropped == stats.frames_read - 1


def test_looping_file_restarts_without_counting_a_reconnect(sample_file, grabbers):
    # given a 127-frame raw H.264 file read as fast as possible, looping
    settings = CaptureSettings(realtime=False, loop=True)
    grabber = _start(grabbers, str(sample_file(*RAW_H264)), settings)
    # when
    looped = wait_until(lambda: grabber.stats().epoch >= 3, timeout=20.0)
    grabber.stop()
    stats = grabber.stats()
    # then
    assert looped
    assert stats.frames_read >= 254
    assert stats.reconnects == 0
    assert stats.last_error == ""


def test_file_without_loop_ends_offline_with_stream_ended(sample_file, grabbers):
    # given
    settings = CaptureSettings(realtime=False)
    grabber = _start(grabbers, str(sample_file(*RAW_H264)), settings)
    # when
    wait_until(lambda: grabber.stats().state is CaptureState.OFFLINE, timeout=20.0)
    stats = grabber.stats()
    # then
    assert stats.state is CaptureState.OFFLINE
    assert stats.last_error == "stream ended"
    assert stats.frames_read == 127


@pytest.mark.parametrize(("parts", "size"), [(RAW_H264, (960, 366)), (RAW_H265, (960, 540))])
def test_raw_elementary_streams_decode(sample_file, grabbers, parts, size):
    # given
    grabber = _start(grabbers, str(sample_file(*parts)), FAST)
    # when
    frame = grabber.latest(timeout=10.0)
    # then
    assert frame is not None
    assert frame.size == size
    assert frame.image.dtype == np.uint8


def test_missing_file_goes_offline_with_not_found(tmp_path, grabbers):
    # given
    missing = tmp_path / "gone.mp4"
    grabber = _start(grabbers, str(missing), FAST)
    # when
    wait_until(lambda: grabber.stats().state is CaptureState.OFFLINE, timeout=5.0)
    stats = grabber.stats()
    # then
    assert stats.state is CaptureState.OFFLINE
    assert stats.last_error == f"file not found: {missing}"
    assert stats.frames_read == 0


@pytest.mark.parametrize("name", ["garbage.mp4", "garbage.h264"])
def test_corrupt_file_goes_offline_with_clear_error(tmp_path, grabbers, name):
    # given
    corrupt = tmp_path / name
    corrupt.write_bytes(os.urandom(64 * 1024))
    grabber = _start(grabbers, str(corrupt), FAST)
    # when
    wait_until(lambda: grabber.stats().last_error != "", timeout=5.0)
    stats = grabber.stats()
    # then
    assert stats.state is CaptureState.OFFLINE
    assert stats.last_error == f"cannot open file (corrupt or unsupported video): {corrupt}"
    assert stats.frames_read == 0


def test_empty_file_goes_offline_with_file_is_empty(tmp_path, grabbers):
    empty = tmp_path / "empty.mkv"
    empty.write_bytes(b"")
    grabber = _start(grabbers, str(empty), FAST)
    wait_until(lambda: grabber.stats().last_error != "", timeout=5.0)
    assert grabber.stats().last_error == f"file is empty: {empty}"


def test_max_fps_skips_conversion_of_surplus_frames(sample_file, grabbers):
    # given a 29.97 fps clip limited to 5 fps
    settings = CaptureSettings(max_fps=5.0)
    grabber = _start(grabbers, str(sample_file(*HAMILTON)), settings)
    # when
    wait_until(lambda: grabber.stats().frames_read >= 6, timeout=10.0)
    grabber.stop()
    stats = grabber.stats()
    # then roughly 5 of every 30 frames were converted
    assert stats.frames_skipped >= 3 * stats.frames_read


def test_stop_joins_the_thread_and_reports_offline(sample_file, grabbers):
    grabber = _start(grabbers, str(sample_file(*HAMILTON)), FAST)
    assert grabber.latest(timeout=10.0) is not None
    assert grabber.stop(timeout=5.0) is True
    assert grabber.stats().state is CaptureState.OFFLINE
