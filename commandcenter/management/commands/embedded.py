"""Show, start or stop the embedded PostgreSQL and Redis under var/."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from commandcenter import embedded


class Command(BaseCommand):
    help = "status | stop: the embedded servers (they start on their own when a command needs them)"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["status", "stop"])

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "stop":
            embedded.stop_services()
        for name, running in embedded.status().items():
            self.stdout.write(f"{name}: {'running' if running else 'stopped'}")
