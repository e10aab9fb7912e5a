"""The alert feed WebSocket: who may connect, and who hears about which venue's alerts."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser, Group, Permission

from alerts import services
from alerts.consumers import AlertFeedConsumer
from alerts.models import Alert
from core.roles import ROLE_PERMISSIONS
from venues.models import Camera, OperatorScope, Venue

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _roles(transactional_db):
    """Role groups come from a data migration, which a transactional flush removes: recreate them."""
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        for perm in perms:
            app_label, codename = perm.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


@pytest.fixture
def two_venues(db):
    club = Venue.objects.create(name="Club Almaty", district="Medeu")
    park = Venue.objects.create(name="Central Park", district="Almaly")
    return (
        Camera.objects.create(venue=club, name="Entrance", stream_url="rtsp://10.0.0.5/s"),
        Camera.objects.create(venue=park, name="Gate", stream_url="rtsp://10.0.0.9/s"),
    )


def _user(django_user_model, name: str, role: str | None, venues: list[Venue] | None = None):
    user = django_user_model.objects.create_user(username=name, password="correct-horse-battery")
    if role:
        user.groups.add(Group.objects.get(name=role))
    scope = OperatorScope.objects.create(user=user, all_venues=venues is None)
    scope.venues.set(venues or [])
    return user


def _communicator(user) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(AlertFeedConsumer.as_asgi(), "/ws/alerts/")
    communicator.scope["user"] = user
    return communicator


raise_alert = database_sync_to_async(
    lambda camera: services.alert_raise(kind=Alert.Kind.FIGHT, camera=camera, severity=3, score=0.7).alert
)


def test_anonymous_connection_is_closed():
    async def scenario():
        connected, code = await _communicator(AnonymousUser()).connect()
        assert (connected, code) == (False, 4401)

    async_to_sync(scenario)()


def test_user_without_role_is_closed(django_user_model):
    user = _user(django_user_model, "nobody", None)

    async def scenario():
        connected, code = await _communicator(user).connect()
        assert (connected, code) == (False, 4403)

    async_to_sync(scenario)()


def test_scoped_dispatcher_hears_only_own_venue(django_user_model, two_venues):
    club_camera, park_camera = two_venues
    user = _user(django_user_model, "club-only", "dispatcher", [club_camera.venue])

    async def scenario():
        communicator = _communicator(user)
        connected, _ = await communicator.connect()
        assert connected
        assert await communicator.receive_json_from() == {"type": "hello", "groups": 1}
        # when an alert is raised at the park, then at the club
        await raise_alert(park_camera)
        club_alert = await raise_alert(club_camera)
        # then only the club's alert arrives, with its id and change number
        message = await communicator.receive_json_from(timeout=3)
        assert message == {"type": "alert.changed", "id": str(club_alert.pk), "seq": club_alert.change_seq}
        assert await communicator.receive_nothing(timeout=0.3)
        await communicator.disconnect()

    async_to_sync(scenario)()


def test_all_venue_user_hears_every_venue_and_pings(django_user_model, two_venues):
    club_camera, park_camera = two_venues
    auditor = _user(django_user_model, "auditor-ws", "auditor")

    async def scenario():
        communicator = _communicator(auditor)
        assert (await communicator.connect())[0]
        assert (await communicator.receive_json_from())["type"] == "hello"
        raised = [await raise_alert(park_camera), await raise_alert(club_camera)]
        received = [await communicator.receive_json_from(timeout=3) for _ in raised]
        assert [m["id"] for m in received] == [str(a.pk) for a in raised]
        await communicator.send_json_to({"type": "ping"})
        assert await communicator.receive_json_from() == {"type": "pong"}
        await communicator.disconnect()

    async_to_sync(scenario)()
