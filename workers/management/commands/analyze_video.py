"""`manage.py analyze_video FILE`: run the live pipeline over recorded footage (nothing stored)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    """Print face matches, incidents and a per-frame timeline of a video file."""

    help = "Analyse a recorded video with the stream pipeline; no alerts, evidence or embeddings are stored."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--fps", type=float, default=5.0, help="analysed frames per second (default 5)")
        parser.add_argument("--watchlist", default=None, help="only match subjects of this watchlist (name)")
        parser.add_argument("--json", action="store_true", help="print the full result as JSON")
        parser.add_argument("--no-incidents", action="store_true", help="skip people counting and fight scoring")

    def handle(self, *args: Any, **options: Any) -> None:
        from workers.recordings import analyse_file

        path: Path = options["file"].expanduser().resolve()
        fps: float = options["fps"]
        if not 0.2 <= fps <= 30.0:
            raise CommandError("--fps must be between 0.2 and 30")
        if not path.is_file():
            raise CommandError(f"no such video file: {path}")
        self._check_watchlist(options["watchlist"])
        try:
            result = analyse_file(
                str(path), fps=fps, watchlist=options["watchlist"], incidents=not options["no_incidents"]
            )
        except OSError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
            return
        self._summary(result)

    def _check_watchlist(self, name: str | None) -> None:
        from watchlists.models import Watchlist

        if name is not None and not Watchlist.objects.filter(name=name).exists():
            raise CommandError(f"no watchlist named {name!r}")

    def _summary(self, result: dict[str, Any]) -> None:
        self.stdout.write(f"{result['duration_s']:.1f}s, {result['frames_analysed']} frames analysed")
        for item in result["detections"]:
            who = f" {item['subject']} ({item['watchlist']})" if item["kind"] == "face_match" else ""
            self.stdout.write(
                f"  {item['start_s']:7.2f}-{item['end_s']:7.2f}s {item['kind']}{who} score {item['score']:.3f}"
            )
