"""The incident a dispatcher sends to the city CAD and the unit status it sends back."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

# Agency ids become CAP <sender> and EIDO $id parts: a domain-like token, no spaces or commas.
_AGENCY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-_@]{0,126}$")
# A subject is referred to by a watchlist reference number only, never by name, photo or embedding.
_SUBJECT_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_/.]{0,63}$")
_LINK = re.compile(r"^https?://[^\s<>\"]+$")


class AlertKind(StrEnum):
    """What the venue analytics saw."""

    FACE_MATCH = "face_match"
    FIGHT = "fight"
    AGGRESSION = "aggression"
    CROWD = "crowd"
    CAMERA_OFFLINE = "camera_offline"


class Severity(StrEnum):
    """CAP severity names; each maps to one priority (1 is the most urgent)."""

    EXTREME = "Extreme"
    SEVERE = "Severe"
    MODERATE = "Moderate"
    MINOR = "Minor"
    UNKNOWN = "Unknown"


_SEVERITY_BY_PRIORITY = {
    1: Severity.EXTREME,
    2: Severity.SEVERE,
    3: Severity.MODERATE,
    4: Severity.MINOR,
    5: Severity.UNKNOWN,
}


class IncidentStatus(StrEnum):
    """Where the incident stands on the command-center side when it is sent."""

    NEW = "new"
    UPDATED = "updated"
    CANCELLED = "cancelled"


class UnitStatus(StrEnum):
    """Unit status the CAD reports back for a dispatched incident."""

    ASSIGNED = "assigned"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    CLOSED = "closed"


def priority_from_severity(severity: str | Severity) -> int:
    """Return the 1-5 priority for a CAP severity name (case-insensitive)."""
    wanted = str(severity).strip().lower()
    for priority, name in _SEVERITY_BY_PRIORITY.items():
        if name.value.lower() == wanted:
            return priority
    names = ", ".join(s.value for s in Severity)
    raise ValueError(f"unknown severity {severity!r}; expected one of {names}")


def _require_aware(name: str, value: datetime) -> None:
    """Raise unless value is a timezone-aware datetime."""
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


def _require_text(name: str, value: str, *, limit: int) -> None:
    """Raise unless value is a non-blank string of at most limit characters."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string")
    if len(value) > limit:
        raise ValueError(f"{name} is {len(value)} characters long; the limit is {limit}")


