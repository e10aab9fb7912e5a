"""Writes to venues, cameras and zones (validated, audited), plus camera health changes."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from audit.models import AccessEvent
from audit.services import access_record, audited_delete, audited_save
from venues.models import Camera, Venue, Zone

if TYPE_CHECKING:
    from vision.incidents.budget import ScoreSegment

logger = logging.getLogger(__name__)


def venue_save(*, actor: User | None, venue: Venue) -> Venue:
    """Create or update a venue."""
    result: Venue = audited_save(actor=actor, instance=venue)
    return result


def camera_save(*, actor: User | None, camera: Camera) -> Camera:
    """Create or update a camera; running sessions pick up the change at their next settings poll."""
    result: Camera = audited_save(actor=actor, instance=camera)
    return result


def zone_save(*, actor: User | None, zone: Zone) -> Zone:
    """Create or update a zone."""
    result: Zone = audited_save(actor=actor, instance=zone)
    return result


def object_delete(*, actor: User | None, instance: Venue | Camera | Zone) -> None:
    """Delete a venue, camera or zone (venues and cameras with alerts are protected)."""
    audited_delete(actor=actor, instance=instance)


def camera_report_health(*, camera_id: Any, state: str, stats: dict[str, Any], error: str = "") -> bool:
    """Store a session's health figures; return True when the state changed."""
    now = timezone.now()
    with transaction.atomic():
        camera = Camera.objects.select_for_update().get(pk=camera_id)
        changed = camera.health_state != state
        camera.health_state = state
        camera.health_stats = stats
        camera.last_error = error[:500]
        fields = ["health_state", "health_stats", "last_error", "updated_at"]
        if changed:
            camera.health_changed_at = now
            fields.append("health_changed_at")
            logger.info("camera %s health %s -> %s %s", camera.pk, camera.health_state, state, error)
        camera.save(update_fields=fields)
    return changed


class CalibrationError(Exception):
    """A calibration that found no thresholds (too little footage, or none within the budget); nothing changed."""

    def __init__(self, summary: dict[str, Any]) -> None:
        super().__init__(summary["message"])
        self.summary = summary


def camera_calibrate_incidents(
    *,
    camera: Camera,
    user: User | None,
    source: str,
    hours: float | None = None,
    segments: Sequence[ScoreSegment] | None = None,
    window: str = "",
) -> dict[str, Any]:
    """Fit the camera's fight and aggression thresholds to its false-alert budget; store them, audited.

    `source` "live" reads the camera's own scores of the last `hours`; "recording" takes the
    `segments` a recording gave when scored as the camera (`window` names the file). Raises
    CalibrationError (nothing stored) when the footage is too short or no threshold fits.
    """
    from venues import calibration  # numpy/scipy maths: loaded only when calibrating

    if source == "live":
        if hours is None or hours <= 0:
            raise ValueError("a live calibration needs a window of hours")
        segments, window = calibration.live_footage(camera, hours=hours), f"last {hours:g} h"
    elif source != "recording" or segments is None:
        raise ValueError(f"unknown calibration source {source!r} (or a recording without its scores)")
    evaluation = calibration.evaluate(camera, list(segments), source=source, window=window)
    if not evaluation.ok:
        logger.info("camera %s not calibrated: %s", camera.pk, evaluation.result.message)
        raise CalibrationError(evaluation.summary)
    _store_calibration(camera, user, evaluation.summary)
    return evaluation.summary


def _store_calibration(camera: Camera, user: User | None, summary: dict[str, Any]) -> None:
    """Write the thresholds and the summary, with the audit row, in one transaction."""
    now = timezone.now()
    by = user.get_username() if user is not None else ""
    stored = {**summary, "computed_at": now.isoformat(), "computed_by": by}
    thresholds = (summary["fight_threshold"], summary["aggression_threshold"])
    _write_calibration(camera, user, thresholds, stored, now, {"calibrated": _audit_detail(summary)})
    logger.info(
        "camera %s calibrated: fight %.2f, aggression %.2f (%s)",
        camera.pk,
        summary["fight_threshold"],
        summary["aggression_threshold"],
        summary["window"],
    )


def camera_clear_incident_calibration(*, camera: Camera, user: User | None) -> None:
    """Go back to the model's thresholds shifted by the sensitivity; audited."""
    _write_calibration(camera, user, (None, None), {}, None, {"calibration_cleared": True})


def _write_calibration(
    camera: Camera,
    user: User | None,
    thresholds: tuple[float | None, float | None],
    stored: dict[str, Any],
    at: Any,
    detail: dict[str, Any],
) -> None:
    """Set (or clear) the camera's thresholds and calibration record on the locked row, audited with the
    thresholds they replace; `camera` gets the new values."""
    with transaction.atomic():
        locked = Camera.objects.select_for_update().get(pk=camera.pk)
        previous = [locked.fight_threshold, locked.aggression_threshold]
        locked.fight_threshold, locked.aggression_threshold = thresholds
        locked.incident_calibration = stored
        locked.incident_calibrated_at = at
        locked.incident_calibrated_by = user if at is not None else None
        locked.save(
            update_fields=[
                "fight_threshold",
                "aggression_threshold",
                "incident_calibration",
                "incident_calibrated_at",
                "incident_calibrated_by",
                "updated_at",
            ]
        )
        access_record(
            user=user,
            action=AccessEvent.Action.UPDATE,
            object_type="venues.camera",
            object_id=camera.pk,
            detail={**detail, "previous_thresholds": previous},
        )
    _copy_calibration(locked, camera)


def _audit_detail(summary: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "source",
        "window",
        "hours",
        "budget_per_hour",
        "fight_threshold",
        "aggression_threshold",
        "alerts_per_hour",
        "upper_per_hour",
        "recall",
        "model",
    )
    return {key: summary.get(key) for key in keys}


def _copy_calibration(source: Camera, target: Camera) -> None:
    """Bring the caller's instance up to date with the stored row."""
    for name in (
        "fight_threshold",
        "aggression_threshold",
        "incident_calibration",
        "incident_calibrated_at",
        "incident_calibrated_by",
        "updated_at",
    ):
        setattr(target, name, getattr(source, name))
