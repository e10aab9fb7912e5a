"""Fixtures and helpers shared by the CAD dispatch and webhook tests (real receiver, real DB, real Redis)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import requests
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from alerts.cad.receiver import ReceiverProcess
from alerts.push import ALL_VENUES_GROUP

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
    from alerts import tasks

    sent: list[tuple[int, float | None]] = []

    def record(args: list[Any], countdown: float | None = None, **options: Any) -> None:
        sent.append((int(args[0]), countdown))

    monkeypatch.setattr(tasks.dispatch_deliver, "apply_async", record)
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
    """A channel in the all-venues dashboard group: what open dashboards would receive."""

    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.channel = async_to_sync(self.layer.new_channel)()
        async_to_sync(self.layer.group_add)(ALL_VENUES_GROUP, self.channel)

    def messages_for(self, alert_id: object, *, wait_s: float = 1.0) -> list[dict[str, Any]]:
        """Drain the channel once (its receive buffer binds to one event loop); pushes about one alert."""
        import asyncio

        async def drain() -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = []
            while True:
                try:
                    message = await asyncio.wait_for(self.layer.receive(self.channel), timeout=wait_s)
                except TimeoutError:
                    return found
                if message.get("id") == str(alert_id):
                    found.append(message)

        return async_to_sync(drain)()

    def close(self) -> None:
        async_to_sync(self.layer.group_discard)(ALL_VENUES_GROUP, self.channel)


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

    from alerts.dispatching import delivery_attempt
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
