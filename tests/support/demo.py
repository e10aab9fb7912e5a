"""Demo cameras in tests: run one named camera's real session until shortly after its first alert."""

from __future__ import annotations

import threading
from pathlib import Path

from alerts.models import Alert
from tests.support.sessions import quick_config
from venues.models import Camera
from workers.session import CameraSession, StopReason

OPENCV_DOC = Path("/usr/share/doc/opencv-doc")  # the Debian package opencv-doc: footage on a fresh machine


def run_demo_camera(name: str, seconds: float, *, until_alert: bool, linger_s: float = 1.0) -> set[str]:
    """Run the named demo camera's session for ``seconds`` (or to ``linger_s`` after its first alert).

    Returns the kinds of alert it raised.
    """
    camera = Camera.objects.get(name=name)
    config = quick_config(lease_ttl_s=30.0, heartbeat_s=2.0)  # models load slowly on a busy machine
    session = CameraSession(camera.pk, config=config, max_duration_s=seconds)
    watcher = threading.Thread(target=_stop_after_first_alert, args=(session, linger_s), daemon=True)
    if until_alert:
        watcher.start()
    reason = session.run()
    assert reason is (StopReason.STOPPED if until_alert else StopReason.DURATION)
    return set(Alert.objects.filter(camera=camera).values_list("kind", flat=True))


def _stop_after_first_alert(session: CameraSession, linger_s: float) -> None:
    while not session.stop_event.wait(0.2):
        if session.health()["alerts_raised"]:
            session.stop_event.wait(linger_s)  # let a second kind of alert, if any, show itself
            session.stop()
