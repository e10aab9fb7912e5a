"""Admin pages for watchlists and subjects (subject pages are audited reads)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from audit.models import AccessEvent
from audit.services import access_record
from commandcenter.admin import ServiceAdmin
from watchlists import services
from watchlists.calibration import expected_false_alerts_for
from watchlists.models import FaceTemplate, Subject, Watchlist


@admin.register(Watchlist)
class WatchlistAdmin(ServiceAdmin):
    save_service = services.watchlist_save
    save_kwarg = "watchlist"
    delete_service = services.object_delete
    list_display = ["name", "category", "match_threshold", "expected_false_alerts", "requires_second_confirmation",
                    "active"]
    list_filter = ["category", "active"]
    readonly_fields = ["expected_false_alerts"]

    @admin.display(description="expected false alerts per 10,000 faces")
    def expected_false_alerts(self, obj: Watchlist) -> str:
        if obj.pk is None:
            return "-"
        size = obj.subjects.count()
        value = expected_false_alerts_for(obj.match_threshold, size)
        if value is None:
            return "not calibrated (run manage.py calibrate_faces)"
        return f"{value:.2f} (for {size} subjects at similarity {obj.match_threshold:.3f})"

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change and not obj.owner_id:
            obj.owner = request.user
        super().save_model(request, obj, form, change)


class FaceTemplateInline(admin.TabularInline):  # type: ignore[type-arg]
    model = FaceTemplate
    fields = ["model_name", "quality_score", "created_at"]
    readonly_fields = ["model_name", "quality_score", "created_at"]
    extra = 0
    can_delete = True


@admin.register(Subject)
class SubjectAdmin(ServiceAdmin):
    save_service = services.subject_save
    save_kwarg = "subject"
    delete_service = services.object_delete
    list_display = ["display_name", "watchlist", "reference_number", "status", "expires_at"]
    list_filter = ["watchlist", "status"]
    search_fields = ["display_name", "reference_number"]
    readonly_fields = ["added_by", "created_at", "updated_at"]
    inlines = [FaceTemplateInline]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> Any:
        access_record(user=request.user, action=AccessEvent.Action.VIEW, object_type="watchlists.subject",
                      object_id=object_id, detail={"via": "admin"})
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            obj.added_by = request.user
        super().save_model(request, obj, form, change)
