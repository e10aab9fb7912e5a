"""`manage.py identify --json PHOTO...`: faces in each photo and their watchlist candidates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from watchlists.enrolment import EnrolmentError
from watchlists.identify import identify_settings, photo_check


class Command(BaseCommand):
    help = (
        "Check photos against the active watchlists; prints faces (box) and candidates per photo. With --json: "
        '{"model", "detector", "thresholds" (per watchlist), "photos": [{"photo", "faces": [...]}]}.'
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("photos", nargs="+", type=Path)
        parser.add_argument("--json", action="store_true", help="machine-readable output")
        parser.add_argument("--purpose", default="command-line photo check", help="recorded in the audit log")

    def handle(self, *args: Any, **options: Any) -> None:
        report = [self._one(path, options["purpose"]) for path in options["photos"]]
        used = identify_settings()
        if options["json"]:
            self.stdout.write(json.dumps({**used, "photos": report}, indent=2))
            return
        thresholds = ", ".join(f"{name} {value:.3f}" for name, value in used["thresholds"].items()) or "none"
        self.stdout.write(f"model {used['model']}, detector {used['detector']}; thresholds: {thresholds}")
        for item in report:
            self.stdout.write(f"{item['photo']}: {item.get('error') or str(len(item['faces'])) + ' face(s)'}")
            for face in item.get("faces", []):
                best = face["candidates"][0] if face["candidates"] else None
                summary = (
                    (
                        f"{best['subject']} ({best['watchlist']}) similarity {best['similarity']:.3f}"
                        f"{' MATCH' if best['passes'] else ''}"
                    )
                    if best
                    else "no candidates"
                )
                self.stdout.write(f"  face {face['box']}: {summary}")

    def _one(self, path: Path, purpose: str) -> dict[str, Any]:
        if not path.is_file():
            return {"photo": str(path), "error": "file not found", "code": "not_found", "faces": []}
        try:
            faces = photo_check(user=None, data=path.read_bytes(), purpose=purpose, source="shell")
        except EnrolmentError as exc:
            return {"photo": str(path), "error": exc.message, "code": exc.code, "faces": []}
        return {"photo": str(path), "faces": faces}
