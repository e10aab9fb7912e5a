"""Project-level views: health check, the styled and translated 403 page."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from drf_spectacular.views import SpectacularSwaggerSplitView

from core.permissions import NoAccess

STYLE_SELF = "style-src 'self'"


class ApiDocsView(SpectacularSwaggerSplitView):
    """Swagger UI (local assets, scripts from 'self' only). Swagger UI sets element styles from its script, which a
    strict style-src refuses; this page alone allows inline styles (never inline scripts)."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        response = super().dispatch(request, *args, **kwargs)
        policy = str(settings.CC_CONTENT_SECURITY_POLICY)
        response["Content-Security-Policy"] = policy.replace(STYLE_SELF, f"{STYLE_SELF} 'unsafe-inline'")
        return response


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def _why(request: HttpRequest, exception: Exception | None) -> str:
    """What the refused person reads: the page's own reason, else what the area is for."""
    if isinstance(exception, NoAccess):
        return exception.user_message
    match = request.resolver_match
    area = f"{match.namespace}:{match.url_name}" if match and match.namespace else (match.url_name if match else "")
    area = area or ""
    reasons = {
        "reports": _("Reports are for supervisors, auditors and administrators."),
        "photo-check": _("Checking a photo against the watchlists is for supervisors and administrators."),
    }
    if area.startswith("audit:"):
        return _("The audit log is for auditors.")
    return reasons.get(area or "", _("Your role does not give access to this page."))


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """403 in the app's style and the user's language: why, who is signed in, and where they can go."""
    return render(request, "403.html", {"reason": _why(request, exception)}, status=403)
