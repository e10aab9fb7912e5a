"""Every page for every role in real Chromium: no console error, no failed request, no CSP violation, no
broken image; the favicon, the language menu, the styled 403 and the TOTP QR code as a newcomer sees them.

Run alone: `.venv/bin/python -m commandcenter.launcher test commandcenter/tests/test_browser_pages.py`.
"""

# ruff: noqa: F811 - pytest fixtures imported from tests.support.browser

from __future__ import annotations

import datetime
from typing import Any

import cv2
import numpy as np
import pytest
from django.conf import settings
from django.contrib import admin
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Browser, Page, Response, expect

from alerts import services
from commandcenter.tests.otp import login_verified
from tests.support.browser import browser, live_url, role_groups, shot, user_with_role  # noqa: F401
from venues.models import Camera, Venue, Zone
from watchlists.models import FaceTemplate, Subject, Watchlist

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROLES = ["dispatcher", "supervisor", "admin", "auditor"]
APP_PAGES = [
    "/",
    "/cameras/",
    "/map/",
    "/reports/",
    "/watchlists/check/",
    "/audit/",
    "/audit/verify/",
    "/oversight/deployments/",
    "/oversight/transparency/",
    "/oversight/search/",
    "/api/docs/",
]


def _jpeg(size: int = 96) -> bytes:
    image = np.full((size, size, 3), 70, dtype=np.uint8)
    cv2.circle(image, (size // 2, size // 2), size // 3, (170, 150, 140), -1)
    return bytes(cv2.imencode(".jpg", image)[1].tobytes())


@pytest.fixture
def world(transactional_db: None, django_user_model: Any) -> dict[str, Any]:
    """A venue with a camera and zone, a watchlist with an enrolled subject, a face alert and a fight alert."""
    owner = user_with_role(django_user_model, "owner", "admin")
    venue = Venue.objects.create(name="Arena", district="Medeu", latitude="43.2", longitude="76.9")
    camera = Camera.objects.create(
        venue=venue, name="Gate", stream_url="rtsp://10.0.0.5/s", latitude="43.201", longitude="76.901"
    )
    Zone.objects.create(camera=camera, name="Door", polygon=[[0.1, 0.1], [0.9, 0.1], [0.9, 0.9]], capacity=5)
    wanted = Watchlist.objects.create(
        name="Wanted", category="wanted", legal_basis="Order 1", owner=owner, match_threshold=0.93
    )
    subject = Subject.objects.create(
        watchlist=wanted,
        display_name="Aidar Nurlanov",
        reference_number="WP-1",
        legal_basis_reference="W-1",
        added_by=owner,
        expires_at=timezone.now() + datetime.timedelta(days=9),
    )
    template = FaceTemplate(subject=subject, quality_score=0.9, box={"x": 0, "y": 0, "w": 96, "h": 96})
    template.source_photo.save("source.jpg", ContentFile(_jpeg()), save=False)
    template.face_crop.save("crop.jpg", ContentFile(_jpeg()), save=False)
    template.save()
    crop = services.EvidenceFile("face_crop", _jpeg(), "image/jpeg", "crop.jpg")
    face = services.alert_raise(
        kind="face_match",
        camera=camera,
        severity=2,
        score=0.96,
        subject=subject,
        template=template,
        track_key=f"{subject.pk}:1",
        evidence=[crop],
    ).alert
    snapshot = services.EvidenceFile("snapshot", _jpeg(160), "image/jpeg", "snap.jpg")
    fight = services.alert_raise(
        kind="fight", camera=camera, severity=3, score=0.8, track_key="f1", evidence=[snapshot]
    ).alert
    return {"camera": camera, "venue": venue, "watchlist": wanted, "subject": subject, "alerts": [face, fight]}


def _admin_pages(world: dict[str, Any]) -> list[str]:
    """Every admin changelist and add page, and the change pages of the objects the world made."""
    pages = ["/admin/"]
    for model in admin.site._registry:
        info = (model._meta.app_label, model._meta.model_name)
        pages.append(reverse("admin:{}_{}_changelist".format(*info)))
        pages.append(reverse("admin:{}_{}_add".format(*info)))
    for key in ("camera", "venue", "watchlist", "subject"):
        obj = world[key]
        pages.append(reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk]))
    return pages


