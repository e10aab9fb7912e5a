"""Admin pages for venues, cameras, zones and operator scopes."""

from __future__ import annotations

from django.contrib import admin

from commandcenter.admin import ServiceAdmin
from venues import services
from venues.models import Camera, OpeningHours, OperatorScope, Venue, Zone


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


class ZoneInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Zone
    extra = 0


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
        ("Analysis", {"fields": ["analysis_fps", "face_recognition_enabled", "crowd_enabled", "fight_enabled",
                                 "sensitivity", "min_duration_s", "cooldown_s", "offline_after_s",
                                 "only_when_open"]}),
        ("Health", {"fields": ["health_state", "health_changed_at", "last_error", "health_stats"]}),
    ]
    inlines = [ZoneInline]


@admin.register(Zone)
class ZoneAdmin(ServiceAdmin):
    save_service = services.zone_save
    save_kwarg = "zone"
    delete_service = services.object_delete
    list_display = ["name", "camera", "capacity", "gathering_rate_per_min", "enabled"]
    list_filter = ["enabled"]


@admin.register(OperatorScope)
class OperatorScopeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["user", "all_venues", "language"]
    filter_horizontal = ["venues"]
