"""Admin pages for venues, cameras, zones and operator scopes."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext_lazy as _

from core.admin import ServiceAdmin
from core.api import acting_user
from venues import services
from venues.fleet import FleetFileError, fleet_import
from venues.models import Camera, OpeningHours, OperatorScope, Venue, Zone
from venues.widgets import PolygonWidget


class OpeningHoursInline(admin.TabularInline):  # type: ignore[type-arg]
    model = OpeningHours
    extra = 0


class CameraInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Camera
    fields = ["name", "stream_url", "enabled", "health_state"]
    readonly_fields = ["health_state"]
    extra = 0
    show_change_link = True


@admin.register(Venue)
class VenueAdmin(ServiceAdmin):
    save_service = services.venue_save
    save_kwarg = "venue"
    delete_service = services.object_delete
    list_display = ["name", "kind", "district", "capacity", "active"]
    list_filter = ["kind", "district", "active"]
    search_fields = ["name", "address", "district"]
    inlines = [OpeningHoursInline, CameraInline]
    change_list_template = "admin/venues/venue/change_list.html"

    def get_urls(self) -> list[Any]:
        custom = [path("import/", self.admin_site.admin_view(self.import_view), name="venues_venue_import")]
        return custom + super().get_urls()

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Upload a fleet CSV; show the per-row report."""
        if not request.user.has_perm("venues.add_venue") or not request.user.has_perm("venues.add_camera"):
            return HttpResponse(status=403)
        form = FleetImportForm(request.POST or None, request.FILES or None)
        report = None
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["csv_file"]
            try:
                report = fleet_import(
                    data=upload.read(),
                    actor=acting_user(request),  # type: ignore[arg-type]
                    dry_run=form.cleaned_data["dry_run"],
                )
            except FleetFileError as exc:
                form.add_error("csv_file", str(exc))
            else:
                messages.info(request, f"Import finished: {report.counts()}")
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "report": report,
            "title": "Import venues and cameras",
            "opts": self.model._meta,
        }
        return render(request, "admin/venues/venue/import.html", context)


class FleetImportForm(forms.Form):
    """A CSV of venues and cameras."""

    csv_file = forms.FileField(help_text="UTF-8 CSV, columns venue, camera, stream_url, ... (max 5 MB)")
    dry_run = forms.BooleanField(required=False, help_text="Only report what would change.")

    def clean_csv_file(self) -> Any:
        upload = self.cleaned_data["csv_file"]
        if upload.size > 5 * 1024 * 1024:
            raise forms.ValidationError("The file is larger than 5 MB; split it.")
        return upload


class ZoneInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Zone
    extra = 0
    show_change_link = True  # each row links to the zone's own page, which draws it on the picture


@admin.register(Camera)
class CameraAdmin(ServiceAdmin):
    save_service = services.camera_save
    save_kwarg = "camera"
    delete_service = services.object_delete
    list_display = ["name", "venue", "enabled", "health_state", "analysis_fps", "health_changed_at"]
    list_filter = ["enabled", "health_state", "venue"]
    search_fields = ["name", "venue__name", "stream_url"]
    readonly_fields = ["health_state", "health_changed_at", "last_error", "health_stats"]
    fieldsets = [
        (None, {"fields": ["venue", "name", "stream_url", "rtsp_transport", "loop_file", "enabled"]}),
        (
            _("Analysis"),
            {
                "fields": [
                    "analysis_fps",
                    "face_recognition_enabled",
                    "crowd_enabled",
                    "counting_view",
                    "fight_enabled",
                    "sensitivity",
                    "min_duration_s",
                    "cooldown_s",
                    "offline_after_s",
                    "only_when_open",
                    "face_detector",
                ]
            },
        ),
        (_("Health"), {"fields": ["health_state", "health_changed_at", "last_error", "health_stats"]}),
    ]
    inlines = [ZoneInline]


class ZoneForm(forms.ModelForm):  # type: ignore[type-arg]
    """A zone, its polygon drawn on the camera's picture (`?camera=<id>` preselects the camera)."""

    class Meta:
        model = Zone
        fields = ["camera", "name", "polygon", "capacity", "gathering_rate_per_min", "exclude_from_fight", "enabled"]
        widgets = {"polygon": PolygonWidget(camera_field="camera")}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        widget = self.fields["polygon"].widget
        if isinstance(widget, PolygonWidget):
            widget.exclude_zone = str(self.instance.pk)  # its own outline is the one being drawn


@admin.register(Zone)
class ZoneAdmin(ServiceAdmin):
    form = ZoneForm
    save_service = services.zone_save
    save_kwarg = "zone"
    delete_service = services.object_delete
    list_display = ["name", "camera", "capacity", "gathering_rate_per_min", "exclude_from_fight", "enabled"]
    list_filter = ["enabled", "exclude_from_fight"]


@admin.register(OperatorScope)
class OperatorScopeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["user", "all_venues", "language"]
    filter_horizontal = ["venues"]
