"""Opening hours as plain data: is a venue open at a local time? (No Django: the stream loop asks per frame.)"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, time

Window = tuple[int, int, int]
"""(weekday 0=Monday, opens, closes) with times in minutes after midnight; closes <= opens runs past midnight."""

MINUTES_PER_DAY = 24 * 60


def window_of(weekday: int, opens: time, closes: time) -> Window:
    """One OpeningHours row as a Window."""
    return (weekday, opens.hour * 60 + opens.minute, closes.hour * 60 + closes.minute)


def windows_of(rows: Iterable[tuple[int, time, time]]) -> tuple[Window, ...]:
    """(weekday, opens, closes) rows as Windows."""
    return tuple(window_of(weekday, opens, closes) for weekday, opens, closes in rows)


def is_open(windows: Sequence[Window], local: datetime) -> bool:
    """True when ``local`` (the venue's local time) is inside a window; a venue with no hours is always open."""
    if not windows:
        return True
    day, minute = local.weekday(), local.hour * 60 + local.minute
    for weekday, opens, closes in windows:
        if opens < closes:
            if weekday == day and opens <= minute < closes:
                return True
        elif (weekday == day and minute >= opens) or ((weekday + 1) % 7 == day and minute < closes):
            return True
    return False
