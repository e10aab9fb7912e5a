"""With no DATABASE_URL / REDIS_URL the embedded PostgreSQL (with pgvector) and Redis start; data persists."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from commandcenter import embedded


@pytest.fixture
def var_dir() -> Iterator[Path]:
    """A var folder the PostgreSQL system user can reach: directly under the system temp folder, not under
    pytest's per-user base, which pytest resets to mode 0700 whenever another pytest run starts."""
    root = Path(tempfile.mkdtemp(prefix="cc-embedded-test-"))
    root.chmod(0o711)
    yield root / "var"
    shutil.rmtree(root, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_embedded_services_start_keep_data_across_restarts_and_stop(var_dir):
    env = {
        "CC_VAR_DIR": str(var_dir),
        "CC_EMBEDDED_PG_PORT": str(_free_port()),
        "CC_EMBEDDED_REDIS_PORT": str(_free_port()),
        "CC_EMBEDDED_KEEP": "1",
    }
    config = embedded.EmbeddedConfig.from_env(env)
    try:
        started = embedded.ensure_services(env)
        assert started == ["postgres", "redis"]
        assert env["DATABASE_URL"] == config.database_url
        with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            conn.execute("CREATE TABLE kept (v vector(3))")
            conn.execute("INSERT INTO kept VALUES ('[1,2,3]')")
        redis.Redis.from_url(env["REDIS_URL"]).set("kept", "yes")
        assert embedded.ensure_services({**env, "DATABASE_URL": "", "REDIS_URL": ""}) == []  # already running

        embedded.stop_services(config)
        assert embedded.status(config) == {"postgres": False, "redis": False}

        assert embedded.ensure_services({**env, "DATABASE_URL": "", "REDIS_URL": ""}) == ["postgres", "redis"]
        with psycopg.connect(env["DATABASE_URL"]) as conn:
            assert conn.execute("SELECT v::text FROM kept").fetchone() == ("[1,2,3]",)
        assert redis.Redis.from_url(env["REDIS_URL"]).get("kept") == b"yes"
    finally:
        embedded.stop_services(config)


def test_bad_embedded_port_is_a_clear_error():
    with pytest.raises(embedded.EmbeddedServiceError) as info:
        embedded.EmbeddedConfig.from_env({"CC_EMBEDDED_PG_PORT": "80"})
    assert "CC_EMBEDDED_PG_PORT must be a port number 1024-65535" in str(info.value)


USER_CODE = """
import pathlib, time
import redis
from django.conf import settings
from django.db import connection

started, until, deadline, rounds = pathlib.Path({started!r}), pathlib.Path({until!r}), None, 0
while deadline is None or time.monotonic() < deadline:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    redis.Redis.from_url(settings.REDIS_URL).ping()
    rounds += 1
    started.touch()
    if deadline is None and until.exists():
        deadline = time.monotonic() + {linger}
    if rounds > 2000:
        raise SystemExit("waited too long for " + until.name)
    time.sleep(0.05)
print("rounds", rounds)
"""


def _user(manage: list[str], env: dict[str, str], started: Path, until: Path, linger: float) -> subprocess.Popen:
    """A `manage.py shell` command that uses both servers until ``until`` appears, then ``linger`` s more."""
    code = USER_CODE.format(started=str(started), until=str(until), linger=linger)
    return subprocess.Popen(
        [*manage, "shell", "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _wait_for(path: Path, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while not path.exists():
        assert process.poll() is None, process.communicate()[1][-2000:]
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.05)


@pytest.mark.slow
def test_two_commands_at_once_share_the_servers_and_the_last_one_out_stops_them(tmp_path, var_dir):
    # given a checkout whose embedded servers are not running and whose database was never migrated
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL"}}
    env.pop("CC_EMBEDDED_KEEP", None)
    env.update(
        CC_VAR_DIR=str(var_dir),
        CC_EMBEDDED_PG_PORT=str(_free_port()),
        CC_EMBEDDED_REDIS_PORT=str(_free_port()),
        DJANGO_SETTINGS_MODULE="commandcenter.settings",
    )
    config = embedded.EmbeddedConfig.from_env(env)
    manage = [sys.executable, str(embedded.REPO_ROOT / "manage.py")]
    first_up, second_up, all_done = tmp_path / "first-up", tmp_path / "second-up", tmp_path / "all-done"
    try:
        # when one command starts the servers, a second joins, the first exits and a third runs while the second works
        first = _user(manage, env, first_up, until=second_up, linger=0.0)
        _wait_for(first_up, first)
        second = _user(manage, env, second_up, until=all_done, linger=1.0)
        first_out, first_err = first.communicate(timeout=120)
        unmigrated = subprocess.run([*manage, "audit_verify"], env=env, capture_output=True, text=True, timeout=120)
        all_done.touch()
        second_out, second_err = second.communicate(timeout=120)
        # then both worked to their end: the first one out left the servers to the second
        assert (first.returncode, second.returncode) == (0, 0), first_err[-1500:] + second_err[-1500:]
        assert first_out.splitlines()[-1].startswith("rounds ")
        assert second_out.splitlines()[-1].startswith("rounds ")
        # and a command on the unmigrated database said in one line what to run
        assert unmigrated.returncode == 1
        assert unmigrated.stderr.strip().splitlines() == [
            'error: the database is not migrated (relation "audit_chainanchor" does not exist): '
            "run `python manage.py migrate` first"
        ]
        # and the last one out stopped the servers
        assert embedded.status(config) == {"postgres": False, "redis": False}
        assert embedded.users(config) == []
    finally:
        embedded.stop_services(config)


@pytest.mark.slow
def test_pinned_servers_outlive_their_users_until_stopped(var_dir):
    # given servers started with `manage.py embedded start`
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        CC_VAR_DIR=str(var_dir),
        CC_EMBEDDED_PG_PORT=str(_free_port()),
        CC_EMBEDDED_REDIS_PORT=str(_free_port()),
    )
    config = embedded.EmbeddedConfig.from_env(env)
    manage = [sys.executable, str(embedded.REPO_ROOT / "manage.py")]
    try:
        started = subprocess.run([*manage, "embedded", "start"], env=env, capture_output=True, text=True, timeout=120)
        assert started.returncode == 0, started.stderr[-2000:]
        assert started.stdout.splitlines() == [
            "postgres: running",
            "redis: running",
            "users: none (pinned: left running until `manage.py embedded stop`)",
        ]
        # when a command uses them and exits
        used = subprocess.run(
            [*manage, "shell", "-c", "from django.db import connection; connection.ensure_connection()"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert used.returncode == 0, used.stderr[-2000:]
        # then they still run, until `embedded stop`
        assert embedded.status(config) == {"postgres": True, "redis": True}
        stopped = subprocess.run([*manage, "embedded", "stop"], env=env, capture_output=True, text=True, timeout=120)
        assert stopped.stdout.splitlines() == ["postgres: stopped", "redis: stopped", "users: none"]
    finally:
        embedded.stop_services(config)
