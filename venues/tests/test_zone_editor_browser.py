"""The zone editor in real headless Chromium against the uvicorn server of `tests.support.browser`
(its `live_url` and `browser` fixtures), with a real JPEG preview in Redis where stream workers put it.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import SCREENSHOTS, browser, live_url, open_admin  # noqa: F401 (fixtures)
from tests.support.zone_editor import ADD_URL, DRAWN, preview_store, scene_jpeg  # noqa: F401 (fixture)
from venues.models import Camera, Zone


def _click_at(page: Page, fractions: list[tuple[float, float]]) -> None:
    stage = page.locator("svg.zone-editor-stage")
    box = stage.bounding_box()
    assert box is not None
    for x, y in fractions:
        stage.click(position={"x": x * box["width"], "y": y * box["height"]})


def _textarea_points(page: Page) -> list[list[float]]:
    return json.loads(page.locator("#id_polygon").input_value())


def _close_to(points: list[list[float]], expected: list[tuple[float, float]]) -> bool:
    return len(points) == len(expected) and all(
        abs(x - ex) <= 0.02 and abs(y - ey) <= 0.02 for (x, y), (ex, ey) in zip(points, expected, strict=True)
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_admin_draws_a_zone_on_the_live_picture(browser, live_url, admin_user, camera, preview_store):  # noqa: F811
    # given the camera's stream worker has published a 640x360 picture
    preview_store(camera, scene_jpeg())
    errors: list[str] = []
    page = open_admin(browser, live_url, admin_user, f"{ADD_URL}?camera={camera.pk}", errors)
    editor = page.locator(".zone-editor")
    expect(editor).to_have_attribute("data-picture", "live", timeout=10_000)
    expect(page.locator("svg.zone-editor-stage")).to_have_attribute("viewBox", "0 0 640 360")
    expect(page.locator("[data-note]")).to_be_hidden()
    # when the admin clicks four corners on the picture
    _click_at(page, DRAWN)
    # then the textarea holds those four points as fractions, drawn as a polygon with numbered handles
    assert _close_to(_textarea_points(page), DRAWN), _textarea_points(page)
    expect(page.locator(".zone-editor-handle")).to_have_count(4)
    expect(page.locator(".zone-editor-handle text").last).to_have_text("4")
    expect(page.locator("svg.zone-editor-stage")).to_have_attribute(
        "aria-label", "Zone outline on the camera picture, points: 4"
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(".zone-editor").screenshot(path=str(SCREENSHOTS / "zone_editor.png"))
    # when the last point is undone (from the keyboard: the buttons are in the tab order)
    page.locator('[data-action="undo"]').focus()
    page.keyboard.press("Enter")
    drawn = _textarea_points(page)
    assert _close_to(drawn, DRAWN[:3]), drawn
    expect(page.locator(".zone-editor-handle")).to_have_count(3)
    # and the zone is named and saved
    page.locator("#id_name").fill("Dance floor")
    page.locator('input[name="_save"]').click()
    page.wait_for_url(f"{live_url}/admin/venues/zone/")
    # then the database row has exactly the three points the textarea showed
    assert Zone.objects.get(camera=camera, name="Dance floor").polygon == drawn
    assert errors == []
    page.context.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_typed_text_redraws_and_broken_text_is_kept(browser, live_url, admin_user, camera, preview_store):  # noqa: F811
    # given a second camera at the venue with a picture and a zone already drawn on it
    gate = Camera.objects.create(venue=camera.venue, name="Gate", stream_url="rtsp://10.0.0.6:554/s")
    Zone.objects.create(camera=gate, name="Queue", polygon=[[0.5, 0.5], [0.9, 0.5], [0.9, 0.9]])
    preview_store(gate, scene_jpeg(800, 600))
    errors: list[str] = []
    page = open_admin(browser, live_url, admin_user, ADD_URL, errors)
    editor, note = page.locator(".zone-editor"), page.locator("[data-note]")
    expect(note).to_have_text("Choose a camera to see its picture: points are fractions of the frame.")
    # when a camera without a picture is chosen, the area stays a neutral 16:9 frame with a note
    page.locator("#id_camera").select_option(str(camera.pk))
    expect(note).to_have_text("No live picture from this camera yet: points are fractions of the frame.")
    expect(editor).to_have_attribute("data-picture", "none")
    expect(page.locator("svg.zone-editor-stage")).to_have_attribute("viewBox", "0 0 1600 900")
    # when the other camera is chosen (as the admin's "add another" popup does: jQuery's trigger), its picture
    # and its existing zone (faintly) appear
    page.evaluate("id => django.jQuery('#id_camera').val(id).trigger('change')", str(gate.pk))
    expect(editor).to_have_attribute("data-picture", "live")
    expect(page.locator("svg.zone-editor-stage")).to_have_attribute("viewBox", "0 0 800 600")
    expect(page.locator(".zone-editor-other")).to_have_count(1)
    # when the points are typed, the drawing follows
    text = page.locator("#id_polygon")
    text.fill("[[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]]")
    expect(page.locator(".zone-editor-handle")).to_have_count(3)
    expect(page.locator(".zone-editor-shape")).to_have_attribute("points", "80,60 400,60 400,300")
    # when the text is broken, a polite note says so, and neither the drawing nor a click destroys the text
    text.fill("[[0.1, 0.1], [0.5")
    expect(page.locator("[data-error]")).to_contain_text("not a list of [x, y] points")
    expect(page.locator("[data-error]")).to_have_attribute("aria-live", "polite")
    _click_at(page, [(0.3, 0.8)])
    expect(text).to_have_value("[[0.1, 0.1], [0.5")
    expect(page.locator(".zone-editor-handle")).to_have_count(3)
    # when Clear is pressed, everything starts again
    page.locator('[data-action="clear"]').click()
    expect(text).to_have_value("")
    expect(page.locator(".zone-editor-handle")).to_have_count(0)
    expect(page.locator("[data-error]")).to_have_text("")
    assert errors == []
    page.context.close()
