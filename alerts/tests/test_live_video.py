"""Live video: the session publishes frames only while someone watches; the web process streams them as MJPEG."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import redis
from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth.models import Group
from django.test import AsyncClient
from django.urls import reverse

from audit.models import AccessEvent
from core.live import pack_live_frame, unpack_live_frame
from core.redis import live_channel, live_frame_key, live_want_key
from venues.models import Camera, OperatorScope, Venue

PEDESTRIANS = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


@pytest.fixture
def raw_redis():
    client = redis.Redis.from_url(settings.REDIS_URL)
    yield client
    client.close()


def _jpeg(width: int = 64) -> bytes:
    image = np.full((width // 2, width, 3), 90, np.uint8)
    cv2.rectangle(image, (5, 5), (20, 20), (0, 0, 255), 2)
    return bytes(cv2.imencode(".jpg", image)[1].tobytes())


def test_live_frame_format_round_trips_and_refuses_anything_else():
    jpeg = _jpeg()
    assert unpack_live_frame(pack_live_frame(jpeg, 1765000000.25)) == (1765000000.25, jpeg)
    with pytest.raises(ValueError, match="not a live frame"):
        unpack_live_frame(b"000001765000000.25" + b"not a jpeg")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_session_publishes_live_frames_only_while_someone_watches(raw_redis, venue):
    from tests.support.sessions import quick_config
    from workers.session import CameraSession

    if not PEDESTRIANS.is_file():
        message = f"{PEDESTRIANS} missing: install the Debian package opencv-doc"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    # given a camera whose session plays real footage
    camera = Camera.objects.create(
        venue=venue,
        name="Walkway",
        stream_url=f"file://{PEDESTRIANS}",
        loop_file=True,
        face_recognition_enabled=False,
        fight_enabled=False,
        crowd_enabled=False,
    )
    session = CameraSession(camera.pk, config=quick_config(lease_ttl_s=30.0, heartbeat_s=2.0), max_duration_s=60)
    runner = threading.Thread(target=session.run, daemon=True)
    runner.start()
    pubsub = raw_redis.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(live_channel(camera.pk))
    try:
        deadline = time.monotonic() + 40
        while session.health()["frames_analysed"] < 3:
            assert time.monotonic() < deadline, "the session never analysed a frame"
            time.sleep(0.2)
        # when nobody watches, nothing is published
        time.sleep(1.5)
        assert (raw_redis.exists(live_frame_key(camera.pk)), _announced(pubsub, 0.5)) == (0, 0)
        # when a viewer keeps the want key alive for 3 s, frames are announced, each stored with its capture time
        raw_redis.set(live_want_key(camera.pk), b"1", ex=5)
        time.sleep(1.0)
        announced = _announced(pubsub, 3.0)
        captured_at, jpeg = unpack_live_frame(raw_redis.get(live_frame_key(camera.pk)))
        assert announced >= 3
        assert 0 <= time.time() - captured_at < 10
        assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).shape == (576, 768, 3)
        # and when the viewer leaves, publishing stops
        raw_redis.delete(live_want_key(camera.pk))
        time.sleep(1.5)
        _announced(pubsub, 0.1)  # announcements made before the publisher noticed
        assert _announced(pubsub, 1.5) == 0
    finally:
        session.stop()
        runner.join(20)
        pubsub.close()


def _announced(pubsub: redis.client.PubSub, seconds: float) -> int:
    """How many new-frame announcements arrive within ``seconds`` (after discarding earlier ones)."""
    count, deadline = 0, time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        if pubsub.get_message(timeout=remaining) is not None:
            count += 1
    return count


@pytest.fixture
def scoped_viewer(django_user_model, venue):
    user = django_user_model.objects.create_user(username="viewer1", password="correct-horse-battery")
    user.groups.add(Group.objects.get(name="dispatcher"))
    OperatorScope.objects.create(user=user, all_venues=False).venues.add(venue)
    return user


@pytest.mark.django_db
def test_live_stream_serves_the_workers_frames_to_a_viewer_in_scope_and_is_audited(raw_redis, scoped_viewer, camera):
    # given a viewer whose scope holds the camera, and a worker that answers the want key with a frame
    jpeg = _jpeg()
    client = AsyncClient()
    client.force_login(scoped_viewer)

    async def watch() -> tuple[int, str, bytes]:
        response = await client.get(reverse("camera-live", args=[camera.pk]))
        stream = response.streaming_content.__aiter__()
        first = asyncio.ensure_future(stream.__anext__())
        await asyncio.get_running_loop().run_in_executor(None, _worker_answers, camera.pk, jpeg)
        chunk = await asyncio.wait_for(first, 10)
        await stream.aclose()
        return response.status_code, response["Content-Type"], chunk

    # when the viewer opens the camera's live stream
    status, content_type, chunk = async_to_sync(watch)()
    # then the frame arrives as one MJPEG part with its capture time, and the viewing is in the audit log
    assert (status, content_type) == (200, "multipart/x-mixed-replace; boundary=ccliveframe")
    head, body = chunk.split(b"\r\n\r\n", 1)
    assert head.decode().splitlines() == [
        "--ccliveframe",
        "Content-Type: image/jpeg",
        f"Content-Length: {len(jpeg)}",
        "X-Captured-At: 1765000000.500",
    ]
    assert body == jpeg + b"\r\n"
    row = AccessEvent.objects.get(action="camera.live_view")
    assert (row.username, row.object_id, row.detail) == (
        "viewer1",
        str(camera.pk),
        {"camera": camera.name, "venue": camera.venue.name},
    )
    raw_redis.delete(live_want_key(camera.pk), live_frame_key(camera.pk))


def _worker_answers(camera_id: object, jpeg: bytes) -> None:
    """What a session does once the want key appears: store the frame, announce it."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    deadline = time.monotonic() + 10
    while not client.exists(live_want_key(camera_id)):
        assert time.monotonic() < deadline, "the viewer never asked for frames"
        time.sleep(0.05)
    client.set(live_frame_key(camera_id), pack_live_frame(jpeg, 1765000000.5), ex=5)
    client.publish(live_channel(camera_id), "1")
    client.close()


