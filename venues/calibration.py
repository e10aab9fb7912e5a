"""A camera's false-alert budget: its footage (live score history or a recording) against the budget maths.

`vision.incidents.budget` does the maths; this module knows the camera: its excluded areas and timing,
which model its scores come from, where its live scores are kept, and what the admin shows.
Loaded only when calibrating or showing a camera's operating point (numpy and scipy).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import redis
from django.conf import settings
from django.utils.translation import gettext as _

from core.redis import redis_client
from venues.models import Camera
from venues.scores import score_log_read
from vision.incidents.budget import (
    CONFIDENCE,
    AlertCount,
    BudgetResult,
    ReferenceRecall,
    ScoreSegment,
    TriggerTiming,
    calibrate,
    camera_timing,
    count_alerts,
    footage_hours,
    minimum_hours,
    model_fingerprint,
    reference_recall,
    zones_fingerprint,
)
from vision.incidents.fight import FightModel, load_model

logger = logging.getLogger(__name__)

Polygon = list[tuple[float, float]]


def score_model() -> FightModel:
    """The fight model live sessions score with (CC_FIGHT_MODEL, else the shipped file)."""
    return load_model(settings.CC_FIGHT_MODEL)


def excluded_areas(camera: Camera) -> list[Polygon]:
    """The camera's enabled zones marked "exclude from fight detection", as the session masks them."""
    zones = camera.zones.filter(enabled=True, exclude_from_fight=True)
    return [[(float(x), float(y)) for x, y in zone.polygon] for zone in zones]


def fingerprints(camera: Camera, model: FightModel) -> tuple[str, str]:
    """(model, excluded areas) fingerprints of the scores the camera's session makes now."""
    return model_fingerprint(model), zones_fingerprint(excluded_areas(camera))


def timing_of(camera: Camera, model: FightModel) -> TriggerTiming:
    """The trigger timing the camera's session uses."""
    return camera_timing(model, min_duration_s=camera.min_duration_s, cooldown_s=float(camera.cooldown_s))


def live_footage(camera: Camera, *, hours: float, model: FightModel | None = None) -> list[ScoreSegment]:
    """The camera's recorded scores of the last `hours`, made with the current model and excluded areas."""
    model = model or score_model()
    scoring, zones = fingerprints(camera, model)
    return score_log_read(redis_client(), camera.pk, hours=hours, model=scoring, zones=zones)


def live_hours_available(camera: Camera) -> float:
    """Hours of the camera's score history that a calibration could use now."""
    return footage_hours(live_footage(camera, hours=float(settings.CC_SCORE_HISTORY_HOURS)))


@dataclass(frozen=True)
class Evaluation:
    """A calibration's outcome: the budget result, the reference recall, and the summary to store."""

    result: BudgetResult
    recall: ReferenceRecall | None
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when thresholds were found."""
        return self.result.status == "ok"


def evaluate(camera: Camera, segments: list[ScoreSegment], *, source: str, window: str) -> Evaluation:
    """Calibrate the camera's budget on this footage and read the reference recall at the result."""
    model = score_model()
    timing = timing_of(camera, model)
    result = calibrate(segments, model=model, timing=timing, budget_per_hour=camera.alert_budget_per_hour)
    recall = None
    if result.fight_threshold is not None and result.aggression_threshold is not None:
        recall = reference_recall(model, result.fight_threshold, result.aggression_threshold, timing)
    scoring, zones = fingerprints(camera, model)
    summary = {
        "source": source,
        "window": window,
        "status": result.status,
        "message": result.message,
        "budget_per_hour": result.budget_per_hour,
        "hours": result.hours,
        "minimum_hours": result.minimum_hours,
        "segments": len(segments),
        "fight_threshold": result.fight_threshold,
        "aggression_threshold": result.aggression_threshold,
        "fight_alerts": result.fight_alerts,
        "aggression_alerts": result.aggression_alerts,
        "alerts_per_hour": result.alerts_per_hour,
        "upper_per_hour": result.upper_per_hour,
        "confidence": CONFIDENCE,
        "recall": None if recall is None else asdict(recall),
        "model": scoring,
        "zones": zones,
        "fight_min_duration_s": timing.fight_min_duration_s,
        "aggression_min_duration_s": timing.aggression_min_duration_s,
        "cooldown_s": timing.cooldown_s,
        "curve": result.curve,
    }
    return Evaluation(result, recall, summary)


@dataclass(frozen=True)
class OperatingPoint:
    """The fight and aggression thresholds a camera's session uses now, where they come from, and caveats."""

    fight: float
    aggression: float
    calibrated: bool
    notes: list[str]


