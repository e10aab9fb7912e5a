"""Writes to venues, cameras and zones (validated, audited), plus camera health changes."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from audit.services import audited_delete, audited_save
from venues.models import Camera, Venue, Zone

logger = logging.getLogger(__name__)


def venue_save(*, actor: User | None, venue: Venue) -> Venue:
    """Create or update a venue."""
    result: Venue = audited_save(actor=actor, instance=venue)
    return result


def camera_save(*, actor: User | None, camera: Camera) -> Camera:
    """Create or update a camera; running sessions pick up the change at their next settings poll."""
    result: Camera = audited_save(actor=actor, instance=camera)
    return result


def zone_save(*, actor: User | None, zone: Zone) -> Zone:
    """Create or update a zone."""
    result: Zone = audited_save(actor=actor, instance=zone)
    return result


def object_delete(*, actor: User | None, instance: Venue | Camera | Zone) -> None:
    """Delete a venue, camera or zone (venues and cameras with alerts are protected)."""
    audited_delete(actor=actor, instance=instance)


def camera_report_health(*, camera_id: Any, state: str, stats: dict[str, Any], error: str = "") -> bool:
    """Store a session's health figures; return True when the state changed."""
    now = timezone.now()
    with transaction.atomic():
        camera = Camera.objects.select_for_update().get(pk=camera_id)
        changed = camera.health_state != state
        camera.health_state = state
        camera.health_stats = stats
        camera.last_error = error[:500]
        fields = ["health_state", "health_stats", "last_error", "updated_at"]
        if changed:
            camera.health_changed_at = now
            fields.append("health_changed_at")
            logger.info("camera %s health %s -> %s %s", camera.pk, camera.health_state, state, error)
        camera.save(update_fields=fields)
    return changed
