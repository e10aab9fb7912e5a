"""The zone admin draws the polygon on the camera's live picture; the JSON textarea stays the source of truth.

Page and form cases (Django test client); the browser cases are in test_zone_editor_browser.py, so these
run where no Chromium is installed.
"""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.utils import translation

from commandcenter.tests.otp import login_verified
from tests.support.zone_editor import ADD_URL
from venues.admin import ZoneForm
from venues.models import Camera, Zone


def _zone_form(camera: Camera, **overrides: str) -> dict[str, str]:
    data = {
        "camera": str(camera.pk),
        "name": "Bar counter",
        "polygon": "[[0.1, 0.2], [0.6, 0.2], [0.6, 0.9]]",
        "capacity": "40",
        "gathering_rate_per_min": "",
        "enabled": "on",
    }
    data.update(overrides)
    return data


# --- the page as the server renders it -------------------------------------------------------------


@pytest.mark.django_db
def test_add_page_renders_the_editor_for_the_camera_in_the_link(client, admin_user, camera):
    login_verified(client, admin_user)
    # when an admin follows "Draw a zone" from the camera's page
    door = Zone.objects.create(camera=camera, name="Door", polygon=[[0, 0], [0.2, 0], [0.2, 0.3]])
    camera_page = client.get(f"/admin/venues/camera/{camera.pk}/change/").content.decode()
    assert f'href="{ADD_URL}?camera={camera.pk}"' in camera_page
    # (each existing zone row links to its own page, where it is drawn on the picture)
    assert f'href="/admin/venues/zone/{door.pk}/change/"' in camera_page
    response = client.get(ADD_URL, {"camera": str(camera.pk)})
    # then the camera is chosen and the editor sits above the polygon textarea, its script and style as files
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<option value="{camera.pk}" selected>' in html
    assert '<svg class="zone-editor-stage"' in html
    assert 'role="img"' in html
    assert '<button type="button" class="button" data-action="undo">Undo last point</button>' in html
    assert '<button type="button" class="button" data-action="clear">Clear</button>' in html
    assert '<textarea name="polygon"' in html
    assert html.index('<svg class="zone-editor-stage"') < html.index('<textarea name="polygon"')
    assert 'src="/static/js/zone-editor.js"' in html
    assert 'href="/static/css/zone-editor.css"' in html
    assert 'data-preview-url="/cameras/{camera}/preview.jpg"' in html
    assert 'data-camera-input="id_camera"' in html


def test_editor_markup_has_no_inline_script_or_style():
    # the policy allows neither: behaviour comes from static/js/zone-editor.js, looks from static/css
    html = str(ZoneForm()["polygon"])
    assert "<script" not in html
    assert "style=" not in html
    assert not re.search(r"\son[a-z]+=", html)  # no onclick= or other handler attributes
    assert 'data-label-no-picture="No live picture from this camera yet: points are fractions of the frame."' in html


@pytest.fixture
def in_russian(client):  # type: ignore[no-untyped-def]
    """The client asks for Russian; the language LocaleMiddleware activated does not leak into later tests."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ru"
    yield client
    translation.deactivate()


@pytest.mark.django_db
def test_editor_texts_are_translated(in_russian, admin_user, camera):
    login_verified(in_russian, admin_user)
    html = in_russian.get(ADD_URL, {"camera": str(camera.pk)}).content.decode()
    assert ">Отменить последнюю точку</button>" in html
    assert ">Очистить</button>" in html
    assert "Снимка с этой камеры пока нет" in html


@pytest.mark.django_db
def test_posting_a_polygon_saves_it(client, admin_user, camera):
    login_verified(client, admin_user)
    response = client.post(ADD_URL, _zone_form(camera))
    assert response.status_code == 302, response.content.decode()[:2000]
    zone = Zone.objects.get(camera=camera, name="Bar counter")
    assert zone.polygon == [[0.1, 0.2], [0.6, 0.2], [0.6, 0.9]]
    assert zone.capacity == 40


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("polygon", "message"),
    [
        ("[[0.1, 0.2], [0.6, 0.2]]", "A zone polygon needs at least 3 points."),
        (
            "[[0.1, 0.2], [0.6, 0.2], [1.4, 0.9]]",
            "Point 3 lies outside the frame: coordinates are fractions from 0 to 1.",
        ),
        ("[[0.1, 0.2], [0.6", "Enter a valid JSON."),
    ],
)
def test_invalid_polygon_is_refused_and_the_text_kept(client, admin_user, camera, polygon, message):
    login_verified(client, admin_user)
    response = client.post(ADD_URL, _zone_form(camera, polygon=polygon))
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert f">\n{polygon}</textarea>" in html  # the operator's text comes back to be fixed, not lost
    assert not Zone.objects.exists()


# --- real browser ------------------------------------------------------------------------------------
