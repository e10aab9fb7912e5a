"""Writes on users: a user with a role and a venue scope."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, User
from django.db import transaction

from audit.models import AccessEvent
from audit.services import access_record
from core.roles import ADMIN, ROLES
from venues.models import OperatorScope


def user_ensure(
    *,
    username: str,
    password: str,
    role: str,
    email: str = "",
    all_venues: bool = True,
    actor: User | None = None,
) -> tuple[User, bool]:
    """Create a user with a role (or reset the password of an existing one); return (user, created)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    model = get_user_model()
    with transaction.atomic():
        user, created = model.objects.get_or_create(username=username, defaults={"email": email})
        user.set_password(password)
        user.is_staff = role == ADMIN
        user.save()
        user.groups.set([Group.objects.get(name=role)])
        OperatorScope.objects.update_or_create(user=user, defaults={"all_venues": all_venues})
        access_record(
            user=actor,
            action=AccessEvent.Action.CREATE if created else AccessEvent.Action.UPDATE,
            object_type="auth.user",
            object_id=user.pk,
            username="system" if actor is None else "",
            detail={"role": role},
        )
    return user, created
