"""Deployments in tests: an authorised one covering given cameras or venues, through the real services."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import Group, User
from django.utils import timezone

from core.roles import AUTHORISER, SUPERVISOR, ensure_role_groups
from oversight.models import Deployment
from oversight.services import DeploymentPlan, deployment_authorise, deployment_request, deployment_start_urgent
from venues.models import OperatorScope


def officer(username: str, role: str) -> User:
    """A user with one role who sees every venue (created once per test database)."""
    if not Group.objects.filter(name=role).exists():
        ensure_role_groups()
    user, created = User.objects.get_or_create(username=username)
    if created:
        user.set_password("correct-horse-battery")
        user.save()
        user.groups.add(Group.objects.get(name=role))
        OperatorScope.objects.create(user=user, all_venues=True)
    return User.objects.get(pk=user.pk)  # fresh permission cache


def plan(
    *,
    watchlists: Sequence[Any],
    cameras: Sequence[Any] = (),
    venues: Sequence[Any] = (),
    hours: float = 2.0,
    **extra: Any,
) -> DeploymentPlan:
    """A deployment plan starting now (a few seconds back) and lasting ``hours``."""
    now = timezone.now()
    values: dict[str, Any] = {
        "title": "Test deployment",
        "purpose": "Find the missing persons named on the list",
        "legal_basis": "Court order 1/26",
        "starts_at": now - timedelta(seconds=5),
        "ends_at": now + timedelta(hours=hours),
        "venues": tuple(venues),
        "cameras": tuple(cameras),
        "watchlists": tuple(watchlists),
    }
    values.update(extra)
    return DeploymentPlan(**values)


def authorised_deployment(
    *, watchlists: Sequence[Any], cameras: Sequence[Any] = (), venues: Sequence[Any] = (), **extra: Any
) -> Deployment:
    """Requested by a supervisor and authorised by an authoriser: face matching runs on what it covers."""
    requester = officer("requester1", SUPERVISOR)
    authoriser = officer("authoriser1", AUTHORISER)
    deployment = deployment_request(
        actor=requester, plan=plan(watchlists=watchlists, cameras=cameras, venues=venues, **extra)
    )
    return deployment_authorise(deployment_id=deployment.pk, actor=authoriser, note="test")


def urgent_deployment(
    *, watchlists: Sequence[Any], cameras: Sequence[Any] = (), venues: Sequence[Any] = (), **extra: Any
) -> Deployment:
    """Started at once by a supervisor, not yet authorised."""
    requester = officer("requester1", SUPERVISOR)
    deployment_plan = plan(watchlists=watchlists, cameras=cameras, venues=venues, **extra)
    return deployment_start_urgent(actor=requester, plan=deployment_plan, reason="A child is missing at the venue")
