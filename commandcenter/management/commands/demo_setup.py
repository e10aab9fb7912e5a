"""Create the demo venue whose cameras loop sample footage, and a demo watchlist (idempotent)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from commandcenter.demo import demo_setup


class Command(BaseCommand):
    help = (
        "Demo venue with cameras looping clips from CC_SAMPLE_DATA (default ../shared/data); where none exist, a "
        "clip generated from photos shipped in installed packages. Enrols the two people of the sample clip."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        for line in demo_setup() or ["demo already set up"]:
            self.stdout.write(line)
