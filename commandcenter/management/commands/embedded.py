"""Show, start (and pin) or stop the embedded PostgreSQL and Redis under var/."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from commandcenter import embedded


class Command(BaseCommand):
    help = (
        "status | start | stop: the embedded servers. They start on their own when a command needs them and stop "
        "when their last user exits; `start` keeps them running until `stop`."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["status", "start", "stop"])

    def handle(self, *args: Any, **options: Any) -> None:
        if embedded.cli([options["action"]]) != 0:
            raise CommandError("embedded servers: bad action")
