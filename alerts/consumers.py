"""The dashboard's WebSocket: joins the groups of the venues the user may see, relays alert ids."""

from __future__ import annotations

import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from alerts.push import ALL_VENUES_GROUP, venue_group
from venues.selectors import sees_all_venues, venues_for

logger = logging.getLogger(__name__)


class AlertFeedConsumer(AsyncJsonWebsocketConsumer):
    """Sends `{"type": "alert.changed", "id", "seq"}` for alerts in the user's scope."""

    groups_joined: list[str]

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        groups = await self._groups_for(user)
        if groups is None:
            await self.close(code=4403)
            return
        self.groups_joined = groups
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", "groups": len(groups)})

    @database_sync_to_async
    def _groups_for(self, user: Any) -> list[str] | None:
        if not user.has_perm("alerts.view_alert"):
            return None
        if sees_all_venues(user):
            return [ALL_VENUES_GROUP]
        return [venue_group(venue_id) for venue_id in venues_for(user).values_list("id", flat=True)]

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def alert_changed(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "alert.changed", "id": event["id"], "seq": event["seq"]})

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})
