"""Admin pages for watchlists and subjects (subject pages are audited reads)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from audit.models import AccessEvent
from audit.services import access_record
from core.admin import ServiceAdmin
from core.api import acting_user
from watchlists import services
from watchlists.bulk import job_progress_get, job_progress_set
from watchlists.calibration import expected_false_alerts_for
from watchlists.enrolment import (
    EnrolmentError,
    face_previews,
    pending_photo_drop,
    pending_photo_keep,
    pending_photo_prune,
    pending_photo_read,
    subject_enroll_photo,
)
from watchlists.models import FaceModelSwitch, FaceTemplate, Subject, Watchlist
from watchlists.selectors import subject_list, subject_list_audit


@admin.register(Watchlist)
class WatchlistAdmin(ServiceAdmin):
    save_service = services.watchlist_save
    save_kwarg = "watchlist"
    delete_service = services.object_delete
    list_display = [
        "name",
        "category",
        "alert_severity",
        "match_threshold",
        "expected_false_alerts",
        "requires_second_confirmation",
        "active",
    ]
    list_filter = ["category", "active"]
    readonly_fields = ["expected_false_alerts"]

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "colour":  # a colour picker that still posts #rrggbb
            kwargs["widget"] = forms.TextInput(attrs={"type": "color"})
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    @admin.display(description="expected false alerts per 10,000 faces")
    def expected_false_alerts(self, obj: Watchlist) -> str:
        if obj._state.adding or obj.match_threshold is None:
            return "-"
        size = obj.subjects.count()
        value = expected_false_alerts_for(obj.match_threshold, size)
        if value is None:
            return "not calibrated (run manage.py calibrate_faces)"
        return f"{value:.2f} (for {size} subjects at similarity {obj.match_threshold:.3f})"

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> Any:
        """The list's page also lists its subjects (an audited listing, like every other)."""
        return super().change_view(
            request, object_id, form_url, {**(extra_context or {}), **_subjects_of(request, object_id)}
        )

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change and not obj.owner_id:
            obj.owner = request.user
        super().save_model(request, obj, form, change)

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path("<uuid:pk>/import/", view(self.import_view), name="watchlists_watchlist_import"),
            path("import-status/<str:job_id>/", view(self.import_status), name="watchlists_watchlist_import_status"),
            *super().get_urls(),
        ]

    def import_view(self, request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
        """Upload a zip (one CSV + photos) and follow the enrolment progress."""
        from watchlists.tasks import watchlist_import_job

        watchlist = get_object_or_404(Watchlist, pk=pk)
        if not request.user.has_perm("watchlists.add_facetemplate"):
            return HttpResponse(status=403)
        form = BulkImportForm(request.POST or None, request.FILES or None)
        job_id = request.GET.get("job", "")
        if request.method == "POST" and form.is_valid():
            job_id = uuid.uuid4().hex
            target = Path(settings.MEDIA_ROOT) / "imports" / f"{job_id}.zip"
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as out:
                for chunk in form.cleaned_data["archive"].chunks():
                    out.write(chunk)
            job_progress_set(job_id, state="queued", done=0, total=0)
            watchlist_import_job.delay(job_id, str(watchlist.pk), str(target), request.user.pk)
            return HttpResponseRedirect(f"{request.path}?job={job_id}")
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "watchlist": watchlist,
            "job_id": job_id,
            "status_url": reverse("admin:watchlists_watchlist_import_status", args=[job_id]) if job_id else "",
            "title": f"Bulk enrolment into {watchlist.name}",
            "opts": self.model._meta,
        }
        return render(request, "admin/watchlists/watchlist/import.html", context)

    def import_status(self, request: HttpRequest, job_id: str) -> JsonResponse:
        """Progress of a bulk enrolment job as JSON (polled by the import page)."""
        return JsonResponse(job_progress_get(job_id) or {"state": "unknown"})


SUBJECTS_SHOWN = 200


def _subjects_of(request: HttpRequest, watchlist_id: str) -> dict[str, Any]:
    """The first subjects of a watchlist with their photo counts, for its admin page; audited as a listing."""
    if not request.user.has_perm("watchlists.view_subject"):
        return {}
    try:
        uuid.UUID(str(watchlist_id))
    except ValueError:
        return {}
    rows = subject_list(user=request.user).filter(watchlist_id=watchlist_id).annotate(photos=Count("templates"))
    subjects = list(rows[:SUBJECTS_SHOWN])
    subject_list_audit(
        user=request.user, subjects=subjects, purpose="watchlist admin", query={"watchlist": watchlist_id}
    )
    return {"cc_subjects": subjects, "cc_subjects_total": rows.count()}


class BulkImportForm(forms.Form):
    """A zip holding one CSV (name, photo, reference, expires_at) and the photos it names."""

    archive = forms.FileField(help_text="ZIP with subjects.csv and photos (max 500 MB)")

    def clean_archive(self) -> Any:
        upload = self.cleaned_data["archive"]
        if upload.size > 500 * 1024 * 1024:
            raise forms.ValidationError("The archive is larger than 500 MB; split it.")
        head = upload.read(4)
        upload.seek(0)
        if head != b"PK\x03\x04":
            raise forms.ValidationError("This is not a ZIP archive.")
        return upload


