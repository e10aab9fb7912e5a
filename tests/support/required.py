"""Something a test needs is missing: skip with the reason, except under CI=true, where it is a failure."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def unavailable(message: str, *, module_level: bool = False) -> NoReturn:
    """Skip (or, under CI=true, fail) with `message`, which says what is missing and how to get it."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} -- required under CI=true", pytrace=False)
    pytest.skip(message, allow_module_level=module_level)
