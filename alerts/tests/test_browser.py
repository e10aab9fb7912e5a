"""The dashboard in real headless Chromium against the shipped web server (uvicorn, two worker processes),
pushes through Redis.

Run alone: `.venv/bin/pytest -m browser alerts/tests/test_browser.py`. The server (`tests.support.browser`) is a uvicorn
subprocess on a free port using the test database (committed data: transactional tests) and the
same Redis channel layer as this process, so `alert_raise` here pushes to the browser there.
"""

# ruff: noqa: F811 - pytest fixtures imported from tests.support.browser

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import cv2
import numpy as np
import pytest
from django.db import connections
from playwright.sync_api import Page, expect

from alerts import services
from alerts.models import Alert
from tests.support.browser import (  # noqa: F401 (fixtures; skips without Chromium)
    browser,
    live_url,
    open_feed,
    role_groups,
    shot,
    user_with_role,
)
from venues.models import Camera, Venue

T = TypeVar("T")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def cameras(transactional_db) -> tuple[Camera, Camera]:
    club = Venue.objects.create(name="Club Almaty", district="Medeu", latitude="43.238949", longitude="76.889709")
    park = Venue.objects.create(name="Central Park", district="Almaly", latitude="43.2567", longitude="76.9286")
    return (
        Camera.objects.create(
            venue=club,
            name="Entrance",
            stream_url="rtsp://10.0.0.5/s",
            health_state="online",
            health_stats={"fps": 12.0},
        ),
        Camera.objects.create(venue=park, name="Gate", stream_url="rtsp://10.0.0.9/s", health_state="offline"),
    )


