"""Watchlist subjects for tests: one place that knows what a lawful entry needs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from watchlists.models import Subject


def subject_on(watchlist: Any, actor: Any, name: str = "S", *, case: str = "Case 1/26", days: int = 30) -> Subject:
    """A subject on `watchlist` added by `actor`, with a legal basis, expiring in `days` days."""
    return Subject.objects.create(
        watchlist=watchlist,
        display_name=name,
        legal_basis_reference=case,
        added_by=actor,
        expires_at=timezone.now() + timedelta(days=days),
    )
