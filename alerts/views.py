"""Dispatcher pages (feed, detail, map of open alerts, reports) and evidence files.

The camera wall, previews and live video are venues' pages (venues/views.py, venues/live.py); the
language switch is the accounts app's.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Max
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from alerts import reports
from alerts.models import Alert, AlertEvent, DispatchEndpoint, Evidence
from alerts.selectors import alerts_for, evidence_get
from venues.models import Camera
from venues.selectors import cameras_for, venues_for

logger = logging.getLogger(__name__)


@login_required
@require_GET
def evidence_file(request: HttpRequest, evidence_id: str) -> FileResponse:
    """Stream one evidence file after the permission check and audit record."""
    try:
        evidence = evidence_get(user=request.user, evidence_id=evidence_id, purpose=request.GET.get("purpose", ""))
    except (Evidence.DoesNotExist, ValidationError) as exc:
        raise Http404 from exc
    except PermissionDenied:
        raise
    response = FileResponse(evidence.file.open("rb"), content_type=evidence.content_type)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- shared page configuration -------------------------------------------------------------------


def _require_view_alerts(request: HttpRequest) -> None:
    if not request.user.has_perm("alerts.view_alert"):
        raise PermissionDenied("alerts.view_alert")


def _choices() -> dict[str, Any]:
    """Labels of kinds, severities, statuses and outcomes in the active language."""
    return {
        "kinds": [[value, str(label)] for value, label in Alert.Kind.choices],
        "severities": [[value, str(label)] for value, label in Alert.Severity.choices],
        "statuses": [[value, str(label)] for value, label in Alert.Status.choices],
        "reviews": [[value, str(label)] for value, label in Alert.Review.choices],
        "outcomes": [[value, str(label)] for value, label in Alert.Outcome.choices if value],
        "eventActions": [[value, str(label)] for value, label in AlertEvent.Action.choices],
    }


def _labels() -> dict[str, str]:
    """Strings the scripts show, translated on the server (one catalog for pages and scripts)."""
    return {
        "connected": _("Live"),
        "connecting": _("Connecting…"),
        "offline": _("Offline, retrying"),
        "empty": _("No alerts match these filters."),
        "conflict": _("Someone else acted first."),
        "failed": _("The action failed."),
        "forbidden": _("Your role cannot do this."),
        "loading": _("Loading…"),
        "newAlerts": _("new alerts: go to the first page"),
        "acknowledge": _("Acknowledge"),
        "confirm": _("Confirm match"),
        "reject": _("Reject match"),
        "dispatch": _("Dispatch"),
        "escalate": _("Escalate"),
        "resolve": _("Resolve"),
        "open": _("Open"),
        "page": _("Page"),
        "of": _("of"),
        "similarity": _("Similarity"),
        "sightings": _("Sightings"),
        "reference": _("Reference"),
        "allEndpoints": _("All active CAD endpoints"),
        "delivered": _("Delivered"),
        "deliveryFailed": _("Failed"),
        "deliveryCancelled": _("Cancelled"),
        "queued": _("Queued"),
        "sending": _("Sending…"),
        "retryingIn": _("Retrying in %(seconds)s s"),
        "attempt": _("attempt"),
        "retry": _("Retry"),
        "subjectName": _("Name"),
        "watchlist": _("Watchlist"),
        "category": _("Category"),
        "probe": _("Face seen by the camera"),
        "enrolled": _("Enrolled photo"),
        "snapshot": _("Snapshot"),
        "clip": _("Clip"),
        "series": _("Score or count series"),
        "seriesPeople": _("People in the zone"),
        "seriesFight": _("Fight score"),
        "seriesMax": _("peak"),
        "history": _("History"),
        "system": _("system"),
        "noEvidence": _("No evidence files."),
        "assigned": _("Assigned to"),
        "needsConfirm": _("Confirm the face match before dispatching."),
        "notFound": _("This alert no longer exists or is outside your scope."),
        "notifyOn": _("Notifications on"),
        "noPreview": _("No preview"),
        "openAlerts": _("open alerts"),
        "tilesFailed": _("Map tiles unavailable; showing a plain plot."),
        "noVenues": _("No venues with coordinates in your scope."),
    }


def _fact_labels() -> dict[str, str]:
    """Headings of the alert detail's facts."""
    return {
        "severity": _("Severity"),
        "status": _("Status"),
        "review": _("Review"),
        "venue": _("Venue"),
        "camera": _("Camera"),
        "raised": _("Raised"),
        "lastSeen": _("Last seen"),
        "score": _("Score"),
        "outcome": _("Outcome"),
    }


