"""Dispatch with feedback in real Chromium: the keyboard dispatch form sends the incident (chosen endpoint,
priority and note) through a real Celery worker to the reference CAD receiver; the alert page shows the
delivery state live (failed with the reason, retry, delivered) and the unit status the CAD sends back.

Run alone: `.venv/bin/python -m commandcenter.launcher test alerts/tests/test_browser_dispatch.py`.
"""

# ruff: noqa: F811 - pytest fixtures imported from tests.support.browser and alerts.tests.dispatch_support

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import expect

from alerts.models import Alert, DispatchEndpoint
from alerts.tests.dispatch_support import KEY, dispatch_worker, raise_alert, received, receiver_fail  # noqa: F401
from tests.support.browser import (  # noqa: F401 (fixtures; skips without Chromium)
    browser,
    live_url,
    open_feed,
    role_groups,
    shot,
    user_with_role,
)
from tools.cad.receiver import ReceiverProcess
from venues.models import Camera, Venue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def cad(live_url: str) -> Iterator[ReceiverProcess]:
    """The reference CAD receiver, sending unit status back to the web server under test."""
    with ReceiverProcess(keys=[KEY], status_url=f"{live_url}/api/cad/status/", status_key=KEY) as process:
        yield process


def test_dispatch_form_sends_to_the_cad_and_shows_delivery_and_unit_status(
    browser, live_url, cad, dispatch_worker, django_user_model
):
    # given a CAD endpoint allowing one attempt, whose receiver refuses the next post, and a fight alert
    venue = Venue.objects.create(name="Arena", district="Medeu", latitude="43.2", longitude="76.9")
    camera = Camera.objects.create(venue=venue, name="Street", stream_url="rtsp://10.0.0.5/s")
    DispatchEndpoint.objects.create(name="City CAD", url=cad.incidents_url, secret=KEY, timeout_s=5, max_attempts=1)
    receiver_fail(cad, 1)
    dispatcher = user_with_role(django_user_model, "dispatcher1", "dispatcher")
    alert = raise_alert(camera)  # before the page opens: it loads the alert, no push needed
    page = open_feed(browser, live_url, dispatcher)
    expect(page.locator(f'#feed li.alert[data-id="{alert.pk}"]')).to_be_visible()
    # when the dispatcher selects it with j and presses d, the form opens on the endpoint, priority from severity
    page.keyboard.press("j")
    page.keyboard.press("d")
    dialog = page.locator("#dispatch-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#dispatch-endpoint")).to_be_focused()
    expect(page.locator("#dispatch-endpoint option")).to_have_text(["City CAD"])
    expect(page.locator("#dispatch-priority")).to_have_value("2")
    expect(page.locator("#dispatch-what")).to_have_text("Fight · Arena · Street")
    shot(page, "dispatch_dialog")
    # and Esc cancels: nothing is sent
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert Alert.objects.get(pk=alert.pk).status == Alert.Status.NEW
    # when they open it again (the card's button), raise the priority, write a note and press Ctrl+Enter
    page.locator(f'#feed li.alert[data-id="{alert.pk}"] button[data-action="dispatch"]').click()
    expect(dialog).to_be_visible()
    page.locator("#dispatch-priority").select_option("1")
    page.locator("#dispatch-note").fill("Two men fighting by the kiosk")
    page.locator("#dispatch-note").press("Control+Enter")
    row = page.locator(f'#feed li.alert[data-id="{alert.pk}"]')
    expect(row.locator(".badge.status")).to_have_text("Dispatched", timeout=5_000)
    # then the alert page shows the delivery failed with the receiver's reason, and a retry button
    page.goto(f"{live_url}/alerts/{alert.pk}/")
    delivery = page.locator("#deliveries li.delivery")
    expect(delivery).to_have_attribute("data-status", "failed", timeout=30_000)
    expect(delivery).to_contain_text("City CAD")
    expect(delivery).to_contain_text("503")
    shot(page, "dispatch_failed")
    # when they retry, the worker delivers it and the page shows it delivered, live
    delivery.locator("button.retry").click()
    expect(delivery).to_have_attribute("data-status", "delivered", timeout=30_000)
    expect(delivery).to_contain_text("Delivered")
    incidents = received(cad)
    assert len(incidents) == 1
    body = incidents[0]["document"]
    assert body["incidentComponent"]["incidentCommonPriorityNumber"] == 1
    assert "Two men fighting by the kiosk" in json.dumps(body)
    # and when the CAD reports a unit en route, the page shows it without a reload
    answer = requests.post(
        f"{cad.url}/admin/status",
        json={"incident_id": str(alert.pk), "status": "en_route", "unit": "P-12", "cad_reference": "CAD-77"},
        timeout=10,
    )
    assert answer.json()["response"]["status"] == 202, answer.text
    unit = page.locator("#units tr.unit-status")
    expect(unit).to_have_count(1, timeout=5_000)
    expect(unit).to_contain_text("P-12")
    expect(unit).to_contain_text("Unit en route")
    expect(unit).to_contain_text("CAD-77")
    shot(page, "dispatch_delivered")
    # and the feed's card says the same at a glance
    page.goto(live_url + "/")
    card = page.locator(f'#feed li.alert[data-id="{alert.pk}"]')
    expect(card.locator(".badge.cad")).to_have_text("CAD: Delivered")
    expect(card.locator(".unit")).to_have_text("P-12: Unit en route")
    page.context.close()


