"""Audited views serving enrolled face images (never public media URLs)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest
from django.views.decorators.http import require_GET

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
