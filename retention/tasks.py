"""Beat tasks: retention and expiry notices (thin: they call the services)."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.db import InterfaceError, OperationalError

from retention.services import retention_run, subjects_notify_expiring


@shared_task(
    name="retention.tasks.retention",
    time_limit=1800,
    soft_time_limit=1780,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=60,
    max_retries=3,
)
def retention() -> dict[str, Any]:
    """Daily: purge what is past its retention period; returns the counts."""
    return retention_run(dry_run=False).counts()


@shared_task(
    name="retention.tasks.notify_expiring",
    time_limit=600,
    soft_time_limit=590,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=60,
    max_retries=3,
)
def notify_expiring() -> int:
    """Daily: tell owners about watchlist entries that expire soon (once per entry)."""
    return len(subjects_notify_expiring())
