"""`make run`: the banner's URL is where the web process really listens (honcho sets PORT=5000 in its children)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connection

from commandcenter import launcher

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _fetch(url: str, process: subprocess.Popen, log: Path) -> tuple[int, str]:
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the web process exited:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, response.read().decode()
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"nothing answered at the printed URL {url}:\n{log.read_text()[-2000:]}")


def test_printed_url_answers_from_the_run_commands_web_process(django_db_setup, tmp_path):
    # given the run command's environment (a chosen PORT, this test database and Redis)
    db_url = urlsplit(os.environ["DATABASE_URL"])._replace(path="/" + connection.settings_dict["NAME"])
    env = launcher._env()
    env.update(DATABASE_URL=db_url.geturl(), REDIS_URL=settings.REDIS_URL, PORT=str(_free_port()), CC_WEB_WORKERS="1")
    env.pop("CC_WEB_PORT", None)
    url = launcher.web_url(env)
    # when honcho starts the Procfile's web process the way `make run` does (it sets PORT=5000 inside)
    log = tmp_path / "web.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            launcher.honcho_command("web"),
            env=env,
            cwd=launcher.REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        status, body = _fetch(url + "login/", process, log)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    # then the printed URL serves the sign-in page
    assert url == f"http://127.0.0.1:{env['PORT']}/"
    assert status == 200
    assert 'name="password"' in body


def test_a_bad_port_is_refused_before_anything_starts():
    with pytest.raises(SystemExit, match="PORT must be a port number, got 'http'"):
        launcher.web_url({"PORT": "http"})