def operating_point(camera: Camera, model: FightModel | None = None) -> OperatingPoint:
    """What the session does with this camera's thresholds (IncidentStage's rules, read from the row)."""
    model = model or score_model()
    summary = camera.incident_calibration or {}
    scoring, zones = fingerprints(camera, model)
    notes: list[str] = []
    if camera.fight_threshold is not None and camera.aggression_threshold is not None:
        if summary.get("model") == scoring:
            if summary.get("zones") != zones:
                notes.append(_("The excluded areas changed since the calibration: recalibrate."))
            timing = timing_of(camera, model)
            if (summary.get("fight_min_duration_s"), summary.get("cooldown_s")) != (
                timing.fight_min_duration_s,
                timing.cooldown_s,
            ):
                notes.append(_("The minimum duration or cooldown changed since the calibration: recalibrate."))
            return OperatingPoint(camera.fight_threshold, camera.aggression_threshold, True, notes)
        notes.append(_("Calibrated for a previous fight model, so not in use: recalibrate."))
    shift = (0.5 - camera.sensitivity) * 0.2
    fight = min(0.99, max(0.05, model.threshold_fight + shift))
    aggression = min(0.99, max(0.05, model.threshold_aggression + shift))
    return OperatingPoint(round(fight, 4), round(aggression, 4), False, notes)


DISPLAY_HOURS = 24.0  # the live window the camera's admin page measures the thresholds in use on


def expected_now(camera: Camera, point: OperatingPoint, model: FightModel) -> tuple[float, AlertCount] | None:
    """(hours, alerts) the thresholds in use gave on the camera's last DISPLAY_HOURS of scores; None: none kept."""
    footage = live_footage(camera, hours=DISPLAY_HOURS, model=model)
    hours = footage_hours(footage)
    if hours <= 0:
        return None
    return hours, count_alerts(footage, point.fight, point.aggression, timing_of(camera, model))


def _recall_line(recall: ReferenceRecall | None) -> str:
    if recall is None:
        return _("Fights still caught: the fight model carries no labelled reference for this minimum duration.")
    qualifier = {"at_least": _("at least "), "at_most": _("at most ")}.get(recall.bound, "")
    return _(
        "Fights still caught: %(q)s%(fight).0f%% of %(clips)d labelled reference fights raise a fight alert "
        "(%(any).0f%% raise an alert of either kind), for fights held %(duration)g s."
    ) % {
        "q": qualifier,
        "fight": recall.fight * 100,
        "any": recall.any_alert * 100,
        "clips": recall.clips,
        "duration": recall.min_duration_s,
    }


def _source_line(camera: Camera, point: OperatingPoint) -> str:
    summary = camera.incident_calibration or {}
    if not point.calibrated:
        return _(
            "Fight %(fight).2f, aggression %(aggression).2f: the model's thresholds shifted by the sensitivity."
        ) % {
            "fight": point.fight,
            "aggression": point.aggression,
        }
    return _(
        "Fight %(fight).2f, aggression %(aggression).2f: calibrated %(at)s by %(by)s on %(hours).1f h of footage "
        "(%(window)s). Expected false alerts %(rate).2f per hour (%(confidence).0f%% upper bound %(upper).2f), "
        "budget %(budget)g."
    ) % {
        "fight": point.fight,
        "aggression": point.aggression,
        "at": str(summary.get("computed_at", ""))[:16].replace("T", " "),
        "by": summary.get("computed_by") or "manage.py",
        "hours": summary.get("hours", 0.0),
        "window": summary.get("window", ""),
        "rate": summary.get("alerts_per_hour") or 0.0,
        "confidence": float(summary.get("confidence", CONFIDENCE)) * 100,
        "upper": summary.get("upper_per_hour") or 0.0,
        "budget": summary.get("budget_per_hour", camera.alert_budget_per_hour),
    }


def _live_line(camera: Camera, point: OperatingPoint, model: FightModel) -> str:
    measured = expected_now(camera, point, model)
    if measured is None:
        return _(
            "No live scores of this camera are kept yet; calibrate after at least %(hours).1f h of ordinary footage "
            "(budget %(budget)g per hour)."
        ) % {"hours": minimum_hours(camera.alert_budget_per_hour), "budget": camera.alert_budget_per_hour}
    hours, count = measured
    return _(
        "On this camera's last %(window)g h (%(hours).1f h scored) these thresholds gave %(alerts)d alerts: "
        "%(rate).1f per hour."
    ) % {"window": DISPLAY_HOURS, "hours": hours, "alerts": count.total, "rate": count.total / hours}


def describe(camera: Camera) -> list[str]:
    """The camera's operating point for its admin page: thresholds, expected false alerts, recall, caveats."""
    model = score_model()
    point = operating_point(camera, model)
    recall = reference_recall(model, point.fight, point.aggression, timing_of(camera, model))
    lines = [_source_line(camera, point)]
    try:
        lines.append(_live_line(camera, point, model))
    except redis.RedisError as exc:  # Redis down: the page still opens, without the live figure
        logger.warning("camera %s: live scores not read: %s", camera.pk, exc)
        lines.append(_("The live scores could not be read (%(error)s).") % {"error": exc})
    return [*lines, _recall_line(recall), *point.notes]
