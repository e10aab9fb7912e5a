"""Calibrate the face matcher on every labelled face: distance distributions, ROC, threshold for a city-scale target."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from watchlists.calibration import calibrate, save_calibration
from watchlists.matching import active_face_model


class Command(BaseCommand):
    help = (
        "Embed every labelled face under a faces folder (by default ../shared/data/faces: labelled photos, "
        "strangers' group photos and the probe clips' faces) with the active face model (or --model) and print "
        "genuine/impostor distance statistics, ROC, the per-pair false-match rate that a false-positive "
        "identification rate per probe (--target-fpir, 1%) against --watchlist-size people (1,000) implies, the "
        "threshold for it, and a warning when there are too few impostor pairs to support it. Saves "
        "var/calibration/<model>.json for the admin's expected false alerts."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("folder", nargs="?", type=Path, default=Path(settings.CC_SAMPLE_DATA) / "faces")
        parser.add_argument("--model", help="embedder name (default: the active face model)")
        parser.add_argument("--target-fpir", type=float, default=0.01)
        parser.add_argument("--watchlist-size", type=int, default=1000)
        parser.add_argument("--no-clips", action="store_true", help="leave out the probe clips' faces")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        folder: Path = options["folder"]
        if not folder.is_dir():
            raise CommandError(f"no faces folder at {folder} (pass one, or set CC_SAMPLE_DATA)")
        if not 0 < options["target_fpir"] < 1 or options["watchlist_size"] < 1:
            raise CommandError("--target-fpir must be between 0 and 1 and --watchlist-size at least 1")
        try:
            result = calibrate(
                folder,
                embedder_name=options["model"] or active_face_model(),
                target_fpir=options["target_fpir"],
                watchlist_size=options["watchlist_size"],
                clips=not options["no_clips"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        path = save_calibration(result)
        for warning in result["warnings"]:
            self.stderr.write(f"WARNING: {warning}")
        if options["json"]:
            self.stdout.write(json.dumps({k: v for k, v in result.items() if k != "impostor_distances"}, indent=2))
            return
        for line in _lines(result):
            self.stdout.write(line)
        self.stdout.write(f"saved {path}")


def _lines(result: dict[str, Any]) -> list[str]:
    genuine, impostor = result["genuine"], result["impostor"]
    return [
        f"model {result['model']}: {result['labelled_photos']} labelled photos, {result['faces']} faces; "
        f"{genuine['count']:,} genuine and {impostor['count']:,} impostor pairs",
        f"genuine distance  mean {genuine['mean']:.4f}  p95 {genuine['p95']:.4f}  max {genuine['max']:.4f}",
        f"impostor distance mean {impostor['mean']:.4f}  p5 {impostor['p5']:.4f}  min {impostor['min']:.4f}",
        f"ROC-AUC {result['auc']:.4f}",
        f"target: FPIR {result['target_fpir']:.2%} per probe against {result['watchlist_size']:,} people -> "
        f"per-pair FMR {result['target_fmr']:.3g} (needs >= {result['impostor_pairs_needed']:,} impostor pairs; "
        f"{'supported' if result['supports_target'] else 'NOT supported by this data'})",
        f"threshold for it: distance {result['threshold_for_target']:.4f}, FNMR there {result['fnmr_at_target']:.2%}",
        f"shipped threshold: distance {result['shipped_threshold']:.4f}, FNMR {result['shipped_fnmr']:.2%}, "
        f"FMR {result['shipped_fmr']:.2e} (empirical or normal-tail fit, the larger)",
        f"expected false alerts per 10,000 faces for {result['watchlist_size']:,} people: "
        f"{result['false_alerts_per_10k']:.2f}",
        "ROC (distance, FMR, TMR):",
        *(f"  {p['threshold']:.4f}  {p['fmr']:.4f}  {p['tmr']:.4f}" for p in result["roc"]),
    ]
