"""Latency sampling (p50/p95) and plain-text tables for face benchmarks and reports."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Timer:
    """Collects durations in seconds and summarises them in milliseconds."""

    samples: list[float] = field(default_factory=list)

    @contextmanager
    def measure(self) -> Iterator[None]:
        """Time the body of a ``with`` block."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.samples.append(time.perf_counter() - start)

    def ms(self, quantile: float = 0.5) -> float:
        """The given quantile of the samples (nearest rank), in milliseconds."""
        if not self.samples:
            return float("nan")
        ordered = sorted(self.samples)
        index = min(len(ordered) - 1, round(quantile * (len(ordered) - 1)))
        return ordered[index] * 1000

    def mean_ms(self) -> float:
        """Mean of the samples in milliseconds."""
        return statistics.fmean(self.samples) * 1000 if self.samples else float("nan")


def text_table(rows: list[list[str]], header: list[str]) -> str:
    """Format rows as a fixed-width text table."""
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)