def _off_loop(function: Callable[..., T], **kwargs: Any) -> T:
    """Run a service in a plain thread: Playwright's loop in this one makes async_to_sync refuse pushes."""

    def call() -> T:
        try:
            return function(**kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


def _raise(camera: Camera, kind: str = Alert.Kind.FIGHT, severity: int = 3, evidence: list | None = None) -> Alert:
    return _off_loop(
        services.alert_raise, kind=kind, camera=camera, severity=severity, score=0.81, evidence=evidence or []
    ).alert


def _fight_evidence() -> list[services.EvidenceFile]:
    """A snapshot and the fight-score series a session attaches to a fight alert."""
    frame = np.full((180, 320, 3), 40, dtype=np.uint8)
    cv2.rectangle(frame, (120, 50), (200, 170), (0, 0, 255), 2)
    snapshot = cv2.imencode(".jpg", frame)[1].tobytes()
    points = [[round(-3.0 + 0.1 * i, 1), round(0.2 + 0.02 * i, 3)] for i in range(31)]
    series = json.dumps({"kind": "fight", "unit": "fight_score", "limit": 0.53, "points": points}).encode()
    return [
        services.EvidenceFile("snapshot", snapshot, "image/jpeg", "fight-snapshot.jpg"),
        services.EvidenceFile("series", series, "application/json", "fight-series.json"),
    ]


def _row(page: Page, alert: Alert):
    return page.locator(f'#feed li.alert[data-id="{alert.pk}"]')


# --- cases ---------------------------------------------------------------------------------------


def test_dispatcher_sees_raised_alert_within_two_seconds(browser, live_url, cameras, django_user_model):
    # given a dispatcher with the feed open
    dispatcher = user_with_role(django_user_model, "dispatcher1", "dispatcher")
    _raise(cameras[1], kind=Alert.Kind.CROWD, severity=2)
    page = open_feed(browser, live_url, dispatcher)
    # when the pipeline raises a critical alert
    started = time.monotonic()
    alert = _raise(cameras[0], severity=4, evidence=_fight_evidence())
    # then it shows within 2 seconds, at the top (most severe first), exactly once
    expect(_row(page, alert)).to_be_visible(timeout=2_000)
    assert time.monotonic() - started < 2.0
    assert page.locator("#feed li.alert").first.get_attribute("data-id") == str(alert.pk)
    assert _row(page, alert).count() == 1
    shot(page, "dashboard")
    # and j selects it, ? opens the help overlay
    page.keyboard.press("j")
    expect(_row(page, alert)).to_be_focused()
    page.keyboard.press("?")
    expect(page.locator("#help")).to_be_visible()
    page.keyboard.press("Escape")
    # and the detail page shows its history, the snapshot and the score series as a chart with its limit
    page.goto(f"{live_url}/alerts/{alert.pk}/")
    expect(page.locator("#history tr")).to_have_count(1)
    expect(page.locator("#evidence img")).to_have_count(1)
    expect(page.locator("#evidence svg.series polyline.value")).to_have_count(1)
    expect(page.locator("#evidence svg.series line.limit")).to_have_count(1)
    page.wait_for_function("() => { const i = document.querySelector('#evidence img'); return i && i.complete; }")
    assert page.locator("#evidence img").evaluate("img => img.naturalWidth") == 320  # served through the audited view
    expect(page.locator("#conn")).to_have_attribute("data-state", "connected")
    shot(page, "alert_detail")
    page.context.close()


def test_two_dispatchers_see_each_others_acknowledgement(browser, live_url, cameras, django_user_model):
    first = user_with_role(django_user_model, "dispatcher1", "dispatcher")
    second = user_with_role(django_user_model, "dispatcher2", "dispatcher")
    alert, other = _raise(cameras[0]), _raise(cameras[0], kind=Alert.Kind.AGGRESSION)
    page_a, page_b = open_feed(browser, live_url, first), open_feed(browser, live_url, second)
    # when A acknowledges, B sees it live
    _row(page_a, alert).locator('button[data-action="acknowledge"]').click()
    expect(_row(page_b, alert).locator(".badge.status")).to_have_text("Acknowledged", timeout=2_000)
    expect(_row(page_b, alert).locator('button[data-action="acknowledge"]')).to_be_disabled()
    # when B acts on a stale row (its link held down) after A acknowledged, B is told and refreshed
    page_b.evaluate("window.ccFeed.drop(60000)")
    expect(page_b.locator("#conn")).to_have_attribute("data-state", "offline")
    _row(page_a, other).locator('button[data-action="acknowledge"]').click()
    expect(_row(page_a, other).locator(".badge.status")).to_have_text("Acknowledged")
    _row(page_b, other).locator('button[data-action="acknowledge"]').click()
    told = "dispatcher1 acted first: Acknowledged. The alert is now Acknowledged."
    expect(page_b.locator("#toast")).to_have_text(told)
    expect(_row(page_b, other).locator(".badge.status")).to_have_text("Acknowledged")
    assert Alert.objects.get(pk=other.pk).assigned_to == first
    page_a.context.close()
    page_b.context.close()


def test_reconnect_shows_alerts_missed_while_down_exactly_once(browser, live_url, cameras, django_user_model):
    dispatcher = user_with_role(django_user_model, "dispatcher1", "dispatcher")
    before = [_raise(cameras[0], kind=Alert.Kind.CROWD)]
    page = open_feed(browser, live_url, dispatcher)
    expect(page.locator("#feed li.alert")).to_have_count(1)
    # when the socket drops and three alerts are raised (and one changed) while it is down
    page.evaluate("window.ccFeed.drop(1500)")
    expect(page.locator("#conn")).to_have_attribute("data-state", "offline")
    missed = [_raise(cameras[i % 2], severity=2 + i % 3) for i in range(3)]
    _off_loop(services.alert_acknowledge, alert_id=before[0].pk, actor=dispatcher)
    # then after reconnecting, each shows exactly once and the change is applied
    expect(page.locator("#conn")).to_have_attribute("data-state", "connected", timeout=10_000)
    expect(page.locator("#feed li.alert")).to_have_count(4, timeout=3_000)
    ids = page.eval_on_selector_all("#feed li.alert", "rows => rows.map(r => r.dataset.id)")
    assert sorted(ids) == sorted(str(a.pk) for a in [*before, *missed])
    expect(_row(page, before[0]).locator(".badge.status")).to_have_text("Acknowledged")
    # and live pushes work again on the new socket
    after = _raise(cameras[0])
    expect(_row(page, after)).to_have_count(1, timeout=2_000)
    expect(page.locator("#feed li.alert")).to_have_count(5)
    page.context.close()


def test_scoped_dispatcher_never_receives_other_venue(browser, live_url, cameras, django_user_model):
    club_camera, park_camera = cameras
    user = user_with_role(django_user_model, "club-only", "dispatcher", [club_camera.venue])
    page = open_feed(browser, live_url, user)
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))))
    page.evaluate("window.ccFeed.drop(0)")  # reconnect so the frame listener sees the new socket
    expect(page.locator("#conn")).to_have_attribute("data-state", "connected", timeout=10_000)
    # the new socket's hello frame proves the listener watches the live socket before anything is raised
    for _ in range(50):
        if any('"hello"' in str(frame) for frame in frames):
            break
        page.wait_for_timeout(100)  # Playwright delivers frame events while the page waits
    assert any('"hello"' in str(frame) for frame in frames)
    # when alerts are raised at the park, then at the club
    theirs = _raise(park_camera, severity=4)
    mine = _raise(club_camera)
    # then only the club's shows, and the park's id never reached the browser
    expect(_row(page, mine)).to_be_visible(timeout=2_000)
    assert _row(page, theirs).count() == 0
    page.wait_for_timeout(500)
    assert not any(str(theirs.pk) in str(frame) for frame in frames)
    status = page.evaluate(f"fetch('/api/alerts/{theirs.pk}/').then(r => r.status)")
    assert status == 404
    page.goto(live_url + "/cameras/")
    expect(page.locator("li.tile")).to_have_count(1)
    page.context.close()


