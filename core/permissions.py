"""DRF permission classes: Django model permissions, including `view` for reads."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from rest_framework.permissions import DjangoModelPermissions
from rest_framework.request import Request

from audit.models import AccessEvent
from audit.services import access_record


class ModelPermissions(DjangoModelPermissions):
    """Like DjangoModelPermissions, but a GET needs the model's `view` permission too; denials are audited."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request: Request, view: Any) -> bool:
        allowed = super().has_permission(request, view)
        if not allowed and request.user and request.user.is_authenticated:
            access_record(
                user=request.user,
                action=AccessEvent.Action.DENIED,
                object_type="api",
                object_id="",
                detail={"method": request.method, "path": request.path[:200]},
            )
        return allowed


class NoAccess(PermissionDenied):
    """A refusal whose message is meant for the person refused (translated): the 403 page shows it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.user_message = message
