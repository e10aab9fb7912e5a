"""`manage.py notify_expiring`: e-mail owners of watchlist entries that expire soon (once each)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from retention.services import subjects_notify_expiring


class Command(BaseCommand):
    help = "Send the expiry notices that are due and record each in the access log."

    def handle(self, *args: Any, **options: Any) -> None:
        notified = subjects_notify_expiring()
        self.stdout.write(f"notified {len(notified)} entries" + (f": {', '.join(notified)}" if notified else ""))
