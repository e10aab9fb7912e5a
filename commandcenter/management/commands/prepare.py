"""Everything `make run` does before starting the processes, in one process: models, migrations, demo."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "provision_models, migrate, and (with --demo) create_users --demo and demo_setup."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--demo", action="store_true", help="also create demo users and the demo venue")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("provision_models")
        call_command("migrate", interactive=False, verbosity=1)
        if options["demo"]:
            call_command("create_users", demo=True)
            call_command("demo_setup")
