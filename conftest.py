"""Project-wide pytest fixtures: real sample data, roles."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from workers.sampledata import sample_data_dir


def _missing(what: str) -> None:
    message = (
        f"sample data not found: {what} (set CC_SAMPLE_DATA to the folder of real "
        "photos and clips, by default ../shared/data)"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " -- required under CI=true")
    pytest.skip(message)


@pytest.fixture(scope="session")
def sample_data() -> Path:
    """The real photos/clips folder; skips (fails under CI) when absent."""
    root = sample_data_dir()
    if root is None:
        _missing("folder")
    assert root is not None
    return root


@pytest.fixture(scope="session")
def sample_file(sample_data: Path):  # type: ignore[no-untyped-def]
    """Return a function that resolves a path inside the sample data or skips."""

    def resolve(*parts: str) -> Path:
        path = sample_data.joinpath(*parts)
        if not path.exists():
            _missing("/".join(parts))
        return path

    return resolve