class FaceTemplateInline(admin.TabularInline):  # type: ignore[type-arg]
    model = FaceTemplate
    fields = ["crop", "quality_score", "warnings", "models", "created_at"]
    readonly_fields = ["crop", "quality_score", "warnings", "models", "created_at"]

    @admin.display(description=_("face"))
    def crop(self, obj: FaceTemplate) -> str:
        if obj._state.adding:  # the inline's blank "add another" row: no photo yet
            return "-"
        url = reverse("template-crop", args=[obj.pk])
        return format_html('<img src="{}?purpose=admin" alt="" class="cc-face-thumb">', url)

    @admin.display(description=_("warnings"))
    def warnings(self, obj: FaceTemplate) -> str:
        if not obj.quality_warnings:
            return "-"
        return format_html_join(
            mark_safe("<br>"), "{}", ((w.get("detail", w.get("code")),) for w in obj.quality_warnings)
        )

    @admin.display(description=_("face models"))
    def models(self, obj: FaceTemplate) -> str:
        return ", ".join(sorted(obj.embeddings.values_list("model_name", flat=True))) or "-"

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

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> Any:
        access_record(
            user=request.user,
            action=AccessEvent.Action.VIEW,
            object_type="watchlists.subject",
            object_id=object_id,
            detail={"via": "admin"},
        )
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            obj.added_by = request.user
        super().save_model(request, obj, form, change)

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view(self.enrol_view)
        return [path("<uuid:pk>/enrol/", view, name="watchlists_subject_enrol"), *super().get_urls()]

    def enrol_view(self, request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
        """Upload a photo; with several faces and none clearly the subject, click the face to enrol.

        The upload is kept (privately, for at most an hour) while the admin chooses, so it is sent once.
        """
        subject = get_object_or_404(Subject, pk=pk)
        if not request.user.has_perm("watchlists.add_facetemplate"):
            return HttpResponse(status=403)
        pending_photo_prune()
        form = EnrolForm(request.POST or None, request.FILES or None)
        faces: list[dict[str, Any]] = []
        token = ""
        if request.method == "POST" and form.is_valid():
            photo = form.cleaned_data.get("photo")
            token = form.cleaned_data.get("pending") or ""
            if photo is not None:
                name, data = photo.name, photo.read()
                token = pending_photo_keep(data, name)
            else:
                name, data = pending_photo_read(token)
            try:
                subject_enroll_photo(
                    subject=subject,
                    data=data,
                    filename=name,
                    actor=acting_user(request),
                    choose=form.cleaned_data.get("choose"),
                )
            except EnrolmentError as exc:
                form.add_error(None, exc.message)
                faces = face_previews(data, exc.boxes) if exc.code == "several_faces" else []
                if not faces:
                    pending_photo_drop(token)
                    token = ""
            else:
                pending_photo_drop(token)
                messages.success(request, _("Photo enrolled."))
                return HttpResponseRedirect(reverse("admin:watchlists_subject_change", args=[subject.pk]))
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "subject": subject,
            "faces": faces,
            "pending": token,
            "title": _("Enrol a photo of %(name)s") % {"name": subject.display_name},
            "opts": self.model._meta,
        }
        return render(request, "admin/watchlists/subject/enrol.html", context)


class EnrolForm(forms.Form):
    """One photo (JPEG, PNG or WebP), or a kept upload and the face the admin clicked in it."""

    photo = forms.FileField(label=_("Photo"), required=False)
    pending = forms.CharField(required=False, widget=forms.HiddenInput, max_length=32)
    choose = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    def clean_pending(self) -> str:
        token = str(self.cleaned_data.get("pending") or "")
        if token and not (len(token) == 32 and all(c in "0123456789abcdef" for c in token)):
            raise forms.ValidationError(_("The kept photo is not valid; upload it again."))
        return token

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("photo") is None and not data.get("pending"):
            raise forms.ValidationError(_("Choose a photo to upload."))
        if data.get("pending") and data.get("choose") is None and data.get("photo") is None:
            raise forms.ValidationError(_("Click the face to enrol."))
        return data


class FaceModelSwitchForm(forms.ModelForm):  # type: ignore[type-arg]
    """The face model to match with from now on (its templates are re-embedded first)."""

    model_name = forms.ChoiceField(label=_("face model"))

    class Meta:
        model = FaceModelSwitch
        fields = ["model_name"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["model_name"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(name, name) for name in services.face_model_choices()]

    def clean_model_name(self) -> str:
        name = str(self.cleaned_data["model_name"])
        services.face_model_switch_check(name)
        return name


@admin.register(FaceModelSwitch)
class FaceModelSwitchAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Switch the face model (audited; a background job re-embeds the kept photos, then it takes over)."""

    form = FaceModelSwitchForm
    list_display = ["model_name", "previous_model", "state", "progress", "requested_by", "requested_at", "finished_at"]
    readonly_fields = ["previous_model", "state", "progress", "failed", "error", "requested_by", "requested_at"]

    @admin.display(description=_("progress"))
    def progress(self, obj: FaceModelSwitch) -> str:
        return f"{obj.done}/{obj.total}"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [*self.readonly_fields, "model_name", "finished_at"] if obj is not None else []

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["model_name"] if obj is None else ["model_name", *self.readonly_fields, "finished_at"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            return
        switch = services.face_model_switch(actor=acting_user(request), model_name=obj.model_name)
        obj.pk, obj.previous_model, obj._state.adding = switch.pk, switch.previous_model, False