def _page_config(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    """What every live page's script needs: endpoints, rights, labels."""
    user = request.user
    return {
        "api": reverse("alert-list"),
        "ws": "/ws/alerts/",
        "detailUrl": reverse("alert-detail-page", args=[_ZERO_UUID]),
        "canAct": user.has_perm("alerts.act_on_alert"),
        "canReview": user.has_perm("alerts.review_face_match"),
        "endpoints": _active_endpoints() if user.has_perm("alerts.act_on_alert") else [],
        "deliveriesApi": reverse("delivery-list"),
        "timeZone": settings.TIME_ZONE,
        "labels": _labels(),
        **_choices(),
        **extra,
    }


_ZERO_UUID = "00000000-0000-0000-0000-000000000000"


def _active_endpoints() -> list[list[Any]]:
    """The CAD endpoints a dispatcher may send to (names only, never keys)."""
    return [[pk, name] for pk, name in DispatchEndpoint.objects.filter(active=True).values_list("pk", "name")]


def _current_cursor() -> int:
    """The newest committed change number; a page catches up from here after it connects."""
    return int(Alert.objects.aggregate(seq=Max("change_seq"))["seq"] or 0)


# --- pages ---------------------------------------------------------------------------------------


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """The live alert feed."""
    _require_view_alerts(request)
    venues = list(venues_for(request.user).values("id", "name"))
    config = _page_config(request, cursor=_current_cursor(), venues=[[str(v["id"]), v["name"]] for v in venues])
    return render(request, "alerts/dashboard.html", {"config": config, "venues": venues, **_choices()})


@login_required
@require_GET
def alert_detail(request: HttpRequest, alert_id: Any) -> HttpResponse:
    """One alert: evidence, face comparison, history and actions; updates live."""
    _require_view_alerts(request)
    if not alerts_for(request.user).filter(pk=alert_id).exists():
        raise Http404
    may_watch = request.user.has_perm("venues.view_camera")
    config = _page_config(
        request,
        alertId=str(alert_id),
        factLabels=_fact_labels(),
        wallUrl=reverse("camera-wall") if may_watch else "",
        watchLive=_("Watch live"),
    )
    return render(request, "alerts/detail.html", {"config": config})


@login_required
@require_GET
def venue_map(request: HttpRequest) -> HttpResponse:
    """Venues and cameras on a tile map (when configured) or a plain plot, coloured by their open alerts."""
    _require_view_alerts(request)
    config = {
        "dataUrl": reverse("map-data"),
        "tileUrl": getattr(settings, "CC_MAP_TILE_URL", ""),
        "feedUrl": reverse("dashboard"),
        "wallUrl": reverse("camera-wall"),
        "ws": "/ws/alerts/",
        "labels": {**_labels(), "camera": _("Camera"), "watchLive": _("Watch live")},
        "severities": {str(value): str(label) for value, label in Alert.Severity.choices},
    }
    severities = [(value, label) for value, label in reversed(Alert.Severity.choices)]
    return render(request, "alerts/map.html", {"config": config, "severities": severities})


@login_required
@require_GET
def map_data(request: HttpRequest) -> JsonResponse:
    """Venues and cameras in scope at their coordinates, with their open alerts by severity."""
    _require_view_alerts(request)
    venues = list(venues_for(request.user).filter(latitude__isnull=False, longitude__isnull=False))
    cameras = list(cameras_for(request.user).filter(venue__in=[v.pk for v in venues]))
    per_venue: dict[Any, dict[int, int]] = {}
    per_camera: dict[Any, dict[int, int]] = {}
    open_alerts = (
        Alert.objects.open()
        .filter(venue__in=[v.pk for v in venues])
        .values_list("venue", "camera", "severity")
        .annotate(n=Count("id"))
    )
    for venue_id, camera_id, severity, count in open_alerts:
        for table, key in ((per_venue, venue_id), (per_camera, camera_id)):
            table.setdefault(key, {})
            table[key][severity] = table[key].get(severity, 0) + count
    return JsonResponse(
        {
            "venues": [_map_point(v, v.latitude, v.longitude, per_venue.get(v.pk, {})) for v in venues],
            "cameras": [_map_camera(c, per_camera.get(c.pk, {})) for c in cameras],
        }
    )


def _map_point(place: Any, lat: Any, lon: Any, severities: dict[int, int]) -> dict[str, Any]:
    return {
        "id": str(place.pk),
        "name": place.name,
        "lat": float(lat),
        "lon": float(lon),
        "open": sum(severities.values()),
        "bySeverity": {str(level): severities[level] for level in sorted(severities, reverse=True)},
        "top": max(severities, default=0),
    }


def _map_camera(camera: Camera, severities: dict[int, int]) -> dict[str, Any]:
    own = camera.latitude is not None and camera.longitude is not None
    lat, lon = (camera.latitude, camera.longitude) if own else (camera.venue.latitude, camera.venue.longitude)
    return {**_map_point(camera, lat, lon, severities), "venue": str(camera.venue_id), "placed": own}


@login_required
@permission_required("alerts.view_reports", raise_exception=True)
@require_GET
def reports_page(request: HttpRequest) -> HttpResponseBase:
    """Alert statistics over a date range; each table also as CSV (`?format=csv&table=...`)."""
    period = reports.period_from(request.GET)
    scope = alerts_for(request.user)
    if request.GET.get("format") == "csv":
        return reports.csv_response(user=request.user, scope=scope, period=period, table=request.GET.get("table", ""))
    tables = reports.build_tables(scope=scope, period=period)
    return render(request, "alerts/reports.html", {"tables": tables, "period": period})