def test_auditor_cannot_act(browser, live_url, cameras, django_user_model):
    auditor = user_with_role(django_user_model, "auditor1", "auditor")
    alert = _raise(cameras[0])
    page = open_feed(browser, live_url, auditor)
    expect(_row(page, alert)).to_be_visible()
    # then no action buttons, the shortcut does nothing, and the API refuses
    assert _row(page, alert).locator("button[data-action]").count() == 0
    page.keyboard.press("j")
    page.keyboard.press("a")
    status = page.evaluate(
        """id => fetch('/api/alerts/' + id + '/acknowledge/', {method: 'POST',
             headers: {'Content-Type': 'application/json',
                       'X-CSRFToken': document.cookie.match(/csrftoken=([^;]+)/)[1]},
             body: '{}'}).then(r => r.status)""",
        str(alert.pk),
    )
    assert status == 403
    assert Alert.objects.get(pk=alert.pk).status == Alert.Status.NEW
    # auditors may read reports and see the camera wall, with each camera's figures in words and a
    # note when its fight detection is held because the camera moves
    Camera.objects.filter(pk=cameras[0].pk).update(
        health_state="online", health_stats={"analysed_fps": 5.0, "people": 3, "camera_moving": True}
    )
    page.goto(live_url + "/cameras/")
    expect(page.locator("li.tile")).to_have_count(2)
    moving = page.locator(f'li.tile[data-camera="{cameras[0].pk}"]')
    expect(moving.locator("[data-figures]")).to_have_text("3 people in view")
    expect(moving.locator("[data-details]")).to_be_hidden()
    expect(moving.locator("[data-notes]")).to_have_text("Camera moving: fight detection held until the view is steady.")
    expect(page.locator(f'li.tile[data-camera="{cameras[1].pk}"] [data-notes]')).to_be_hidden()
    shot(page, "camera_wall")
    page.goto(live_url + "/reports/")
    expect(page.locator("#report-venue tbody tr")).to_have_count(1)
    shot(page, "reports")
    page.goto(live_url + "/map/")
    expect(page.locator("#map svg circle")).to_have_count(2)
    shot(page, "map")
    page.context.close()