class PageProblems:
    """Console errors, page errors, failed requests and broken images of one browser context."""

    def __init__(self, page: Page) -> None:
        self.items: list[str] = []
        self.expected_status: dict[str, int] = {}
        page.on(
            "console",
            lambda m: (
                self.items.append(f"console: {m.text} @ {m.location.get('url', '')}")
                if m.type == "error" and not self._expected(m.text, m.location.get("url", ""))
                else None
            ),
        )
        page.on("pageerror", lambda e: self.items.append(f"pageerror: {e}"))
        page.on("response", self._response)

    def _expected(self, text: str, url: str) -> bool:
        status = self.expected_status.get(url.split("#")[0])
        return status is not None and f"status of {status}" in text

    def _response(self, response: Response) -> None:
        if response.status >= 400 and self.expected_status.get(response.url) != response.status:
            self.items.append(f"HTTP {response.status}: {response.url}")


def _open(browser: Browser, live_url: str, user: Any) -> tuple[Page, PageProblems]:
    client = login_verified(Client(), user)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_url}])
    page = context.new_page()
    return page, PageProblems(page)


def _visit(page: Page, problems: PageProblems, url: str) -> int:
    """Open a page, let its scripts and images settle, and report broken images as problems. A refused page
    (403) or a missing one (404) is an answer, not a fault: its own load error in the console is dropped."""
    response = page.goto(url)
    status = response.status if response else 0
    page.wait_for_load_state("networkidle")
    if response is not None and status in (403, 404):
        final = response.url
        problems.expected_status[final] = status
        problems.items[:] = [
            p for p in problems.items if not (p.endswith(f"@ {final}") or p == f"HTTP {status}: {final}")
        ]
    broken = page.eval_on_selector_all(
        "img",
        "imgs => imgs.filter(i => i.getAttribute('src') && i.complete && i.naturalWidth === 0)"
        ".map(i => i.getAttribute('src'))",
    )
    problems.items.extend(f"broken image {src} on {url}" for src in broken)
    return status


@pytest.mark.parametrize("role", ROLES)
def test_every_page_has_no_console_error_for_each_role(browser, live_url, world, django_user_model, role):
    # given a user of the role (staff for admins, as the demo makes them)
    user = user_with_role(django_user_model, f"{role}1", role)
    if role == "admin":
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    page, problems = _open(browser, live_url, user)
    pages = [*APP_PAGES, *(f"/alerts/{a.pk}/" for a in world["alerts"])]
    if role == "admin":
        pages += _admin_pages(world)
    statuses = {}
    # when they open every page
    for path in pages:
        statuses[path] = _visit(page, problems, live_url + path)
    # then no page logged an error, violated the CSP, failed a request or showed a broken image
    (settings.BASE_DIR / "artifacts").mkdir(exist_ok=True)
    (settings.BASE_DIR / "artifacts" / f"console-{role}.txt").write_text("\n".join(problems.items))
    assert problems.items == [], "\n".join(problems.items)
    # and the pages they may not open are the styled 403, never a server error
    assert all(status in (200, 403) for status in statuses.values()), statuses
    page.context.close()


def test_the_sign_in_page_has_no_console_error(browser, live_url, transactional_db):
    context = browser.new_context()
    page = context.new_page()
    problems = PageProblems(page)
    assert _visit(page, problems, live_url + "/login/") == 200
    expect(page.locator("input[name=username]")).to_be_visible()
    assert problems.items == [], "\n".join(problems.items)
    context.close()


