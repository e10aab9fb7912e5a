"""Camera pages: the camera wall with health badges, the latest preview JPEG, and the wall's status feed.

Live video of one camera is ``venues/live.py``.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.redis import preview_key, redis_client
from venues.models import Camera
from venues.selectors import cameras_for

logger = logging.getLogger(__name__)

WALL_LAYOUTS = [1, 4, 9, 16]  # cameras per screen on the wall
HEALTH_FIGURES = ("fps", "input_fps", "analysed_fps", "lag_s", "drops", "people", "fight_score")


@login_required
@require_GET
def camera_wall(request: HttpRequest) -> HttpResponse:
    """Cameras in scope with health badges and periodically refreshed previews."""
    if not request.user.has_perm("venues.view_camera"):
        raise PermissionDenied("venues.view_camera")
    cameras = list(cameras_for(request.user).select_related("venue").order_by("venue__name", "name"))
    config = {
        "statusUrl": reverse("camera-status"),
        "refreshMs": 2000,
        "layouts": WALL_LAYOUTS,
        "labels": {
            "noPreview": _("No picture yet"),
            "live": _("Live"),
            "connecting": _("Connecting to the camera…"),
            "noLive": _("No live picture: the camera is not being analysed right now. Retrying…"),
            "seconds": _("%(seconds)s s behind"),
            "page": _("%(page)s of %(pages)s"),
            "stopLive": _("Stop live"),
            "watchLive": _("Watch live"),
        },
    }
    return render(request, "venues/cameras.html", {"cameras": cameras, "config": config, "layouts": WALL_LAYOUTS})


@login_required
@require_GET
@never_cache
def camera_preview(request: HttpRequest, camera_id: Any) -> HttpResponse:
    """The latest preview JPEG a stream worker stored in Redis; 204 when there is none yet."""
    camera = _camera_in_scope(request, camera_id)
    data = _preview_bytes(camera)
    if not data:
        return HttpResponse(status=204)
    response = HttpResponse(data, content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    return response


def _camera_in_scope(request: HttpRequest, camera_id: Any) -> Camera:
    if not request.user.has_perm("venues.view_camera"):
        raise PermissionDenied("venues.view_camera")
    camera = cameras_for(request.user).filter(pk=camera_id).first()
    if camera is None:
        raise Http404
    return camera


def _preview_bytes(camera: Camera) -> bytes | None:
    try:
        value = redis_client().get(preview_key(camera.pk))
    except redis.RedisError:
        logger.warning("preview of camera %s unavailable: Redis error", camera.pk, exc_info=True)
        return None
    return value if isinstance(value, bytes) else None


@login_required
@require_GET
def camera_status(request: HttpRequest) -> JsonResponse:
    """Health of the cameras in scope, for the wall's badges."""
    if not request.user.has_perm("venues.view_camera"):
        raise PermissionDenied("venues.view_camera")
    rows = [_camera_row(camera) for camera in cameras_for(request.user)]
    return JsonResponse({"cameras": rows})


def _camera_row(camera: Camera) -> dict[str, Any]:
    stats = camera.health_stats if isinstance(camera.health_stats, dict) else {}
    figures = {key: stats[key] for key in HEALTH_FIGURES if isinstance(stats.get(key), int | float)}
    return {
        "id": str(camera.pk),
        "health": camera.health_state,
        "health_display": camera.get_health_state_display(),
        "figures": figures,
        "summary": _health_summary(figures),
        "details": _health_details(figures),
        "notes": _health_notes(stats),
        "changed_at": camera.health_changed_at.isoformat() if camera.health_changed_at else None,
    }


def _health_summary(figures: dict[str, float]) -> list[str]:
    """What a dispatcher reads on the tile, in plain words."""
    if "people" not in figures:
        return []
    count = int(figures["people"])
    return [ngettext("%(count)d person in view", "%(count)d people in view", count) % {"count": count}]


def _health_details(figures: dict[str, float]) -> list[str]:
    """The engineering figures behind the wall's details toggle, in a fixed order."""
    phrases = {
        "analysed_fps": lambda v: _("%(fps).1f fps analysed") % {"fps": v},
        "lag_s": lambda v: _("lag %(seconds).1f s") % {"seconds": v},
        "drops": lambda v: ngettext("%(count)d frame dropped", "%(count)d frames dropped", int(v)) % {"count": v},
        "fight_score": lambda v: _("fight score %(score).2f") % {"score": v},
    }
    return [phrase(figures[key]) for key, phrase in phrases.items() if key in figures]


def _health_notes(stats: dict[str, Any]) -> list[str]:
    """Why a camera is not detecting incidents right now, for the operator looking at its tile."""
    notes = []
    if stats.get("incidents_paused") is True:
        notes.append(_("Incident detection paused: the venue is closed."))
    if stats.get("camera_moving") is True:
        notes.append(_("Camera moving: fight detection held until the view is steady."))
    if stats.get("face_matching") is True:
        notes.append(
            _("Face matching on under deployment “%(title)s”.") % {"title": stats.get("face_deployment_title", "")}
        )
    elif stats.get("face_matching") is False:
        notes.append(_("Face matching off: no authorised deployment covers this camera."))
    return notes
