"""Bulk enrolment: a CSV of subjects (name, photo, ...) with photos from a folder or zip; per-row report."""

from __future__ import annotations

import csv
import datetime
import io
import json
import logging
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from core.redis import enrolment_job_key
from watchlists.enrolment import EnrolmentError, subject_enroll_photo
from watchlists.models import Subject, Watchlist

logger = logging.getLogger(__name__)

DEFAULT_LIFETIME = datetime.timedelta(days=365)
MAX_ROWS = 50_000


@dataclass
class RowReport:
    """The outcome of one CSV row."""

    row: int
    name: str
    photo: str
    subject_id: str = ""
    template_id: str = ""
    error: str = ""
    code: str = ""
    warnings: list[str] = field(default_factory=list)
    faces: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ImportReport:
    """The whole import: per-row results and counts."""

    watchlist: str
    rows: list[RowReport] = field(default_factory=list)

    @property
    def failed(self) -> list[RowReport]:
        """Rows that enrolled nothing."""
        return [r for r in self.rows if r.error]

    def summary(self) -> dict[str, Any]:
        """Counts, the one-line summary, every failed row and every row enrolled with a warning."""
        ok = [r for r in self.rows if not r.error]
        return {
            "watchlist": self.watchlist,
            "rows": len(self.rows),
            "subjects": len({r.subject_id for r in ok}),
            "templates": len(ok),
            "summary": self.line(),
            "errors": [_row_dict(r) for r in self.failed],
            "warnings": [_row_dict(r) for r in ok if r.warnings],
        }

    def line(self) -> str:
        """What happened, in one line: "enrolled 25 of 31 photos; 6 errors: 4 no_face (rows 3, 7, ...)"."""
        ok = len(self.rows) - len(self.failed)
        text = f"enrolled {ok} of {len(self.rows)} photos into {self.watchlist!r}"
        warned = sum(1 for r in self.rows if r.warnings and not r.error)
        if warned:
            text += f" ({warned} with quality warnings)"
        if not self.failed:
            return text + "; no errors"
        by_code: dict[str, list[int]] = {}
        for row in self.failed:
            by_code.setdefault(row.code, []).append(row.row)
        parts = [
            f"{len(rows)} {code} (row{'s' if len(rows) > 1 else ''} {_rows(rows)})" for code, rows in by_code.items()
        ]
        return f"{text}; {len(self.failed)} error{'s' if len(self.failed) > 1 else ''}: {', '.join(parts)}"


def _rows(numbers: list[int], shown: int = 10) -> str:
    text = ", ".join(str(n) for n in numbers[:shown])
    return text + (f" and {len(numbers) - shown} more" if len(numbers) > shown else "")


def _row_dict(row: RowReport) -> dict[str, Any]:
    body = asdict(row)
    if not body["faces"]:
        body.pop("faces")
    return body


class PhotoSource:
    """Reads photos from a zip archive (paths confined to it) or an operator's folder (absolute or CSV-relative)."""

    def __init__(self, root: Path | None = None, archive: zipfile.ZipFile | None = None) -> None:
        self.root, self.archive = root, archive

    def read(self, name: str) -> bytes:
        """The photo's bytes, or EnrolmentError ``bad_path`` / ``photo_missing`` naming the path tried."""
        if self.archive is not None:
            return self._from_archive(name)
        assert self.root is not None
        path = Path(name).expanduser()
        path = path if path.is_absolute() else self.root / path
        if not path.is_file():
            where = "" if Path(name).is_absolute() else f" (looked for {path}, relative to the CSV)"
            raise EnrolmentError("photo_missing", f"{name} was not found{where}.")
        return path.read_bytes()

    def _from_archive(self, relative: str) -> bytes:
        assert self.archive is not None
        clean = PurePosixPath(relative.replace("\\", "/"))
        if clean.is_absolute() or ".." in clean.parts:
            raise EnrolmentError("bad_path", f"Photo path {relative!r} must be relative to the archive's top level.")
        try:
            return self.archive.read(str(clean))
        except KeyError:
            raise EnrolmentError("photo_missing", f"{relative} is not in the archive.") from None


