"""Celery tasks for CAD dispatch: thin wrappers that load ids and call `alerts.dispatch`.

Routed to the `dispatch` queue by CELERY_TASK_ROUTES (`alerts.tasks.dispatch_*`).
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

from alerts.dispatch import inbound, outbound
from alerts.models import MAX_ENDPOINT_TIMEOUT_S

logger = logging.getLogger(__name__)

# an attempt is bounded by the endpoint timeout; the hard limit leaves room for the database work
DELIVER_TIME_LIMIT_S = MAX_ENDPOINT_TIMEOUT_S + 30


@shared_task(
    name="alerts.tasks.dispatch_deliver",
    acks_late=True,
    time_limit=DELIVER_TIME_LIMIT_S,
    soft_time_limit=DELIVER_TIME_LIMIT_S - 10,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=8,
)
def dispatch_deliver(delivery_id: int) -> str:
    """One attempt of a delivery; requeues itself with the back-off the service chose."""
    outcome = outbound.delivery_attempt(delivery_id=delivery_id)
    if outcome.retry_in is not None:
        outbound.delivery_enqueue(delivery_id=delivery_id, countdown=outcome.retry_in)
    return outcome.state


@shared_task(name="alerts.tasks.dispatch_sweep", time_limit=120, soft_time_limit=110)
def dispatch_sweep() -> int:
    """Beat: re-queue overdue pending deliveries (lost messages, dead workers, broker outages)."""
    return outbound.delivery_sweep()


@shared_task(name="alerts.tasks.dispatch_nonce_purge", time_limit=120, soft_time_limit=110)
def dispatch_nonce_purge() -> int:
    """Beat: forget webhook nonces older than twice the signing window."""
    return inbound.webhook_nonce_purge()
