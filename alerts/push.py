"""Channels group names, the after-commit push of alert ids to dashboards, and moving an alert's change cursor."""

from __future__ import annotations

import logging
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

from alerts.models import Alert, NextChangeSeq

logger = logging.getLogger(__name__)

ALL_VENUES_GROUP = "alerts.all"


def venue_group(venue_id: uuid.UUID | str) -> str:
    """The group of dashboards allowed to see one venue."""
    return f"alerts.venue.{venue_id}"


def push_alert_changed(*, alert_id: uuid.UUID, venue_id: uuid.UUID, change_seq: int) -> None:
    """Tell dashboards (after commit) that an alert was raised or changed; ids only, never faces."""
    message = {"type": "alert.changed", "id": str(alert_id), "seq": change_seq}

    def send() -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            for group in (ALL_VENUES_GROUP, venue_group(venue_id)):
                async_to_sync(layer.group_send)(group, message)
        except Exception:  # a lost push is caught up by the dashboard's cursor fetch
            logger.warning("push of alert %s failed; dashboards catch up on reconnect", alert_id, exc_info=True)

    transaction.on_commit(send)


def alert_touch(*, alert_id: uuid.UUID) -> None:
    """Move the alert's change cursor (dashboards catch up) and push after commit."""
    Alert.objects.filter(pk=alert_id).update(change_seq=NextChangeSeq(), updated_at=timezone.now())
    alert = Alert.objects.only("venue_id", "change_seq").get(pk=alert_id)
    push_alert_changed(alert_id=alert.pk, venue_id=alert.venue_id, change_seq=alert.change_seq)
