"""Admin pages for alerts (read-mostly: actions go through the dashboard services)."""

from __future__ import annotations

from django.contrib import admin

from alerts.models import Alert, AlertEvent


class AlertEventInline(admin.TabularInline):  # type: ignore[type-arg]
    model = AlertEvent
    extra = 0
    can_delete = False
    readonly_fields = ["action", "actor", "from_status", "to_status", "note", "data", "created_at"]


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["raised_at", "kind", "severity", "status", "review", "venue", "camera"]
    list_filter = ["kind", "status", "severity", "review"]
    readonly_fields = [f.name for f in Alert._meta.fields]
    exclude = ["probe_embedding"]
    inlines = [AlertEventInline]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


# CAD dispatch admin pages (endpoints, deliveries, attempts, unit reports)
from alerts import admin_dispatch  # noqa: E402, F401
