#!/usr/bin/env python
"""Django's command-line utility; starts the embedded services when no URLs are set."""

import os
import sys

UNMIGRATED_SQLSTATES = {"42P01", "42703"}  # undefined table, undefined column: migrations not applied


def unmigrated_message(exc: BaseException) -> str | None:
    """One line naming the command to run when ``exc`` says the schema is missing or behind, else None."""
    from django.db.utils import ProgrammingError

    cause = exc.__cause__
    if not isinstance(exc, ProgrammingError) or getattr(cause, "sqlstate", None) not in UNMIGRATED_SQLSTATES:
        return None
    reason = str(cause).splitlines()[0]
    return f"error: the database is not migrated ({reason}): run `python manage.py migrate` first"


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commandcenter.settings")
    if sys.argv[1:2] == ["embedded"]:  # status/start/stop without starting the servers by importing the settings
        from commandcenter import embedded

        sys.exit(embedded.cli(sys.argv[2:]))
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except Exception as exc:
        message = unmigrated_message(exc)
        if message is None:
            raise
        print(message, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
