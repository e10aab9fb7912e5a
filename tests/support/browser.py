"""A real browser against the shipped web server: headless Debian Chromium driven by Playwright, and
uvicorn (two worker processes, as the Procfile runs it) on a free port using the test database.

Import the fixtures into a test module (`from tests.support.browser import browser, live_url, role_groups`;
`role_groups` is autouse: transactional flushes remove the migration-made groups); a module that imports this
one is skipped without Chromium (failed under CI=true). `open_feed` signs a user in and opens the live feed.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from commandcenter.tests.otp import login_verified
from core.roles import ROLE_PERMISSIONS
from tests.support.required import unavailable
from venues.models import OperatorScope, Venue

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"
REPO = Path(settings.BASE_DIR)

if not CHROMIUM.exists():
    unavailable(f"browser tests need Debian chromium at {CHROMIUM} (apt-get install chromium)", module_level=True)

from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright  # noqa: E402

SERVER_START_S = 60  # two uvicorn workers importing Django on a busy 2-core machine


# --- server and browser ------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the web server exited early:\n{log.read_text()[-2000:]}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    pytest.fail(f"the web server did not listen on {port}:\n{log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def live_url(django_db_setup) -> Iterator[str]:
    """The web server as the Procfile runs it (uvicorn, 2 workers) on a free port, the test database and this Redis."""
    db_url = urlsplit(os.environ["DATABASE_URL"])._replace(path="/" + connection.settings_dict["NAME"])
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": db_url.geturl(),
        "REDIS_URL": settings.REDIS_URL,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),  # evidence written here is served there
        "DJANGO_SETTINGS_MODULE": "commandcenter.settings",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DEBUG": "0",
        "CC_HTTPS": "0",
        "LOG_LEVEL": "WARNING",
    }
    log = REPO / "artifacts" / "browser-web.log"  # kept for debugging failed runs
    log.parent.mkdir(exist_ok=True)
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "uvicorn", "commandcenter.asgi:application", "--host", "127.0.0.1"),
                *("--port", str(port), "--workers", "2", "--loop", "uvloop", "--http", "httptools"),
                *("--ws", "websockets-sansio", "--lifespan", "off", "--log-level", "warning"),
            ],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_port(port, process, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium driven by Playwright's sync API, whose event loop makes Django think it is async."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield instance
            instance.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


# --- the dashboard -------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def role_groups(transactional_db: None) -> None:
    """Role groups come from a data migration, which a transactional flush removes: recreate them."""
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        for perm in perms:
            app_label, codename = perm.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def user_with_role(django_user_model: Any, name: str, role: str, venues: list[Venue] | None = None) -> Any:
    """A signed-up operator with one role, scoped to `venues` (all venues when None)."""
    user = django_user_model.objects.create_user(username=name, password="correct-horse-battery")
    user.groups.add(Group.objects.get(name=role))
    scope = OperatorScope.objects.create(user=user, all_venues=venues is None)
    scope.venues.set(venues or [])
    return user


def open_feed(browser: Browser, live_url: str, user: Any, path: str = "/") -> Page:
    """A new browser context signed in as `user` (session cookie), on the live feed, connected."""
    client = Client()
    client.force_login(user)
    device = TOTPDevice.objects.create(user=user, name="test authenticator", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id  # second factor passed (admins, auditors)
    session.save()
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_url}])
    page = context.new_page()
    page.goto(live_url + path)
    expect(page.locator("#conn")).to_have_attribute("data-state", "connected", timeout=10_000)
    expect(page.locator("#feed")).to_have_attribute("aria-busy", "false")
    return page


def shot(page: Page, name: str) -> None:
    """Keep a full-page screenshot under artifacts/screenshots (for people reviewing a run)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


# --- admin pages -------------------------------------------------------------------------------


def open_admin(browser: Browser, live_url: str, user: Any, path: str, errors: list[str]) -> Page:
    """A new browser context signed in as `user` with a verified second factor, on `path`; console errors and
    page errors (a Content-Security-Policy violation is one) are collected into `errors`."""
    client = login_verified(Client(), user)
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_url}])
    page = context.new_page()
    page.on("console", lambda message: _console_error(message, errors))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(live_url + path)
    return page


def _console_error(message: ConsoleMessage, errors: list[str]) -> None:
    # Chromium asks for /favicon.ico by itself; the admin has none, and that 404 is not the page's doing
    if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
        errors.append(message.text)
