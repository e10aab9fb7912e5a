"""Beat task: urgent deployments not authorised in time lose their face-match data (thin: calls the service)."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from oversight.services import deployments_lapse


@shared_task(
    name="oversight.tasks.urgent_lapse",
    time_limit=600,
    soft_time_limit=590,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=30,
    max_retries=3,
)
def urgent_lapse() -> list[str]:
    """Every 10 minutes: mark lapsed urgent deployments refused and purge their face-match alerts (audited).

    Matching already stopped at the deadline by itself (the worker compares times); this removes the data.
    """
    return deployments_lapse()
