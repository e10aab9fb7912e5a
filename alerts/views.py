"""Server-rendered pages for dispatchers, and the audited evidence file view."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from alerts.models import Evidence
from alerts.selectors import evidence_get


@login_required
@require_GET
def evidence_file(request: HttpRequest, evidence_id: str) -> FileResponse:
    """Stream one evidence file after the permission check and audit record."""
    try:
        evidence = evidence_get(user=request.user, evidence_id=evidence_id,
                                purpose=request.GET.get("purpose", ""))
    except (Evidence.DoesNotExist, ValidationError) as exc:
        raise Http404 from exc
    except PermissionDenied:
        raise
    response = FileResponse(evidence.file.open("rb"), content_type=evidence.content_type)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The live alert wall."""
    return render(request, "alerts/dashboard.html", {})
