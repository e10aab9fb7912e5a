"""A real Celery worker on the `dispatch` queue delivers a committed dispatch through an outage."""

# ruff: noqa: F811 - pytest fixtures imported from alerts.tests.dispatch_support

from __future__ import annotations

import time

from alerts.models import Delivery, DeliveryAttempt, DispatchEndpoint
from alerts.services import alert_dispatch
from alerts.tests.dispatch_support import (  # noqa: F401 - fixtures
    KEY,
    dispatch_worker,
    raise_alert,
    received,
    receiver,
    receiver_fail,
)

DELIVERY_TIMEOUT_S = 40


def _wait_for(condition, timeout_s: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_worker_delivers_a_committed_dispatch_once_after_an_outage(
    camera, django_user_model, receiver, dispatch_worker
):
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