@dataclass(frozen=True, slots=True)
class IncidentPayload:
    """One revision of an incident as delivered to the CAD (no Django, no faces)."""

    incident_id: str
    alert_kind: AlertKind
    title: str
    priority: int
    occurred_at: datetime
    reported_at: datetime
    venue_name: str
    venue_address: str
    venue_district: str
    latitude: float
    longitude: float
    camera_name: str
    agency_id: str
    agency_name: str = ""
    notes: str = ""
    evidence_links: Sequence[str] = field(default_factory=tuple)
    subject_reference: str | None = None
    status: IncidentStatus = IncidentStatus.NEW
    revision: int = 0
    first_reported_at: datetime | None = None
    radius_km: float = 0.1

    def __post_init__(self) -> None:
        """Normalise enums and links, then reject anything the CAD must never see."""
        object.__setattr__(self, "alert_kind", AlertKind(self.alert_kind))
        object.__setattr__(self, "status", IncidentStatus(self.status))
        object.__setattr__(self, "evidence_links", tuple(self.evidence_links))
        self._check_identity()
        self._check_times()
        self._check_place()
        self._check_content()

    def _check_identity(self) -> None:
        """Validate ids, priority and revision."""
        try:
            parsed = uuid.UUID(self.incident_id)
        except (ValueError, AttributeError, TypeError):
            raise ValueError(f"incident_id must be a UUID string, got {self.incident_id!r}") from None
        if str(parsed) != self.incident_id:
            raise ValueError(f"incident_id must be a canonical lowercase UUID: {parsed}")
        if not _AGENCY_ID.match(self.agency_id):
            raise ValueError(f"agency_id {self.agency_id!r} must be a domain-like token")
        if isinstance(self.priority, bool) or self.priority not in _SEVERITY_BY_PRIORITY:
            raise ValueError(f"priority must be an integer 1-5, got {self.priority!r}")
        if isinstance(self.revision, bool) or not isinstance(self.revision, int) or self.revision < 0:
            raise ValueError(f"revision must be an integer >= 0, got {self.revision!r}")

    def _check_times(self) -> None:
        """Validate that every timestamp is aware and revisions name their first report."""
        _require_aware("occurred_at", self.occurred_at)
        _require_aware("reported_at", self.reported_at)
        if self.revision > 0 and self.first_reported_at is None:
            raise ValueError("first_reported_at is required when revision > 0 (CAP references)")
        if self.first_reported_at is not None:
            _require_aware("first_reported_at", self.first_reported_at)

    def _check_place(self) -> None:
        """Validate venue text and WGS84 coordinates."""
        _require_text("venue_name", self.venue_name, limit=200)
        _require_text("venue_address", self.venue_address, limit=300)
        _require_text("venue_district", self.venue_district, limit=120)
        _require_text("camera_name", self.camera_name, limit=200)
        if not -90.0 <= float(self.latitude) <= 90.0:
            raise ValueError(f"latitude must be within -90..90, got {self.latitude!r}")
        if not -180.0 <= float(self.longitude) <= 180.0:
            raise ValueError(f"longitude must be within -180..180, got {self.longitude!r}")
        if not 0.0 < float(self.radius_km) <= 50.0:
            raise ValueError(f"radius_km must be within (0, 50], got {self.radius_km!r}")

    def _check_content(self) -> None:
        """Validate title, notes, links and the subject reference."""
        _require_text("title", self.title, limit=160)
        if len(self.notes) > 4000:
            raise ValueError(f"notes is {len(self.notes)} characters long; the limit is 4000")
        for link in self.evidence_links:
            if not isinstance(link, str) or not _LINK.match(link):
                raise ValueError(f"evidence link {link!r} must be an http(s) URL")
        ref = self.subject_reference
        if ref is not None and not _SUBJECT_REF.match(ref):
            raise ValueError(
                f"subject_reference {ref[:40]!r} must be a short reference number "
                "(letters, digits, - _ / .), never a name or image"
            )

    @property
    def severity(self) -> Severity:
        """CAP severity name for this priority."""
        return _SEVERITY_BY_PRIORITY[self.priority]

    @property
    def idempotency_key(self) -> str:
        """Stable key for one revision: every retry of it carries the same key."""
        return f"{self.incident_id}:{self.revision}"


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """A unit status report the CAD sends back to the command center."""

    incident_id: str
    status: UnitStatus
    unit: str
    at: datetime
    cad_reference: str = ""

    def to_json(self) -> bytes:
        """Serialise to the canonical JSON body that gets signed."""
        body = {
            "incident_id": self.incident_id,
            "status": self.status.value,
            "unit": self.unit,
            "at": self.at.isoformat(),
            "cad_reference": self.cad_reference,
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def parse_status_update(data: bytes | Mapping[str, Any]) -> StatusUpdate:
    """Parse and validate a unit status body; raise ValueError naming the bad field."""
    raw = json.loads(data) if isinstance(data, bytes | bytearray) else dict(data)
    if not isinstance(raw, dict):
        raise ValueError("status update must be a JSON object")
    incident_id = str(raw.get("incident_id", ""))
    try:
        uuid.UUID(incident_id)
    except ValueError:
        raise ValueError(f"incident_id must be a UUID string, got {incident_id!r}") from None
    try:
        status = UnitStatus(str(raw.get("status")))
    except ValueError:
        allowed = ", ".join(s.value for s in UnitStatus)
        raise ValueError(f"status {raw.get('status')!r} is not one of {allowed}") from None
    unit = raw.get("unit")
    if not isinstance(unit, str) or not unit.strip() or len(unit) > 64:
        raise ValueError("unit must be a non-empty string of at most 64 characters")
    at = _parse_aware(raw.get("at"))
    return StatusUpdate(incident_id, status, unit, at, str(raw.get("cad_reference") or ""))


def _parse_aware(value: object) -> datetime:
    """Parse an ISO 8601 timestamp that carries an offset."""
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"at must be an ISO 8601 timestamp, got {value!r}") from None
    if parsed.utcoffset() is None:
        raise ValueError(f"at must carry a UTC offset, got {value!r}")
    return parsed
