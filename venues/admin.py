"""Admin pages for venues, cameras, zones and operator scopes."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils.html import format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.admin import ServiceAdmin
from core.api import acting_user
from core.jobs import calibration_submit
from core.security import UploadRejected, video_upload_store
from venues import services
from venues.fleet import FleetFileError, fleet_import
from venues.models import Camera, OpeningHours, OperatorScope, Venue, Zone
from venues.selectors import calibration_job_get, calibration_job_remember
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
    list_display = ["name", "venue", "enabled", "health_state", "analysis_fps", "thresholds", "health_changed_at"]
    list_filter = ["enabled", "health_state", "venue"]
    search_fields = ["name", "venue__name", "stream_url"]
    readonly_fields = ["health_state", "health_changed_at", "last_error", "health_stats", "operating_point"]
    fieldsets = [
        (None, {"fields": ["venue", "name", "stream_url", "rtsp_transport", "loop_file", "enabled"]}),
        (
            _("Location on the map"),
            {
                "fields": ["latitude", "longitude"],
                "description": _("Leave both empty to show the camera at its venue."),
            },
        ),
        (
            _("Analysis"),
            {
                "fields": [
                    "analysis_fps",
                    "face_recognition_enabled",
                    "crowd_enabled",
                    "counting_view",
                    "person_fps",
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
        (_("False-alert budget"), {"fields": ["alert_budget_per_hour", "operating_point"]}),
        (_("Health"), {"fields": ["health_state", "health_changed_at", "last_error", "health_stats"]}),
    ]
    inlines = [ZoneInline]

    @admin.display(description=_("fight / aggression thresholds"))
    def thresholds(self, obj: Camera) -> str:
        if obj.fight_threshold is None or obj.aggression_threshold is None:
            return gettext("model default")
        return f"{obj.fight_threshold:.2f} / {obj.aggression_threshold:.2f}"

    @admin.display(description=_("operating point"))
    def operating_point(self, obj: Camera) -> str:
        """Thresholds in use, expected false alerts per hour and the share of reference fights still caught."""
        if obj._state.adding:
            return "-"
        from venues.calibration import describe  # numpy/scipy: only on the change page

        return format_html_join("", "<p>{}</p>", ((line,) for line in describe(obj)))

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path("<uuid:pk>/calibrate/", view(self.calibrate_view), name="venues_camera_calibrate"),
            path(
                "calibration-status/<str:job_id>/",
                view(self.calibration_status),
                name="venues_camera_calibration_status",
            ),
            *super().get_urls(),
        ]

    def calibrate_view(self, request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
        """Recalibrate from the last N hours, from an uploaded recording (a job with progress), or reset."""
        camera = get_object_or_404(Camera, pk=pk)
        if not request.user.has_perm("venues.change_camera"):
            return HttpResponse(status=403)
        form = CalibrateForm(request.POST or None, request.FILES or None)
        job_id = request.GET.get("job", "")
        if request.method == "POST" and form.is_valid():
            done = self._calibrate(request, camera, form)
            if done is not None:
                return done
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "camera": camera,
            "job_id": job_id,
            "status_url": reverse("admin:venues_camera_calibration_status", args=[job_id]) if job_id else "",
            "change_url": reverse("admin:venues_camera_change", args=[camera.pk]),
            "title": gettext("Calibrate the false-alert budget of %(camera)s") % {"camera": camera},
            "opts": self.model._meta,
            "original": camera,
        }
        return render(request, "admin/venues/camera/calibrate.html", context)

    def _calibrate(self, request: HttpRequest, camera: Camera, form: CalibrateForm) -> HttpResponse | None:
        change_url = reverse("admin:venues_camera_change", args=[camera.pk])
        user = acting_user(request)
        if "reset" in request.POST:
            services.camera_clear_incident_calibration(camera=camera, user=user)
            messages.success(request, gettext("The camera uses the model's thresholds again."))
            return HttpResponseRedirect(change_url)
        video = form.cleaned_data.get("video")
        if video is not None:
            return self._calibrate_recording(request, camera, form, video)
        try:
            services.camera_calibrate_incidents(
                camera=camera, user=user, source="live", hours=form.cleaned_data["hours"]
            )
        except services.CalibrationError as exc:
            messages.error(request, gettext("Not calibrated: %(reason)s") % {"reason": exc})
            return None
        messages.success(request, gettext("Calibrated: the new thresholds apply within a few seconds."))
        return HttpResponseRedirect(change_url)

    def _calibrate_recording(
        self, request: HttpRequest, camera: Camera, form: CalibrateForm, video: Any
    ) -> HttpResponse | None:
        user = acting_user(request)
        try:
            stored = video_upload_store(video)
        except UploadRejected as exc:
            form.add_error("video", exc.message)
            return None
        job_id = calibration_submit(camera_id=str(camera.pk), path=stored, name=video.name[:200], user_id=user.pk)
        calibration_job_remember(job_id=job_id, user=user, camera=camera)
        return HttpResponseRedirect(f"{request.path}?job={job_id}")

    def calibration_status(self, request: HttpRequest, job_id: str) -> JsonResponse:
        """Progress of the user's own calibration job as JSON (polled by the calibration page)."""
        state = calibration_job_get(job_id=job_id, user=request.user)
        return JsonResponse(state or {"state": "unknown"}, status=200 if state else 404)


class CalibrateForm(forms.Form):
    """The window to calibrate on: the last N hours of live scores, or a recording of the camera."""

    hours = forms.FloatField(
        label=_("hours of live footage"),
        initial=24,
        min_value=0.1,
        required=False,
        help_text=_("The camera's own scores of the last N hours (kept for CC_SCORE_HISTORY_HOURS)."),
    )
    video = forms.FileField(
        label=_("or a recording of this camera"),
        required=False,
        help_text=_("Ordinary footage from this camera (no incidents), scored as the camera scores it."),
    )

    def clean_hours(self) -> float:
        hours = self.cleaned_data.get("hours") or 24.0
        limit = float(settings.CC_SCORE_HISTORY_HOURS)
        if hours > limit:
            raise forms.ValidationError(
                gettext("At most %(limit)s hours are kept (CC_SCORE_HISTORY_HOURS).") % {"limit": f"{limit:g}"}
            )
        return float(hours)


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
