"""Import venues and cameras from a CSV: `manage.py import_fleet fleet.csv [--dry-run] [--json]`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from venues.fleet import FleetFileError, fleet_import


class Command(BaseCommand):
    help = (
        "Columns: venue, camera, stream_url (required); kind, address, district, latitude, longitude, capacity, "
        "enabled, analysis_fps, rtsp_transport (optional). One row per camera; each row succeeds or is rejected alone."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("csv_file", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="report what would happen, change nothing")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["csv_file"]
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        try:
            report = fleet_import(data=path.read_bytes(), actor=None, dry_run=options["dry_run"])
        except FleetFileError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2, default=str))
            return
        for row in report.rows:
            if row.rejected:
                reasons = "; ".join(f"{k}: {' '.join(v)}" for k, v in row.errors.items())
                self.stdout.write(f"row {row.row}: REJECTED {row.venue} / {row.camera}: {reasons}")
            else:
                self.stdout.write(f"row {row.row}: venue {row.venue_action}, camera {row.camera_action or '-'}")
        self.stdout.write(json.dumps(report.counts()))
