"""Frame ring, clip recorder and box drawing."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from workers.clips import ClipFormat, ClipRecorder, FrameRing, draw_boxes, encode_jpeg

HAMILTON = ("faces", "face_recognition", "examples", "short_hamilton_clip.mp4")


def _image(value: int) -> np.ndarray:
    return np.full((120, 160, 3), value % 256, dtype=np.uint8)


def test_ring_is_bounded_by_seconds():
    # given
    ring = FrameRing(max_seconds=2.0, fps=10.0)
    # when 5 s of frames at 10 fps arrive
    for n in range(50):
        ring.add(_image(n), 1000.0 + n / 10)
    # then only the last 2 s remain
    frames = ring.window(0, 2000)
    assert len(frames) == 21
    assert frames[0].at == pytest.approx(1002.9)


def test_ring_is_bounded_by_bytes():
    one = len(encode_jpeg(_image(1), 0.0).jpeg)
    ring = FrameRing(max_seconds=60.0, max_bytes=one * 5, fps=10.0)
    for n in range(20):
        ring.add(_image(1), n / 10)
    assert len(ring) == 5
    assert ring.bytes_used <= one * 5


def test_ring_rate_limits_storage():
    ring = FrameRing(fps=5.0)
    stored = [ring.add(_image(n), n / 25) is not None for n in range(25)]
    assert sum(stored) == 5


@pytest.mark.parametrize("clip_format", [ClipFormat.WEBM_VP8, ClipFormat.MP4_MP4V])
def test_recorder_writes_readable_clip_of_expected_duration(sample_file, tmp_path, clip_format):
    # given 6 s of a real clip fed at 10 fps with an event at 3 s
    recorder = ClipRecorder(FrameRing(fps=10.0), pre_s=2.0, post_s=2.0, clip_format=clip_format)
    cap = cv2.VideoCapture(str(sample_file(*HAMILTON)))
    job = None
    for n in range(180):
        ok, frame = cap.read()
        assert ok
        at = 5000.0 + n / 30
        if n == 90:
            job = recorder.trigger(tmp_path / "event-1", at=at)
        recorder.add(frame, at)
    cap.release()
    # when
    assert job is not None
    assert job.wait(30.0)
    recorder.close()
    # then a 4 s clip at 10 fps that OpenCV can read back
    assert job.error == ""
    assert job.path == tmp_path / f"event-1{clip_format.suffix}"
    reader = cv2.VideoCapture(str(job.path))
    count = 0
    while reader.read()[0]:
        count += 1
    fps = reader.get(cv2.CAP_PROP_FPS)
    reader.release()
    assert job.frames_written == 40
    assert count == 40
    assert fps == pytest.approx(10.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == [job.path.name]


def test_trigger_returns_immediately_and_clip_without_frames_reports_error(tmp_path):
    recorder = ClipRecorder(FrameRing(), pre_s=1.0, post_s=0.0)
    job = recorder.trigger(tmp_path / "nothing", at=100.0)
    recorder.poll(100.0)
    assert job.wait(10.0)
    recorder.close()
    assert job.error == "no frames in the clip window"


def test_draw_boxes_draws_on_a_copy():
    # given
    image = np.zeros((100, 100, 3), dtype=np.uint8)
    # when
    drawn = draw_boxes(image, [(10, 20, 30, 40)], ["track 7"], color=(0, 255, 0))
    # then
    assert int(image.sum()) == 0
    assert tuple(drawn[60, 25]) == (0, 255, 0)
    assert tuple(drawn[40, 25]) == (0, 0, 0)
