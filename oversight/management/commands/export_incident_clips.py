"""`manage.py export_incident_clips FOLDER --user NAME --purpose TEXT [--since DATE] [--camera ID]`."""

from __future__ import annotations

from argparse import ArgumentTypeError
from datetime import datetime, time
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone


class Command(BaseCommand):
    """Write reviewed fight and aggression alerts' clips as a labelled training set (audited)."""

    help = (
        "Write every resolved fight or aggression alert with a clip to FOLDER: fight/ (outcome handled or arrest), "
        "noFight/ (false alarm, no action needed) and labels.csv, which `python -m tools.train_fight --extra FOLDER "
        "--out FILE` reads. The clips are unmasked originals: NAME must hold oversight.export_unmasked; the export "
        "is audited under NAME with the purpose and every clip's sha256."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("folder", type=Path, help="a new or empty folder")
        parser.add_argument("--user", required=True, help="the person responsible for the export (audited)")
        parser.add_argument("--purpose", required=True, help="why (recorded in the audit log)")
        parser.add_argument("--since", type=_date, default=None, help="only alerts raised on or after YYYY-MM-DD")
        parser.add_argument("--camera", default=None, help="only this camera's alerts (its id)")

    def handle(self, *args: Any, **options: Any) -> None:
        from django.contrib.auth.models import User

        from oversight.training import incident_clips_export

        try:
            actor = User.objects.get(username=options["user"], is_active=True)
        except User.DoesNotExist as exc:
            raise CommandError(f"no active user {options['user']!r}") from exc
        try:
            result = incident_clips_export(
                actor=actor,
                folder=options["folder"],
                purpose=options["purpose"],
                since=options["since"],
                camera_id=options["camera"],
            )
        except PermissionDenied as exc:
            raise CommandError(f"{actor.username} may not export unmasked clips ({exc})") from exc
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        missing = f", {len(result.missing_clip)} without their clip file" if result.missing_clip else ""
        self.stdout.write(
            f"{result.written} clips ({result.fight} fight, {result.no_fight} noFight) from {result.cameras} "
            f"camera(s) written to {result.folder}{missing}; labels in {result.folder / 'labels.csv'}"
        )


def _date(value: str) -> datetime:
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as exc:
        raise ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from exc
    return timezone.make_aware(datetime.combine(day, time.min))
