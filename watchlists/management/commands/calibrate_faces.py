"""Calibrate the face matcher on a labelled set: distance distributions, ROC, threshold for a target FMR."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from watchlists.calibration import calibrate, save_calibration


class Command(BaseCommand):
    help = (
        "Embed the photos of a labelled folder (pairs in master.csv / face-recognition-pivot.csv, as in "
        "../shared/data/faces/deepface) and print genuine/impostor distance statistics, ROC, the threshold for "
        "a target false-match rate and expected false alerts per 10,000 faces for a watchlist size. Saves the "
        "curve to var/calibration/<model>.json for the admin pages."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        default = Path(settings.CC_SAMPLE_DATA) / "faces" / "deepface"
        parser.add_argument("folder", nargs="?", type=Path, default=default)
        parser.add_argument("--target-fmr", type=float, default=0.001)
        parser.add_argument("--watchlist-size", type=int, default=1000)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        folder: Path = options["folder"]
        if not folder.is_dir():
            raise CommandError(f"no labelled folder at {folder} (pass one, or set CC_SAMPLE_DATA)")
        result = calibrate(folder, target_fmr=options["target_fmr"], watchlist_size=options["watchlist_size"])
        path = save_calibration(result)
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
            return
        for line in _lines(result):
            self.stdout.write(line)
        self.stdout.write(f"saved {path}")


def _lines(result: dict[str, Any]) -> list[str]:
    genuine, impostor = result["genuine"], result["impostor"]
    lines = [
        f"model {result['model']}: {result['photos']} photos, {genuine['count']} genuine and "
        f"{impostor['count']} impostor pairs",
        f"genuine distance  mean {genuine['mean']:.4f}  p95 {genuine['p95']:.4f}  max {genuine['max']:.4f}",
        f"impostor distance mean {impostor['mean']:.4f}  p5 {impostor['p5']:.4f}  min {impostor['min']:.4f}",
        f"ROC-AUC {result['auc']:.4f}; best accuracy {result['best_accuracy']:.4f} at distance "
        f"{result['best_threshold']:.4f}",
        f"threshold for FMR {result['target_fmr']}: distance {result['threshold_for_target']:.4f} "
        f"(similarity {1 - result['threshold_for_target']:.4f})",
        f"shipped threshold: distance {result['shipped_threshold']:.4f}, FMR {result['shipped_fmr']:.2e} "
        f"(empirical {result['shipped_fmr_empirical']:.2e}, normal-tail fit {result['shipped_fmr_fit']:.2e})",
        f"expected false alerts per 10,000 faces for {result['watchlist_size']} people: "
        f"{result['false_alerts_per_10k']:.2f}",
        "ROC (distance, FMR, TMR):",
    ]
    lines += [f"  {p['threshold']:.4f}  {p['fmr']:.4f}  {p['tmr']:.4f}" for p in result["roc"]]
    return lines
