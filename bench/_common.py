"""Shared helpers for bench scripts: sample-data lookup with a clear skip, timing."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from workers.sampledata import sample_path  # noqa: E402

T = TypeVar("T")


def require_sample(*parts: str) -> Path | None:
    """Return a sample-data path, or print a SKIP line and return None when absent."""
    path = sample_path(*parts)
    if path is None:
        print(f"SKIP: sample data {'/'.join(parts)} not found (set CC_SAMPLE_DATA)")
    return path


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    """Run fn and return (result, seconds)."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def ratio(value: float, baseline: float) -> str:
    """'x.xx x baseline' or 'n/a' when the baseline is zero."""
    return f"{value / baseline:.2f}x baseline" if baseline else "n/a"
