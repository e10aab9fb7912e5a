"""Redis leases: one holder, compare-and-set renew/release, expiry, start claims, the assigner."""

from __future__ import annotations

import time
import uuid

import pytest

from core.redis import lease_key, redis_client
from workers import lease as leases


@pytest.fixture
def client():
    return redis_client()


@pytest.fixture
def key(client):
    name = f"cc:test:lease:{uuid.uuid4().hex}"
    yield name
    client.delete(name)


def test_only_one_holder_and_only_the_holder_renews_or_releases(client, key):
    # given a lease taken by A
    a = leases.Lease(client, key, ttl_s=5.0)
    b = leases.Lease(client, key, ttl_s=5.0)
    assert a.acquire()
    # when B tries to take, renew or release it
    # then B fails every time and A still holds it
    assert not b.acquire()
    assert not b.renew()
    assert not b.release()
    assert a.holder() == a.token
    assert a.renew()
    assert a.held
    assert a.release()
    assert a.holder() is None
    assert not a.held


def test_lapsed_lease_goes_to_the_next_and_the_old_holder_cannot_renew(client, key):
    # given A's lease lapsed without renewal
    a = leases.Lease(client, key, ttl_s=0.3)
    assert a.acquire()
    time.sleep(0.45)
    assert not a.held
    # when B takes it
    b = leases.Lease(client, key, ttl_s=5.0)
    assert b.acquire()
    # then A's renew and release do not touch B's lease
    assert not a.renew()
    assert not a.release()
    assert b.holder() == b.token


def test_start_claim_guards_double_enqueue(client):
    camera_id = uuid.uuid4()
    assert leases.claim_start(client, camera_id, 5.0)
    assert not leases.claim_start(client, camera_id, 5.0)
    leases.clear_start_claim(client, camera_id)
    assert leases.claim_start(client, camera_id, 5.0)
    leases.clear_start_claim(client, camera_id)


def test_draining_flag(client):
    host = f"streams@{uuid.uuid4().hex[:8]}"
    assert not leases.is_draining(client, host)
    leases.mark_draining(client, host, ttl_s=5.0)
    assert leases.is_draining(client, host)
    leases.clear_draining(client, host)
    assert not leases.is_draining(client, host)


def test_assigner_enqueues_cameras_without_lease_once(client, camera, venue):
    from venues.models import Camera
    from workers.assignment import assign_cameras_once

    # given one enabled camera with no lease, one disabled, one held by a live session
    disabled = Camera.objects.create(venue=venue, name="Off", stream_url="rtsp://10.0.0.6/s", enabled=False)
    held = Camera.objects.create(venue=venue, name="Held", stream_url="rtsp://10.0.0.7/s")
    holder = leases.Lease(client, lease_key(held.pk), ttl_s=5.0)
    assert holder.acquire()
    queued: list[str] = []
    try:
        # when the assigner runs twice in a row
        first = assign_cameras_once(enqueue=queued.append, claim_s=5.0)
        second = assign_cameras_once(enqueue=queued.append, claim_s=5.0)
        # then only the free enabled camera is queued, and only once
        assert first == [str(camera.pk)]
        assert second == []
        assert queued == [str(camera.pk)]
        assert str(disabled.pk) not in queued
    finally:
        holder.release()
        leases.clear_start_claim(client, camera.pk)


def test_beat_schedule_and_routes(settings):
    schedule = settings.CELERY_BEAT_SCHEDULE["assign-cameras"]
    assert schedule["task"] == "workers.tasks.assign_cameras"
    assert schedule["schedule"] <= 5.0
    assert settings.CELERY_TASK_ROUTES["workers.tasks.assign_cameras"] == {"queue": "default"}


def test_session_task_acks_early_and_has_backstop_limits(settings):
    from workers.tasks import camera_session

    assert camera_session.acks_late is False
    assert camera_session.time_limit > settings.CC_SESSION_MAX_S
    assert camera_session.soft_time_limit > settings.CC_SESSION_MAX_S
