"""Audited views serving enrolled face images (never public media URLs)."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from watchlists.enrolment import EnrolmentError
from watchlists.identify import photo_check
from watchlists.models import FaceTemplate
from watchlists.selectors import template_get


@login_required
@require_GET
def template_crop(request: HttpRequest, template_id: str) -> FileResponse:
    """The enrolled face crop of one template, after the permission check and audit record."""
    try:
        template = template_get(user=request.user, template_id=template_id, purpose=request.GET.get("purpose", ""))
    except (FaceTemplate.DoesNotExist, ValidationError) as exc:
        raise Http404 from exc
    response = FileResponse(template.face_crop.open("rb"), content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    return response


class PhotoCheckForm(forms.Form):
    """A photo to check against the watchlists, and why."""

    photo = forms.FileField(label=_("Photo"))
    purpose = forms.CharField(label=_("Purpose or case reference"), max_length=300)


@login_required
def photo_check_page(request: HttpRequest) -> HttpResponse:
    """Upload a photo, state the purpose, see each face's candidates (the search is audited)."""
    if not request.user.has_perm("watchlists.check_photo"):
        raise PermissionDenied("watchlists.check_photo")
    form = PhotoCheckForm(request.POST or None, request.FILES or None)
    faces = None
    if request.method == "POST" and form.is_valid():
        try:
            faces = photo_check(
                user=request.user,
                data=form.cleaned_data["photo"].read(),
                purpose=form.cleaned_data["purpose"],
                source="page",
            )
        except EnrolmentError as exc:
            form.add_error("photo", exc.message)
    return render(request, "watchlists/check.html", {"form": form, "faces": faces})
