"""`manage.py watchlist_import --watchlist NAME --category wanted|missing|other CSV`: bulk enrolment."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from watchlists.bulk import PhotoSource, parse_rows, watchlist_import
from watchlists.enrolment import EnrolmentError
from watchlists.models import Watchlist
from watchlists.services import watchlist_default_threshold, watchlist_save

DEFAULT_BASIS = "Bulk import from the command line; the owner must record the legal basis."


class Command(BaseCommand):
    help = (
        "CSV columns: name, photo (an absolute path, or a path relative to the CSV; more photos of one person = "
        "more rows with the same name), optional reference, expires_at (YYYY-MM-DD, default one year). Prints a "
        "JSON report on stdout (a per-row error for every photo that could not be used, and every photo enrolled "
        "with a quality warning) and a one-line summary on stderr; exits 1 when any row failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("csv_file", type=Path)
        parser.add_argument("--watchlist", required=True)
        parser.add_argument("--category", required=True, choices=Watchlist.Category.values)
        parser.add_argument("--legal-basis", default=DEFAULT_BASIS, help="used when the watchlist is created")
        parser.add_argument("--owner", help="username of the owner (default: the first superuser or admin)")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["csv_file"]
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        owner = self._owner(options.get("owner"))
        watchlist = self._watchlist(options, owner)
        try:
            rows = parse_rows(path.read_text(encoding="utf-8-sig"))
        except (EnrolmentError, UnicodeDecodeError) as exc:
            raise CommandError(str(exc)) from exc
        report = watchlist_import(
            watchlist=watchlist, rows=rows, photos=PhotoSource(root=path.parent), actor=owner, progress=self._progress
        )
        sys.stderr.write("\n")
        self.stdout.write(json.dumps(report.summary(), indent=2))
        if report.failed:
            raise CommandError(report.line(), returncode=1)
        self.stderr.write(report.line())

    def _progress(self, done: int, total: int) -> None:
        sys.stderr.write(f"\renrolled {done}/{total}")
        sys.stderr.flush()

    def _owner(self, username: str | None) -> Any:
        users = get_user_model().objects
        owner = (
            users.filter(username=username).first()
            if username
            else users.filter(is_superuser=True).first() or users.filter(groups__name="admin").first()
        )
        if owner is None:
            raise CommandError("no owner: pass --owner USERNAME or create an admin first (manage.py create_users)")
        return owner

    def _watchlist(self, options: dict[str, Any], owner: Any) -> Watchlist:
        watchlist = Watchlist.objects.filter(name=options["watchlist"]).first()
        if watchlist is not None:
            if watchlist.category != options["category"]:
                raise CommandError(f"watchlist {watchlist.name!r} exists with category {watchlist.category}")
            return watchlist
        watchlist = Watchlist(
            name=options["watchlist"],
            category=options["category"],
            legal_basis=options["legal_basis"],
            owner=owner,
            match_threshold=watchlist_default_threshold(),
            requires_second_confirmation=options["category"] == Watchlist.Category.WANTED,
        )
        return watchlist_save(actor=owner, watchlist=watchlist)