def test_a_newcomer_sees_favicon_own_language_names_and_the_auditor_navigation(
    browser, live_url, world, django_user_model
):
    auditor = user_with_role(django_user_model, "auditor1", "auditor")
    page, problems = _open(browser, live_url, auditor)
    _visit(page, problems, live_url + "/")
    # the language menu names each language in itself, whatever the page's language
    expect(page.locator("select[name=language] option")).to_have_text(["English", "Русский", "Қазақша"])
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert page.request.get(live_url + icon).status == 200
    assert page.request.get(live_url + "/favicon.ico").status == 200
    # the auditor's navigation leads to the audit log; no dispatcher-only page is offered
    nav = page.locator("header nav a")
    labels = nav.all_inner_texts()
    assert {"Alerts", "Reports", "Audit log"} <= set(labels), labels
    assert "Photo check" not in labels
    assert "Administration" not in labels
    page.locator("header nav a", has_text="Audit log").click()
    expect(page).to_have_url(live_url + "/audit/")
    expect(page.locator('header nav a[aria-current="page"]')).to_have_text("Audit log")
    shot(page, "auditor_audit_log")
    assert problems.items == [], "\n".join(problems.items)
    page.context.close()


def test_a_dispatcher_meets_the_styled_403_in_their_language(browser, live_url, world, django_user_model):
    dispatcher = user_with_role(django_user_model, "dispatcher1", "dispatcher")
    page, problems = _open(browser, live_url, dispatcher)
    assert _visit(page, problems, live_url + "/audit/") == 403
    expect(page.locator("h1")).to_have_text("No access")
    expect(page.locator("#denied-reason")).to_have_text("The audit log is for auditors.")
    expect(page.locator("header nav a").first).to_have_text("Alerts")  # the app's own layout
    shot(page, "denied_audit")
    # in Russian after switching the language in the top bar
    page.locator("select[name=language]").select_option("ru")
    page.wait_for_load_state("networkidle")
    expect(page.locator("h1")).to_have_text("Нет доступа")
    assert _visit(page, problems, live_url + "/admin/") == 403
    expect(page.locator("#denied-reason")).to_have_text("У вашей учётной записи нет доступа к администрированию.")
    assert problems.items == [], "\n".join(problems.items)
    page.context.close()


def test_totp_setup_shows_a_qr_code_allowed_by_the_csp(browser, live_url, django_user_model, transactional_db):
    pytest.importorskip("segno", reason="segno (requirements.txt) is not installed: run make setup")
    admin_user = user_with_role(django_user_model, "admin1", "admin")
    client = Client()
    client.force_login(admin_user)
    context = browser.new_context()
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_url}])
    page = context.new_page()
    problems = PageProblems(page)
    page.goto(live_url + "/login/2fa-setup/")
    qr = page.locator("figure.qr-box svg.qr")
    expect(qr).to_be_visible()
    box = qr.bounding_box()
    assert box is not None
    assert box["width"] >= 150
    assert page.locator("code.otpauth").inner_text().startswith("otpauth://totp/")
    shot(page, "totp_setup")
    assert problems.items == [], "\n".join(problems.items)
    context.close()


def test_the_admin_is_dark_like_the_app_and_a_watchlist_lists_its_subjects(browser, live_url, world, django_user_model):
    admin_user = user_with_role(django_user_model, "admin1", "admin")
    admin_user.is_staff = True
    admin_user.save(update_fields=["is_staff"])
    page, problems = _open(browser, live_url, admin_user)
    watchlist = world["watchlist"]
    assert _visit(page, problems, f"{live_url}/admin/watchlists/watchlist/{watchlist.pk}/change/") == 200
    subjects = page.locator(".cc-subjects")
    expect(subjects.locator("h2")).to_have_text("1 subject on this list")
    expect(subjects.locator("tbody tr")).to_have_count(1)
    expect(subjects.locator("tbody tr")).to_contain_text("Aidar Nurlanov")
    expect(subjects.locator("tbody tr")).to_contain_text("WP-1")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(15, 20, 25)"  # the app's --bg, not the stock white
    shot(page, "admin_watchlist")
    assert problems.items == [], "\n".join(problems.items)
    page.context.close()
