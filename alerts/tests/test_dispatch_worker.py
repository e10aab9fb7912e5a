"""A real Celery worker on the `dispatch` queue delivers a committed dispatch through an outage."""

# ruff: noqa: F811 - pytest fixtures imported from alerts.tests.dispatch_support

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from alerts.models import Delivery, DeliveryAttempt, DispatchEndpoint
from alerts.services import alert_dispatch
from alerts.tests.dispatch_support import (  # noqa: F401 - fixtures
    KEY,
    raise_alert,
    received,
    receiver,
    receiver_fail,
)

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 60
DELIVERY_TIMEOUT_S = 40


def _test_database_url() -> str:
    """The test database (not the development one) as a URL the worker's settings understand."""
    db = connection.settings_dict
    auth = quote(db["USER"] or "postgres", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker(transactional_db: None, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
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


def test_worker_delivers_a_committed_dispatch_once_after_an_outage(camera, django_user_model, receiver, worker):
    # (a plain user: earlier transactional tests flush the role groups the `dispatcher` fixture needs)
    dispatcher = django_user_model.objects.create_user(username="dispatcher-w", password="correct-horse-battery")
    # given a CAD endpoint whose receiver refuses the next two posts with 503
    receiver_fail(receiver, 2)
    DispatchEndpoint.objects.create(name="City CAD", url=receiver.incidents_url, secret=KEY, timeout_s=5)
    alert = raise_alert(camera)

    # when a dispatcher dispatches (committed: the worker reads it from the test database)
    alert_dispatch(alert_id=alert.pk, actor=dispatcher)
    delivery = Delivery.objects.get(alert=alert)
    settled = _wait_for(
        lambda: Delivery.objects.filter(pk=delivery.pk, status="delivered").exists(), DELIVERY_TIMEOUT_S
    )

    # then the worker retried with back-off and the incident arrived exactly once
    assert settled, Delivery.objects.get(pk=delivery.pk).last_error
    assert len(received(receiver, delivery.idempotency_key)) == 1
    attempts = list(DeliveryAttempt.objects.filter(delivery=delivery).values_list("number", "http_status"))
    assert attempts == [(1, 503), (2, 503), (3, 201)]
