"""`manage.py calibrate_incidents CAMERA [--hours N | --recording FILE] [--json]`: fit a camera to its alert budget."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    """Calibrate a camera's fight and aggression thresholds to its false-alert budget and store them (audited)."""

    help = (
        "Replay the camera's fight and aggression triggers over its own scores (the live history of the last N hours, "
        "or a recording scored as its session would) and store the lowest thresholds that keep its expected false "
        "alerts within the camera's budget. CAMERA is the camera's id, or 'Venue / Camera'."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("camera")
        source = parser.add_mutually_exclusive_group()
        source.add_argument("--hours", type=float, default=None, help="use the live scores of the last N hours (24)")
        source.add_argument("--recording", type=Path, default=None, help="score this video file as the camera")
        parser.add_argument("--json", action="store_true", help="print the calibration summary as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        from django.conf import settings

        from venues.services import CalibrationError, camera_calibrate_incidents

        camera = _camera(options["camera"])
        recording: Path | None = options["recording"]
        limit = float(settings.CC_SCORE_HISTORY_HOURS)
        hours = 24.0 if options["hours"] is None else float(options["hours"])
        try:
            if recording is not None:
                segments = _recording_segments(camera, recording)
                summary = camera_calibrate_incidents(
                    camera=camera, user=None, source="recording", segments=segments, window=recording.name
                )
            else:
                if not 0 < hours <= limit:
                    raise CommandError(f"--hours must be more than 0 and at most {limit:g} (CC_SCORE_HISTORY_HOURS)")
                summary = camera_calibrate_incidents(camera=camera, user=None, source="live", hours=hours)
        except CalibrationError as exc:
            raise CommandError(f"{camera}: not calibrated: {exc}") from exc
        if options["json"]:
            self.stdout.write(json.dumps(summary, indent=2))
            return
        self.stdout.write(_line(camera, summary))


def _camera(ref: str) -> Any:
    from venues.models import Camera

    if " / " in ref:
        venue, name = ref.split(" / ", 1)
        found = Camera.objects.filter(venue__name=venue, name=name).first()
    else:
        try:
            found = Camera.objects.filter(pk=ref).first()
        except ValidationError:
            found = None
    if found is None:
        raise CommandError(f"no camera {ref!r} (give its id, or 'Venue / Camera')")
    return found


def _recording_segments(camera: Any, path: Path) -> Any:
    from workers.camera_config import load_camera
    from workers.recordings import recording_scores

    if not path.is_file():
        raise CommandError(f"no such video file: {path}")
    loaded = load_camera(str(camera.pk))
    assert loaded is not None
    try:
        return recording_scores(str(path), loaded[1])
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc}") from exc


def _line(camera: Any, summary: dict[str, Any]) -> str:
    recall = summary["recall"]
    caught = (
        "no labelled reference in the model"
        if recall is None
        else (
            f"{recall['fight']:.0%} of {recall['clips']} reference fights raise a fight alert "
            f"({recall['any_alert']:.0%} any alert)"
        )
    )
    return (
        f"{camera}: fight {summary['fight_threshold']:.2f}, aggression {summary['aggression_threshold']:.2f} from "
        f"{summary['hours']:.2f} h ({summary['window']}): {summary['alerts_per_hour']:.2f} false alerts/h "
        f"(95% upper {summary['upper_per_hour']:.2f}, budget {summary['budget_per_hour']:g}); {caught}"
    )
