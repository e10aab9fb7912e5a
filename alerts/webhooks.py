"""Inbound CAD webhook: signed unit status reports (no session or CSRF; HMAC is the auth)."""

from __future__ import annotations

import logging

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from alerts.cad import signing
from alerts.dispatch import inbound

logger = logging.getLogger(__name__)

MAX_STATUS_BYTES = 64 * 1024


def _error(http_status: int, code: str, reason: str) -> JsonResponse:
    return JsonResponse({"error": code, "reason": reason}, status=http_status)


@csrf_exempt
@require_POST
def cad_status(request: HttpRequest) -> JsonResponse:
    """POST /api/cad/status/: verify, record a unit status; 4xx {error, reason} if refused."""
    length = request.META.get("CONTENT_LENGTH") or ""
    if not length.isdigit():
        return _error(411, "length_required", "Content-Length is required")
    if int(length) > MAX_STATUS_BYTES:
        return _error(413, "too_large", f"body exceeds {MAX_STATUS_BYTES} bytes")
    try:
        receipt = inbound.unit_status_receive(headers=dict(request.headers.items()), body=request.body)
    except signing.SignatureError as exc:
        logger.warning("refused CAD status from %s: %s (%s)", request.META.get("REMOTE_ADDR"), exc.code, exc)
        return _error(exc.http_status, exc.code, str(exc))
    except inbound.StatusRejected as exc:
        logger.warning("refused CAD status: %s (%s)", exc.code, exc.reason)
        return _error(exc.http_status, exc.code, exc.reason)
    report = receipt.report
    body = {
        "accepted": True,
        "duplicate": receipt.duplicate,
        "report": report.pk,
        "incident_id": str(report.alert_id),
        "status": report.status,
        "unit": report.unit,
    }
    return JsonResponse(body, status=200 if receipt.duplicate else 202)
