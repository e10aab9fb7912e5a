"""Reads of venues and cameras, scoped to what a user may see."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.core.cache import cache
from django.db.models import Q

from core.jobs import calibration_job_status
from core.redis import calibration_owner_key
from core.roles import ALL_VENUE_ROLES
from venues.models import Camera, OperatorScope, Venue


def sees_all_venues(user: User | AnonymousUser) -> bool:
    """Superusers, admins, auditors and operators scoped to all venues see every venue."""
    if not user.is_authenticated:
        return False
    if getattr(user, "is_superuser", False):
        return True
    if user.groups.filter(name__in=ALL_VENUE_ROLES).exists():  # type: ignore[attr-defined]
        return True
    return OperatorScope.objects.filter(user=user, all_venues=True).exists()


def venues_for(user: User | AnonymousUser):  # type: ignore[no-untyped-def]
    """The venues a user may see (empty for anonymous or unscoped operators)."""
    if not user.is_authenticated:
        return Venue.objects.none()
    if sees_all_venues(user):
        return Venue.objects.all()
    scope = OperatorScope.objects.filter(user=user).first()
    if scope is None:
        return Venue.objects.none()
    return Venue.objects.filter(Q(operators=scope) | Q(district__in=scope.districts)).distinct()


def cameras_for(user: User | AnonymousUser):  # type: ignore[no-untyped-def]
    """The cameras at venues the user may see."""
    return Camera.objects.filter(venue__in=venues_for(user)).select_related("venue")


JOB_OWNER_TTL_S = 7 * 86400


def calibration_job_remember(*, job_id: str, user: User, camera: Camera) -> None:
    """Note who started a calibration job on a recording, and for which camera (only they read it)."""
    cache.set(calibration_owner_key(job_id), f"{user.pk}:{camera.pk}", timeout=JOB_OWNER_TTL_S)


def calibration_job_get(
    *, job_id: str, user: User | AnonymousUser, camera: Camera | None = None
) -> dict[str, Any] | None:
    """A calibration job's state for the user who started it (and on that camera, when given); else None."""
    owner = cache.get(calibration_owner_key(job_id))
    if not isinstance(owner, str):
        return None
    user_id, _, camera_id = owner.partition(":")
    if user_id != str(user.pk) or (camera is not None and camera_id != str(camera.pk)):
        return None
    return calibration_job_status(job_id)
