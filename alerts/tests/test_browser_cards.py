"""Face-match cards in real Chromium: who matched (name, list with its colour and category, reference), the face
seen beside the enrolled photo, and repeated sightings of one subject folding into one card with a timeline.

Run alone: `.venv/bin/python -m commandcenter.launcher test alerts/tests/test_browser_cards.py`.
"""

# ruff: noqa: F811 - pytest fixtures imported from tests.support.browser

from __future__ import annotations

import datetime
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import cv2
import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.db import connections
from django.utils import timezone
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
from watchlists.models import FaceTemplate, Subject, Watchlist

T = TypeVar("T")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _jpeg(shade: int, size: int = 120) -> bytes:
    image = np.full((size, size, 3), shade, dtype=np.uint8)
    cv2.circle(image, (size // 2, size // 2), size // 3, (180, 150, 130), -1)
    return bytes(cv2.imencode(".jpg", image)[1].tobytes())


@pytest.fixture
def world(transactional_db, django_user_model) -> dict[str, Any]:
    owner = user_with_role(django_user_model, "owner", "admin")
    venue = Venue.objects.create(name="Arena", district="Medeu", latitude="43.2", longitude="76.9")
    cameras = [
        Camera.objects.create(venue=venue, name="North gate", stream_url="rtsp://10.0.0.5/s"),
        Camera.objects.create(venue=venue, name="Food court", stream_url="rtsp://10.0.0.6/s"),
    ]
    wanted = Watchlist.objects.create(
        name="City wanted list",
        category="wanted",
        legal_basis="Court order 12/2026",
        owner=owner,
        match_threshold=0.93,
        colour="#9333ea",
    )
    subject = Subject.objects.create(
        watchlist=wanted,
        display_name="Aidar Nurlanov",
        reference_number="WP-2026-0042",
        legal_basis_reference="Warrant 7/2026",
        added_by=owner,
        expires_at=timezone.now() + datetime.timedelta(days=30),
    )
    template = FaceTemplate(subject=subject, quality_score=0.9, box={"x": 0, "y": 0, "w": 120, "h": 120})
    template.source_photo.save("source.jpg", ContentFile(_jpeg(60)), save=False)
    template.face_crop.save("crop.jpg", ContentFile(_jpeg(60)), save=False)
    template.save()
    return {"cameras": cameras, "subject": subject, "template": template}


def _off_loop(function: Callable[..., T], **kwargs: Any) -> T:
    """Run a service in a plain thread: Playwright's loop in this one makes async_to_sync refuse pushes."""

    def call() -> T:
        try:
            return function(**kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


def _sight(world: dict[str, Any], camera: Camera, track: int, at: datetime.datetime, score: float) -> Any:
    crop = services.EvidenceFile("face_crop", _jpeg(90 + track), "image/jpeg", "crop.jpg")
    return _off_loop(
        services.alert_raise,
        kind="face_match",
        camera=camera,
        severity=2,
        score=score,
        subject=world["subject"],
        template=world["template"],
        track_key=f"{world['subject'].pk}:{track}",
        evidence=[crop],
        seen_at=at,
    )


def _loaded(page: Page, selector: str) -> int:
    page.wait_for_function(
        "s => [...document.querySelectorAll(s)].every(i => i.complete && i.naturalWidth > 0)", arg=selector
    )
    return int(page.locator(selector).count())


def test_face_card_names_the_subject_with_list_and_photos(browser, live_url, world, django_user_model):
    # given a dispatcher with the feed open
    dispatcher = user_with_role(django_user_model, "dispatcher1", "dispatcher")
    page = open_feed(browser, live_url, dispatcher)
    # when the subject is matched
    alert = _sight(world, world["cameras"][0], 1, timezone.now(), 0.962).alert
    card = page.locator(f'#feed li.alert[data-id="{alert.pk}"]')
    # then the card names them, their list (its colour) and category, reference and similarity, with both photos
    expect(card.locator(".subject-name")).to_have_text("Aidar Nurlanov", timeout=3_000)
    expect(card.locator(".watchlist-line")).to_contain_text("City wanted list")
    expect(card.locator(".watchlist-line")).to_contain_text("WP-2026-0042")
    expect(card.locator(".watchlist-line")).to_contain_text("0.962")
    expect(card.locator(".wl-chip")).to_have_text("Wanted persons")
    expect(card.locator(".badge.sev")).to_have_text("High")
    expect(card).to_contain_text("Arena · North gate")
    assert _loaded(page, f'#feed li.alert[data-id="{alert.pk}"] img.thumb') == 2
    assert card.evaluate("n => getComputedStyle(n).getPropertyValue('--wl').trim()") == "#9333ea"
    shot(page, "face_card")
    # and the detail page shows the same, the faces side by side
    page.goto(f"{live_url}/alerts/{alert.pk}/")
    expect(page.locator("#face-who")).to_contain_text("Aidar Nurlanov")
    expect(page.locator("#face-who")).to_contain_text("City wanted list")
    expect(page.locator("#face-who")).to_contain_text("WP-2026-0042")
    assert _loaded(page, "#face img") == 3  # probe, enrolled photo, the first sighting's crop
    shot(page, "face_detail")
    page.context.close()


def test_repeated_sightings_fold_into_one_card_with_a_timeline(browser, live_url, world, django_user_model):
    dispatcher = user_with_role(django_user_model, "dispatcher1", "dispatcher")
    page = open_feed(browser, live_url, dispatcher)
    north, food = world["cameras"]
    start = timezone.now()
    alert = _sight(world, north, 1, start, 0.95).alert
    card = page.locator(f'#feed li.alert[data-id="{alert.pk}"]')
    expect(card).to_be_visible(timeout=3_000)
    # when the subject is seen again on another camera and again on the first (new tracks, within 10 min)
    _sight(world, food, 2, start + datetime.timedelta(minutes=2), 0.97)
    _sight(world, north, 3, start + datetime.timedelta(minutes=4), 0.94)
    # then the feed still shows one card, counting three sightings
    expect(card.locator(".badge.sightings")).to_have_text("Sightings: 3", timeout=3_000)
    expect(page.locator("#feed li.alert")).to_have_count(1)
    assert Alert.objects.count() == 1
    # and the detail lists the sightings in order, camera by camera, each with its face
    page.goto(f"{live_url}/alerts/{alert.pk}/")
    rows = page.locator("#timeline tr.sighting")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("North gate")
    expect(rows.nth(1)).to_contain_text("Food court")
    expect(rows.nth(1)).to_contain_text("0.970")
    expect(rows.nth(2)).to_contain_text("North gate")
    expect(page.locator("#sightings-count")).to_have_text("3")
    assert _loaded(page, "#timeline img") == 3
    shot(page, "face_sightings")
    page.context.close()