def test_the_alert_page_counts_down_to_the_next_attempt_and_shows_a_queued_delivery(
    browser, live_url, django_user_model
):
    # given a dispatched alert whose delivery to one CAD failed once and waits 40 s, and is queued for another
    from datetime import timedelta

    from django.utils import timezone

    from alerts.models import Delivery

    venue = Venue.objects.create(name="Arena", district="Medeu", latitude="43.2", longitude="76.9")
    camera = Camera.objects.create(venue=venue, name="Street", stream_url="rtsp://10.0.0.5/s")
    alert = raise_alert(camera)
    Alert.objects.filter(pk=alert.pk).update(status=Alert.Status.DISPATCHED, dispatched_at=timezone.now())
    for name, attempts, error in (("City CAD", 1, "HTTP 503: simulated outage"), ("Backup CAD", 0, "")):
        endpoint = DispatchEndpoint.objects.create(name=name, url="http://127.0.0.1:9/incidents", secret=KEY)
        Delivery.objects.create(
            alert=alert,
            endpoint=endpoint,
            idempotency_key=f"{alert.pk}:0:{endpoint.pk}",
            attempts=attempts,
            last_error=error,
            next_attempt_at=timezone.now() + timedelta(seconds=40 if attempts else 0),
        )
    dispatcher = user_with_role(django_user_model, "dispatcher1", "dispatcher")
    page = open_feed(browser, live_url, dispatcher)
    page.goto(f"{live_url}/alerts/{alert.pk}/")
    # then each endpoint's state reads in words, the retry counting down with the last error
    retrying = page.locator('#deliveries li.delivery:has-text("City CAD")')
    expect(retrying).to_contain_text("Retrying in")
    expect(retrying).to_contain_text("attempt 1: HTTP 503: simulated outage")
    first = int(retrying.inner_text().split("Retrying in ")[1].split(" s")[0])
    assert 30 <= first <= 40
    later = first
    for _ in range(17):  # the page ticks once a second; a busy browser may run a tick late: 3.4 s at most
        page.wait_for_timeout(200)
        later = int(retrying.inner_text().split("Retrying in ")[1].split(" s")[0])
        if later <= first - 2:
            break
    assert later <= first - 2
    expect(page.locator('#deliveries li.delivery:has-text("Backup CAD")')).to_contain_text("Queued")
    assert page.locator("#deliveries button.retry").count() == 0  # nothing failed: nothing to retry
    page.context.close()