@pytest.mark.django_db
def test_live_stream_refuses_cameras_outside_scope_and_anonymous_viewers(scoped_viewer, outsider, venue):
    # given a camera at a venue outside the viewer's scope
    elsewhere = Venue.objects.create(name="Stadium", kind="stadium", district="Medeu")
    hidden = Camera.objects.create(venue=elsewhere, name="Pitch", stream_url="rtsp://10.0.0.7/s")
    url = reverse("camera-live", args=[hidden.pk])

    def status_for(user) -> int:  # type: ignore[no-untyped-def]
        client = AsyncClient()
        if user is not None:
            client.force_login(user)
        return async_to_sync(client.get)(url).status_code

    # then nobody outside the scope gets a stream, and nothing is audited as viewed
    assert status_for(None) == 302
    assert status_for(outsider) == 403
    assert status_for(scoped_viewer) == 404
    assert not AccessEvent.objects.filter(action="camera.live_view").exists()


def test_live_frames_carry_only_boxes_of_their_own_moment(raw_redis):
    from workers.preview import LivePublisher

    # given a watched camera whose newest frame was captured at t, and a box analysed 5 s earlier
    frame = np.full((240, 320, 3), 128, np.uint8)
    moment = time.time()
    publisher = LivePublisher(raw_redis, "box-age-test", lambda after, timeout: (after + 1, frame, moment))
    box_region = (slice(40, 160), slice(60, 200))

    def published_with(boxes_at: float) -> float:
        """Publish one frame; return how much the box region differs from the plain frame."""
        publisher.offer_boxes([(60.0, 40.0, 140.0, 120.0)], ["MATCH 0.99"], boxes_at)
        publisher._publish(frame, moment, publisher.boxes_for(moment))
        _, jpeg = unpack_live_frame(raw_redis.get(live_frame_key("box-age-test")))
        decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        return float(np.abs(decoded[box_region].astype(int) - 128).max())

    # then the stale box is not drawn, a box of the same moment is
    assert published_with(moment - 5.0) < 20
    assert published_with(moment - 0.2) > 60
    raw_redis.delete(live_frame_key("box-age-test"))
