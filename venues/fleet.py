"""Fleet import: venues and cameras from a CSV, with a per-row report of what happened and why."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from venues.models import Camera, Venue
from venues.services import camera_save, venue_save

REQUIRED_COLUMNS = {"venue", "camera", "stream_url"}
VENUE_COLUMNS = {
    "kind": "kind",
    "address": "address",
    "district": "district",
    "latitude": "latitude",
    "longitude": "longitude",
    "capacity": "capacity",
}
CAMERA_COLUMNS = {"enabled": "enabled", "analysis_fps": "analysis_fps", "rtsp_transport": "rtsp_transport"}
MAX_ROWS = 20_000


@dataclass
class RowResult:
    """What one CSV row did."""

    row: int
    venue: str
    camera: str
    venue_action: str = ""
    camera_action: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def rejected(self) -> bool:
        return bool(self.errors)


@dataclass
class FleetReport:
    """All row results plus counts."""

    rows: list[RowResult] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        keys = ["venues_created", "venues_updated", "cameras_created", "cameras_updated", "rows_rejected"]
        totals = dict.fromkeys(keys, 0)
        for row in self.rows:
            if row.rejected:
                totals["rows_rejected"] += 1
                continue
            for kind, action in (("venues", row.venue_action), ("cameras", row.camera_action)):
                if action in {"created", "updated"}:
                    totals[f"{kind}_{action}"] += 1
        return totals

    def as_dict(self) -> dict[str, Any]:
        return {"counts": self.counts(), "rows": [asdict(r) for r in self.rows]}


class FleetFileError(ValueError):
    """The file as a whole cannot be read (encoding, header)."""


def read_rows(data: bytes) -> list[dict[str, str]]:
    """Decode the CSV and check the header."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FleetFileError("The file is not UTF-8 text; save the spreadsheet as CSV UTF-8.") from None
    reader = csv.DictReader(io.StringIO(text))
    header = {name.strip().lower() for name in reader.fieldnames or []}
    missing = REQUIRED_COLUMNS - header
    if missing:
        raise FleetFileError(f"Missing columns: {', '.join(sorted(missing))}. Required: venue, camera, stream_url.")
    rows = [{(k or "").strip().lower(): (v or "").strip() for k, v in row.items()} for row in reader]
    if len(rows) > MAX_ROWS:
        raise FleetFileError(f"At most {MAX_ROWS} rows per import; split the file.")
    return rows


def fleet_import(*, data: bytes, actor: User | None, dry_run: bool = False) -> FleetReport:
    """Create or update venues and cameras row by row; a bad row is rejected alone."""
    report = FleetReport()
    with transaction.atomic():
        for number, row in enumerate(read_rows(data), start=2):
            report.rows.append(_import_row(number, row, actor))
        if dry_run:
            transaction.set_rollback(True)
    return report


def _import_row(number: int, row: dict[str, str], actor: User | None) -> RowResult:
    result = RowResult(row=number, venue=row.get("venue", ""), camera=row.get("camera", ""))
    if not result.venue:
        result.errors["venue"] = ["The venue name is empty."]
        return result
    try:
        with transaction.atomic():
            venue, result.venue_action = _upsert_venue(row, actor)
            if result.camera or row.get("stream_url"):
                result.camera_action = _upsert_camera(venue, row, actor)
    except ValidationError as exc:
        result.errors = exc.message_dict if hasattr(exc, "error_dict") else {"row": exc.messages}
        result.venue_action = result.camera_action = ""
    return result


def _upsert_venue(row: dict[str, str], actor: User | None) -> tuple[Venue, str]:
    venue = Venue.objects.filter(name=row["venue"]).first()
    action = "updated" if venue else "created"
    venue = venue or Venue(name=row["venue"])
    changed = _apply(venue, row, VENUE_COLUMNS)
    if action == "updated" and not changed:
        return venue, "unchanged"
    return venue_save(actor=actor, venue=venue), action


def _upsert_camera(venue: Venue, row: dict[str, str], actor: User | None) -> str:
    if not row.get("camera"):
        raise ValidationError({"camera": ["A row with a stream_url needs a camera name."]})
    camera = Camera.objects.filter(venue=venue, name=row["camera"]).first()
    action = "updated" if camera else "created"
    camera = camera or Camera(venue=venue, name=row["camera"])
    changed = _apply(camera, row, {"stream_url": "stream_url", **CAMERA_COLUMNS})
    if action == "updated" and not changed:
        return "unchanged"
    camera_save(actor=actor, camera=camera)
    return action


def _apply(instance: Venue | Camera, row: dict[str, str], columns: dict[str, str]) -> bool:
    changed = False
    errors: dict[str, list[str]] = {}
    for column, attribute in columns.items():
        raw = row.get(column, "")
        if raw == "":
            continue
        try:
            value = _convert(instance, attribute, raw)
        except ValueError as exc:
            errors[column] = [str(exc)]
            continue
        if getattr(instance, attribute) != value:
            setattr(instance, attribute, value)
            changed = True
    if errors:
        raise ValidationError(errors)
    return changed


def _convert(instance: Venue | Camera, attribute: str, raw: str) -> Any:
    internal = instance._meta.get_field(attribute).get_internal_type()
    if internal == "DecimalField":
        try:
            return Decimal(raw)
        except InvalidOperation:
            raise ValueError(f"{raw!r} is not a number.") from None
    if internal == "IntegerField":
        if not raw.lstrip("-").isdigit():
            raise ValueError(f"{raw!r} is not a whole number.")
        return int(raw)
    if internal == "FloatField":
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"{raw!r} is not a number.") from None
    if internal == "BooleanField":
        lowered = raw.lower()
        if lowered not in {"1", "0", "true", "false", "yes", "no"}:
            raise ValueError(f"{raw!r} is not yes/no.")
        return lowered in {"1", "true", "yes"}
    return raw
