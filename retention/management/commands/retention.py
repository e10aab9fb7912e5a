"""`manage.py retention [--dry-run] [--now ISO] [--json]`: purge (or list) what is past its period."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from retention.services import retention_run


class Command(BaseCommand):
    help = "Apply the retention periods; with --dry-run only report what would be purged (counts and ids)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Report only; change nothing.")
        parser.add_argument("--now", help="ISO time to evaluate the periods at (default: now).")
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        if options["now"]:
            try:
                now = datetime.fromisoformat(options["now"])
            except ValueError as exc:
                raise CommandError(f"--now must be an ISO date-time: {exc}") from exc
            if timezone.is_naive(now):
                now = timezone.make_aware(now)
        report = retention_run(now=now, dry_run=options["dry_run"])
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
            return
        verb = "would purge" if report.dry_run else "purged"
        for kind, ids in report.purged.items():
            self.stdout.write(f"{kind}: {verb} {len(ids)}" + (f" [{', '.join(ids)}]" if ids else ""))
        files = f" [{', '.join(report.files)}]" if report.files else ""
        self.stdout.write(f"files: {verb} {len(report.files)}{files}")
