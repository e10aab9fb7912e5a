"""Create the first users: from CC_<ROLE>_USERNAME / CC_<ROLE>_PASSWORD, `--demo`, or prompts."""

from __future__ import annotations

import getpass
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.services import user_ensure
from core.roles import ROLES


class Command(BaseCommand):
    help = (
        "Create users for the roles dispatcher, supervisor, admin, auditor. Reads CC_<ROLE>_USERNAME and "
        "CC_<ROLE>_PASSWORD (e.g. CC_ADMIN_USERNAME); with --demo creates one user per role with generated "
        "passwords kept in var/demo_credentials.txt; otherwise prompts for an admin."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--demo", action="store_true", help="one user per role, generated passwords")

    def handle(self, *args: Any, **options: Any) -> None:
        from_env = self._from_env()
        if from_env:
            for role, (username, password) in from_env.items():
                self._create(role, username, password)
            return
        if options["demo"]:
            for role, (username, password) in self._demo_credentials().items():
                self._create(role, username, password)
            return
        if not sys.stdin.isatty():
            raise CommandError("Set CC_ADMIN_USERNAME and CC_ADMIN_PASSWORD, or pass --demo, or run interactively.")
        username = input("Admin username: ").strip()
        password = getpass.getpass("Admin password: ")
        self._create("admin", username, password)

    def _from_env(self) -> dict[str, tuple[str, str]]:
        found = {}
        for role in ROLES:
            username = os.environ.get(f"CC_{role.upper()}_USERNAME", "").strip()
            password = os.environ.get(f"CC_{role.upper()}_PASSWORD", "")
            if username and not password:
                raise CommandError(f"CC_{role.upper()}_PASSWORD must be set with CC_{role.upper()}_USERNAME")
            if username:
                found[role] = (username, password)
        return found

    def _demo_credentials(self) -> dict[str, tuple[str, str]]:
        path = Path(settings.VAR_DIR) / "demo_credentials.txt"
        if path.exists():
            pairs = [line.split(":", 2) for line in path.read_text().splitlines() if line.count(":") >= 2]
            stored = {role: (user, password) for role, user, password in pairs if role in ROLES}
            if set(stored) == set(ROLES):
                return stored
        else:
            stored = {}
        # keep the existing demo users' passwords; add a user for a role added since (e.g. authoriser)
        stored = {role: stored.get(role) or (role, secrets.token_urlsafe(9)) for role in ROLES}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{role}:{user}:{pw}\n" for role, (user, pw) in stored.items()))
        path.chmod(0o600)
        return stored

    def _create(self, role: str, username: str, password: str) -> None:
        if len(password) < 10:
            raise CommandError(f"the password for {username} must be at least 10 characters")
        _, created = user_ensure(username=username, password=password, role=role)
        verb = "created" if created else "updated"
        self.stdout.write(f"{verb} {role:<10} user {username!r} password {password!r}")
