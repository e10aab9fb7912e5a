"""A real browser against the shipped web server: headless Debian Chromium driven by Playwright, and
uvicorn (two worker processes, as the Procfile runs it) on a free port using the test database.

Import the fixtures into a test module (`from tests.support.browser import browser, live_url`); a module
that imports this one is skipped without Chromium (failed under CI=true).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connection

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
    message = f"browser tests need Debian chromium at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " -- required under CI=true", pytrace=False)
    pytest.skip(message, allow_module_level=True)

from playwright.sync_api import Browser, sync_playwright  # noqa: E402

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
