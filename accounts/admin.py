"""User administration: admins manage operators, only superusers grant privileged roles; every change audited."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Group, User
from django.http import HttpRequest

from audit.models import AccessEvent
from audit.services import access_record

PRIVILEGED_ROLES = ("admin", "auditor", "authoriser")


class GuardedUserAdmin(UserAdmin):
    """Admins manage operators; only superusers grant admin/auditor roles, superuser status or raw
    permissions, nobody edits their own roles, and every change is audited."""

    def _privileged(self, user: Any) -> bool:
        return bool(user.is_superuser or user.groups.filter(name__in=PRIVILEGED_ROLES).exists())

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and not request.user.is_superuser and self._privileged(obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser) and super().has_delete_permission(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += ["is_superuser", "user_permissions"]
            if obj is not None and obj.pk == request.user.pk:
                readonly += ["groups", "is_staff", "is_active"]
        return readonly

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "groups" and not request.user.is_superuser:
            kwargs["queryset"] = Group.objects.exclude(name__in=PRIVILEGED_ROLES)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        user = form.instance
        access_record(
            user=request.user,  # type: ignore[arg-type]
            action=AccessEvent.Action.UPDATE if change else AccessEvent.Action.CREATE,
            object_type="auth.user",
            object_id=user.pk,
            detail={"changed": sorted(form.changed_data), "groups": sorted(g.name for g in user.groups.all())},
        )


admin.site.unregister(User)
admin.site.register(User, GuardedUserAdmin)
