"""The fresh-machine demo in real headless Chromium: the demo's cameras on packaged footage, a face candidate
arriving on the live feed, and the camera wall showing a camera live (frames arriving with the analysis boxes).

Run alone: `.venv/bin/pytest -m browser alerts/tests/test_browser_demo.py`. The web server and browser are the
ones of `tests.support.browser`; the entrance camera's session runs in a thread of this process on the real clip.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.core.management import call_command
from django.db import connections
from playwright.sync_api import expect

from alerts.models import Alert
from commandcenter.demo import PACKAGED_PERSON_NAME
from tests.support.browser import (  # noqa: F401 (fixtures; skips without Chromium)
    browser,
    live_url,
    open_feed,
    role_groups,
    shot,
    user_with_role,
)
from tests.support.demo import OPENCV_DOC
from venues.models import Camera

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def fresh_demo(settings, tmp_path, django_user_model):  # type: ignore[no-untyped-def]
    """The demo as `make run` sets it up on a machine without ../shared/data."""
    from watchlists.matching import reset_cache

    user_with_role(django_user_model, "admin1", "admin")
    user_with_role(django_user_model, "supervisor0", "supervisor")  # the demo deployment's requester ...
    user_with_role(django_user_model, "authoriser0", "authoriser")  # ... and its authorising officer
    (tmp_path / "no-samples").mkdir()
    settings.CC_SAMPLE_DATA = str(tmp_path / "no-samples")
    settings.CC_OPENCV_DOC = str(OPENCV_DOC)
    settings.VAR_DIR = tmp_path / "var"
    call_command("demo_setup")
    reset_cache()
    return Camera.objects.get(name="Entrance (faces)")


def _run_session(camera: Camera, stop: threading.Event) -> None:
    from tests.support.sessions import quick_config
    from workers.session import CameraSession

    session = CameraSession(camera.pk, config=quick_config(lease_ttl_s=30.0, heartbeat_s=2.0), max_duration_s=120)
    watcher = threading.Thread(target=lambda: (stop.wait(), session.stop()), daemon=True)
    watcher.start()
    try:
        session.run()
    finally:
        connections.close_all()


def test_fresh_demo_shows_a_face_candidate_and_the_camera_live(browser, live_url, fresh_demo, django_user_model):  # noqa: F811
    # given the fresh demo with its entrance camera running, and a dispatcher on the live feed
    dispatcher = user_with_role(django_user_model, "dispatcher1", "dispatcher")
    stop = threading.Event()
    runner = threading.Thread(target=_run_session, args=(fresh_demo, stop), daemon=True)
    page = open_feed(browser, live_url, dispatcher)
    runner.start()
    try:
        # when the enrolled person walks past the entrance, a face candidate arrives on the feed
        expect(page.locator("#feed li.alert").first).to_be_visible(timeout=90_000)
        assert set(Alert.objects.values_list("kind", "subject__display_name")) == {("face_match", PACKAGED_PERSON_NAME)}
        shot(page, "demo_feed")
        # and on the camera wall, the three demo cameras; selecting the entrance shows it live
        page.goto(live_url + "/cameras/")
        expect(page.locator("li.tile")).to_have_count(3)
        tile = page.locator(f'li.tile[data-camera="{fresh_demo.pk}"]')
        tile.locator("[data-watch]").click()
        expect(tile.locator("[data-live-badge]")).to_contain_text("Live", timeout=20_000)
        first = int(tile.get_attribute("data-frames") or "0")
        started = time.monotonic()
        page.wait_for_function(
            "([sel, n]) => Number(document.querySelector(sel).dataset.frames) >= n",
            arg=[f'li.tile[data-camera="{fresh_demo.pk}"]', first + 10],
            timeout=20_000,
        )
        frames = int(tile.get_attribute("data-frames") or "0") - first
        print(f"live video in Chromium: {frames} frames in {time.monotonic() - started:.1f} s")
        # then the frames keep coming as pictures, enlargeable
        assert tile.locator("img").evaluate("img => img.naturalWidth") == 640
        tile.locator("[data-enlarge]").click()
        expect(tile).to_have_class("tile live enlarged")
        shot(page, "demo_camera_live")
        page.context.close()
    finally:
        stop.set()
        runner.join(30)
