"""Admin for deployments: read-only records; authorise, refuse and end through the same audited services.

Requests are filed on the Deployments page or through the API (they name venues, cameras and watchlists
that the service validates together)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from core.api import acting_user
from oversight import services
from oversight.models import Deployment


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Deployments of live face matching (changes only through the decision actions)."""

    list_display = ["title", "status", "starts_at", "ends_at", "requested_by", "decided_by", "urgent_deadline"]
    list_filter = ["status"]
    search_fields = ["title", "purpose", "legal_basis"]
    actions = ["authorise", "refuse", "end"]
    readonly_fields = [field.name for field in Deployment._meta.get_fields() if getattr(field, "concrete", False)]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the record of a deployment is kept

    def _apply(self, request: HttpRequest, queryset: Any, service: Callable[..., Any], note: str) -> None:
        for deployment in queryset:
            try:
                service(deployment_id=deployment.pk, actor=acting_user(request), note=note)
                self.message_user(request, f"{deployment}: {deployment.get_status_display()} → ok")
            except (PermissionDenied, ValidationError, services.DeploymentConflict) as exc:
                self.message_user(request, f"{deployment}: {exc}", level=messages.ERROR)

    @admin.action(description=_("Authorise the selected deployments"))
    def authorise(self, request: HttpRequest, queryset: Any) -> None:
        self._apply(request, queryset, services.deployment_authorise, "authorised in the admin")

    @admin.action(description=_("Refuse the selected deployments"))
    def refuse(self, request: HttpRequest, queryset: Any) -> None:
        self._apply(request, queryset, services.deployment_refuse, "refused in the admin")

    @admin.action(description=_("End the selected deployments now"))
    def end(self, request: HttpRequest, queryset: Any) -> None:
        self._apply(request, queryset, services.deployment_end, "ended in the admin")
