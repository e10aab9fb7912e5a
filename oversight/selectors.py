"""Reads of deployments: the stream worker's per-camera window, and lists scoped to what a user may see."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q, QuerySet
from django.utils import timezone

from oversight.models import Deployment
from venues.selectors import sees_all_venues, venues_for


@dataclass(frozen=True, slots=True)
class FaceWindow:
    """The deployment a camera's face matching runs under: which watchlists, until when (epoch seconds)."""

    deployment_id: str
    title: str
    watchlist_ids: frozenset[uuid.UUID]
    until: float
    urgent: bool

    def active(self, now: float) -> bool:
        """Matching may run at ``now`` (epoch seconds): the per-frame check, a float comparison."""
        return now < self.until


def camera_face_window(camera_id: object, venue_id: object, now: datetime | None = None) -> FaceWindow | None:
    """The live deployment covering the camera (authorised first, then the one live longest); None: no matching."""
    now = now or timezone.now()
    best: tuple[tuple[bool, datetime], FaceWindow] | None = None
    for deployment in Deployment.objects.live(now).covering(camera_id, venue_id).prefetch_related("watchlists"):
        until = deployment.matching_until()
        if until is None:
            continue
        watchlists = frozenset(w.pk for w in deployment.watchlists.all() if w.active)
        urgent = deployment.status == Deployment.Status.URGENT_PENDING
        window = FaceWindow(str(deployment.pk), deployment.title, watchlists, until.timestamp(), urgent)
        key = (not urgent, until)
        if best is None or key > best[0]:
            best = (key, window)
    return best[1] if best else None


def deployments_for(user: User | AnonymousUser) -> QuerySet[Deployment]:
    """Deployments a user may see: all for all-venue roles, else those touching a venue in their scope."""
    if not user.is_authenticated or not user.has_perm("oversight.view_deployment"):
        return Deployment.objects.none()
    if sees_all_venues(user):
        return Deployment.objects.all()
    venues = venues_for(user)
    return Deployment.objects.filter(Q(venues__in=venues) | Q(cameras__venue__in=venues)).distinct()
