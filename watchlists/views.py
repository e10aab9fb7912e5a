"""Audited views serving enrolled face images (never public media URLs)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
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

    photo = forms.FileField(
        label=_("Photo"),
        help_text=_("JPEG, PNG or WebP, up to %(limit)s.") % {"limit": filesizeformat(settings.CC_MAX_UPLOAD_BYTES)},
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )
    purpose = forms.CharField(
        label=_("Purpose or case reference"),
        max_length=300,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. case 2026-0142, witness photo")}),
    )


@login_required
def photo_check_page(request: HttpRequest) -> HttpResponse:
    """Upload a photo, state the purpose, see each face's candidates (the search is audited)."""
    if not request.user.has_perm("watchlists.check_photo"):
        raise PermissionDenied("watchlists.check_photo")
    form = PhotoCheckForm(request.POST or None, request.FILES or None)
    faces = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data["photo"].read()
        try:
            faces = photo_check(user=request.user, data=data, purpose=form.cleaned_data["purpose"], source="page")
        except EnrolmentError as exc:
            form.add_error("photo", exc.message)
        else:
            _add_crops(faces, data)
    return render(request, "watchlists/check.html", {"form": form, "faces": faces})


def _add_crops(faces: list[dict[str, Any]], data: bytes) -> None:
    """Each face's crop from the uploaded photo as a data: URL (shown once, never stored), and the link to each
    candidate's enrolled photo (served by the audited template view)."""
    import base64

    import cv2  # lazy: the photo check already loaded OpenCV for detection; other pages never need it

    from vision.faces.image import decode_image

    image = decode_image(data, max_pixels=settings.CC_MAX_IMAGE_PIXELS)
    height, width = image.shape[:2]
    for face in faces:
        x, y, w, h = (int(v) for v in face["box"])
        pad = int(0.25 * max(w, h))
        crop = image[max(0, y - pad) : min(height, y + h + pad), max(0, x - pad) : min(width, x + w + pad)]
        ok, jpeg = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 85])
        face["crop_url"] = "data:image/jpeg;base64," + base64.b64encode(jpeg.tobytes()).decode() if ok else ""
        for candidate in face["candidates"]:
            candidate["photo_url"] = reverse("template-crop", args=[candidate["template_id"]]) + "?purpose=photo+check"
