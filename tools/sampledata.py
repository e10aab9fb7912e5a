"""Where the real sample photos and clips live (``CC_SAMPLE_DATA``, default ``../shared/data``)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def sample_data_dir() -> Path | None:
    """Return the sample-data folder if it exists, else None."""
    configured = os.environ.get("CC_SAMPLE_DATA", "").strip()
    path = Path(configured) if configured else REPO_ROOT.parent / "shared" / "data"
    path = path.expanduser().resolve()
    return path if path.is_dir() else None


def sample_path(*parts: str) -> Path | None:
    """Return a file or folder inside the sample data, or None when absent."""
    root = sample_data_dir()
    if root is None:
        return None
    candidate = root.joinpath(*parts)
    return candidate if candidate.exists() else None
