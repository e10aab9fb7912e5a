"""A live RTSP camera: online health and preview; server down -> offline alert; back -> resolved."""

from __future__ import annotations

import pytest

from core.redis import preview_key, redis_client
from tests.support.mjpeg_server import wait_until
from tests.support.required import unavailable
from tests.support.rtsp_server import RtspTestServer, ensure_rtsp_server_available
from tests.support.sessions import HAMILTON, health, quick_config, start_in_thread
from workers.session import CameraSession


@pytest.fixture
def rtsp_server(sample_file):
    reason = ensure_rtsp_server_available()
    if reason is not None:
        unavailable(f"RTSP test server: {reason}")
    server = RtspTestServer(sample_file(*HAMILTON))
    server.start()
    yield server
    server.stop()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_rtsp_camera_offline_alert_and_recovery_without_anyone_acting(rtsp_server, venue):
    from alerts.models import Alert
    from venues.models import Camera

    # given an RTSP camera analysed by a session
    camera = Camera.objects.create(
        venue=venue,
        name="Door",
        stream_url=rtsp_server.url,
        offline_after_s=5,
        analysis_fps=2.0,
        face_recognition_enabled=False,
        crowd_enabled=False,
        fight_enabled=False,
    )
    session = CameraSession(camera.pk, config=quick_config())
    thread = start_in_thread(session)
    try:
        # then it is online with live figures and a preview JPEG
        assert wait_until(lambda: health(camera.pk).get("state") == "online", 15.0, 0.2)
        assert wait_until(lambda: health(camera.pk).get("analysed_fps", 0) > 1.0, 8.0, 0.2)
        figures = health(camera.pk)
        assert figures["input_fps"] > 5
        assert figures["lag_s"] < 2.0
        assert set(figures["stage_ms"]) >= {"decode", "motion", "detect", "embed", "match", "incidents"}
        assert wait_until(lambda: redis_client().get(preview_key(camera.pk)) is not None, 5.0, 0.2)
        assert redis_client().get(preview_key(camera.pk))[:2] == b"\xff\xd8"

        # when the camera's server goes away
        rtsp_server.stop()
        # then the camera goes offline with the error and a camera_offline alert is raised
        open_offline = Alert.objects.filter(camera=camera, kind="camera_offline", status="new")
        assert wait_until(open_offline.exists, 15.0, 0.2)
        assert wait_until(lambda: health(camera.pk).get("state") == "offline", 3.0, 0.1)
        assert health(camera.pk)["last_error"]

        # when the server comes back on the same address
        rtsp_server.start()
        # then the camera is online again and the alert resolves itself
        resolved = Alert.objects.filter(
            camera=camera, kind="camera_offline", status="resolved", outcome="camera_restored"
        )
        assert wait_until(resolved.exists, 20.0, 0.2)
        assert wait_until(lambda: health(camera.pk).get("state") == "online", 10.0, 0.2)
        assert not open_offline.exists()
    finally:
        session.stop()
        thread.join(15.0)
    assert not thread.is_alive()
    camera.refresh_from_db()
    assert camera.health_state in {"online", "degraded"}  # the 9 s file restarts: a reconnect blip
    assert camera.health_stats["frames_analysed"] > 0
    assert session.lease.holder() is None
