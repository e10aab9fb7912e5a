"""Verify the access log's hash chain; exit 1 and name the first broken row if it was altered."""

from __future__ import annotations

import sys
import time
from typing import Any

from django.core.management.base import BaseCommand

from audit.services import chain_verify


class Command(BaseCommand):
    help = "Recompute every audit row's hash in order; report the first row that was edited, removed or moved."

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        report = chain_verify()
        elapsed = time.perf_counter() - started
        if report.ok:
            self.stdout.write(f"chain intact: {report.rows_checked} rows verified in {elapsed:.2f} s")
            return
        self.stdout.write(
            f"BROKEN at row {report.first_broken_id}: {report.reason} ({report.rows_checked} rows before it verified)"
        )
        sys.exit(1)
