"""Opening hours: same-day windows, windows past midnight, weekday wrap, no hours at all."""

from __future__ import annotations

from datetime import datetime, time

import pytest

from venues.hours import is_open, windows_of

# Monday-Thursday 10:00-22:00, Friday 18:00 to Saturday 04:00, Sunday 22:00 to Monday 02:00
HOURS = windows_of([(day, time(10), time(22)) for day in range(4)] + [(4, time(18), time(4)), (6, time(22), time(2))])


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (datetime(2026, 12, 1, 9, 59), False),  # Tuesday, before opening
        (datetime(2026, 12, 1, 10, 0), True),  # Tuesday, at opening
        (datetime(2026, 12, 1, 21, 59), True),
        (datetime(2026, 12, 1, 22, 0), False),  # closing time is already closed
        (datetime(2026, 12, 4, 17, 0), False),  # Friday afternoon
        (datetime(2026, 12, 4, 23, 30), True),  # Friday night
        (datetime(2026, 12, 5, 3, 59), True),  # Saturday small hours belong to Friday's window
        (datetime(2026, 12, 5, 4, 0), False),
        (datetime(2026, 12, 5, 23, 0), False),  # Saturday night: no window
        (datetime(2026, 12, 6, 23, 0), True),  # Sunday night
        (datetime(2026, 12, 7, 1, 30), True),  # Monday 01:30: Sunday's window wraps the week
        (datetime(2026, 12, 7, 2, 0), False),
    ],
)
def test_is_open(local, expected):
    assert is_open(HOURS, local) is expected


def test_a_venue_without_hours_is_always_open():
    assert is_open((), datetime(2026, 12, 5, 4, 0)) is True