def parse_rows(text: str) -> list[dict[str, str]]:
    """CSV rows with lower-case keys; requires name and photo columns."""
    reader = csv.DictReader(io.StringIO(text))
    columns = {c.strip().lower() for c in reader.fieldnames or []}
    if not {"name", "photo"} <= columns:
        raise EnrolmentError("bad_csv", "The CSV needs at least the columns name and photo.")
    rows = [{(k or "").strip().lower(): (v or "").strip() for k, v in row.items()} for row in reader]
    if len(rows) > MAX_ROWS:
        raise EnrolmentError("bad_csv", f"At most {MAX_ROWS} rows per import.")
    return rows


def _expiry(raw: str) -> datetime.datetime:
    if not raw:
        return timezone.now() + DEFAULT_LIFETIME
    moment = parse_datetime(raw)
    if moment is None:
        day = parse_date(raw)
        if day is None:
            raise EnrolmentError("bad_expiry", f"expires_at {raw!r} is not a date (YYYY-MM-DD).")
        moment = datetime.datetime.combine(day, datetime.time(23, 59), tzinfo=timezone.get_current_timezone())
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    if moment <= timezone.now():
        raise EnrolmentError("bad_expiry", f"expires_at {raw} is in the past.")
    return moment


def watchlist_import(
    *,
    watchlist: Watchlist,
    rows: list[dict[str, str]],
    photos: PhotoSource,
    actor: User,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Create subjects (one per name or reference) and enrol each row's photo; errors are per row."""
    report = ImportReport(watchlist=watchlist.name)
    subjects: dict[str, Subject] = {}
    for number, row in enumerate(rows, start=2):
        item = RowReport(row=number, name=row.get("name", ""), photo=row.get("photo", ""))
        try:
            subject = _subject_for(row, watchlist, actor, subjects)
            item.subject_id = str(subject.pk)
            template = subject_enroll_photo(
                subject=subject, data=photos.read(item.photo), filename=item.photo, actor=actor
            )
            item.template_id = str(template.pk)
            item.warnings = [warning["code"] for warning in template.quality_warnings]
        except EnrolmentError as exc:
            item.error, item.code = exc.message, exc.code
            item.faces = exc.as_dict().get("faces", [])
        report.rows.append(item)
        if progress:
            progress(len(report.rows), len(rows))
    return report


def _subject_for(row: dict[str, str], watchlist: Watchlist, actor: User, subjects: dict[str, Subject]) -> Subject:
    name = row.get("name", "")
    if not name:
        raise EnrolmentError("bad_row", "The name is empty.")
    if not row.get("photo"):
        raise EnrolmentError("bad_row", "The photo column is empty.")
    key = row.get("reference") or name
    if key in subjects:
        return subjects[key]
    from watchlists.services import subject_save

    existing = Subject.objects.filter(
        watchlist=watchlist, display_name=name, reference_number=row.get("reference", "")
    ).first()
    subject = existing or Subject(
        watchlist=watchlist,
        display_name=name,
        reference_number=row.get("reference", ""),
        legal_basis_reference=row.get("legal_basis_reference") or watchlist.legal_basis[:300],
        image_source=row.get("image_source", "bulk import"),
        added_by=actor,
        expires_at=_expiry(row.get("expires_at", "")),
    )
    if existing is None:
        try:
            subject_save(actor=actor, subject=subject)
        except ValidationError as exc:
            messages = "; ".join(" ".join(v) for v in exc.message_dict.values())
            raise EnrolmentError("bad_subject", messages) from exc
    subjects[key] = subject
    return subject


def job_progress_set(job_id: str, **state: Any) -> None:
    """Store progress for the UI to poll (kept one day)."""
    cache.set(enrolment_job_key(job_id), json.dumps(state), timeout=86400)


def job_progress_get(job_id: str) -> dict[str, Any] | None:
    """Read a job's progress."""
    raw = cache.get(enrolment_job_key(job_id))
    return json.loads(raw) if raw else None
