"""Fixtures and helpers shared by the CAD dispatch and webhook tests (real receiver, real DB, real Redis)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
from channels.layers import get_channel_layer
from django.db import connection

from alerts.push import ALL_VENUES_GROUP
from tools.cad.receiver import ReceiverProcess

KEY = "cad-shared-key-for-tests"
TIMEOUT = 5


@pytest.fixture(scope="module")
def receiver() -> Iterator[ReceiverProcess]:
    """The reference CAD receiver as a real server on loopback, one per test module."""
    with ReceiverProcess(keys=[KEY]) as process:
        yield process


@pytest.fixture
def healthy(receiver: ReceiverProcess) -> ReceiverProcess:
    """The receiver, running and with no simulated outage left over from another test."""
    if not receiver.running:
        receiver.start()
    receiver_fail(receiver, 0)
    return receiver


def receiver_fail(receiver: ReceiverProcess, count: int) -> None:
    """Make the receiver answer the next `count` incident posts with 503."""
    url = f"{receiver.url}/admin/fail?count={count}"
    requests.post(url, timeout=TIMEOUT).raise_for_status()


def received(receiver: ReceiverProcess, key: str | None = None) -> list[dict[str, Any]]:
    """Incidents the receiver stored, in arrival order (optionally one idempotency key)."""
    listing = requests.get(receiver.incidents_url, timeout=TIMEOUT).json()["incidents"]
    return [r for r in listing if key is None or r["idempotency_key"] == key]


@pytest.fixture
def endpoint(db: None, receiver: ReceiverProcess):  # type: ignore[no-untyped-def]
    from alerts.models import DispatchEndpoint

    return DispatchEndpoint.objects.create(
        name="City CAD", url=receiver.incidents_url, format="eido", secret=KEY, timeout_s=5, max_attempts=5
    )


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, float | None]]:
    """Record what would go to the `dispatch` queue instead of publishing it (tests run the task)."""
    from alerts.dispatch import outbound

    sent: list[tuple[int, float | None]] = []

    def record(name: str, *, args: list[Any], countdown: float | None = None, **options: Any) -> None:
        assert name == "alerts.tasks.dispatch_deliver"
        sent.append((int(args[0]), countdown))

    monkeypatch.setattr(outbound, "task_send", record)
    return sent


@pytest.fixture
def public_base(settings: Any) -> str:
    settings.CC_PUBLIC_BASE_URL = "https://cc.police.example.test"
    return str(settings.CC_PUBLIC_BASE_URL)


def raise_alert(camera: Any, *, kind: str = "fight", severity: int = 3, **extra: Any) -> Any:
    """A real alert through the service, with its own track."""
    from alerts.services import alert_raise

    result = alert_raise(
        kind=kind, camera=camera, severity=severity, score=0.91, track_key=f"t-{uuid.uuid4().hex[:8]}", **extra
    )
    return result.alert


class DashboardListener:
    """A live member of the all-venues dashboard group, as an open dashboard is.

    It runs on its own thread and event loop for its whole life, because the channel layer (Redis
    pub/sub by default) delivers only to subscribers that exist when a message is published.
    """

    def __init__(self) -> None:
        import asyncio
        import threading

        self.messages: list[dict[str, Any]] = []
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._task: Any = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the dashboard listener did not join its group")

    def _run(self) -> None:
        import asyncio

        asyncio.set_event_loop(self._loop)
        self._task = self._loop.create_task(self._listen())
        with contextlib.suppress(asyncio.CancelledError):
            self._loop.run_until_complete(self._task)

    async def _listen(self) -> None:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(ALL_VENUES_GROUP, channel)
        self._ready.set()
        try:
            while True:
                self.messages.append(await layer.receive(channel))
        finally:
            await layer.group_discard(ALL_VENUES_GROUP, channel)

    def messages_for(self, alert_id: object, *, wait_s: float = 1.0) -> list[dict[str, Any]]:
        """Pushes about one alert, waiting up to `wait_s` for the first and a moment for more."""
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and not self._matching(alert_id):
            time.sleep(0.02)
        time.sleep(0.2)
        return self._matching(alert_id)

    def _matching(self, alert_id: object) -> list[dict[str, Any]]:
        return [m for m in list(self.messages) if m.get("id") == str(alert_id)]

    def close(self) -> None:
        if self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(5)


@pytest.fixture
def dashboard() -> Iterator[DashboardListener]:
    listener = DashboardListener()
    yield listener
    listener.close()


def advance_until_settled(
    delivery_ids: list[int], *, start: datetime, rounds: int = 30, before_round: Any = None
) -> list[str]:
    """Run `delivery_attempt` on a fake clock jumping past every due time; newest first per round.

    Returns every outcome state in order. `before_round(i)` may change the world (restart the receiver).
    """
    import random

    from alerts.dispatch.outbound import delivery_attempt
    from alerts.models import Delivery

    clock, rng = start, random.Random(7)
    states: list[str] = []
    for number in range(rounds):
        if before_round is not None:
            before_round(number)
        pending = Delivery.objects.filter(pk__in=delivery_ids, status=Delivery.Status.PENDING)
        if not pending.exists():
            return states
        clock = max([clock, *(d.next_attempt_at for d in pending if d.next_attempt_at)])
        for delivery_id in sorted(pending.values_list("pk", flat=True), reverse=True):
            states.append(delivery_attempt(delivery_id=delivery_id, now=clock, rng=rng).state)
    raise AssertionError(f"deliveries not settled after {rounds} rounds: {states}")


# --- a real Celery worker on the dispatch queue ------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 60


def _test_database_url() -> str:
    """The test database (not the development one) as a URL the worker's settings understand."""
    db = connection.settings_dict
    auth = quote(db["USER"] or "postgres", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def dispatch_worker(transactional_db: None, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`celery -A commandcenter worker -Q dispatch --pool solo` against the test database."""
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "REDIS_URL": os.environ["REDIS_URL"],
        "CC_DISPATCH_BACKOFF_BASE_S": "0.2",
        "CC_DISPATCH_BACKOFF_CAP_S": "2",
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "worker.log"
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "commandcenter",
        "worker",
        "-Q",
        "dispatch",
        "--pool",
        "solo",
        "-n",
        f"dispatch-test-{uuid.uuid4().hex[:8]}@%h",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-l",
        "INFO",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for(lambda: b" ready." in log.read_bytes() or process.poll() is not None, READY_TIMEOUT_S)
        assert process.poll() is None, log.read_text()[-3000:]
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _wait_for(condition, timeout_s: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False
