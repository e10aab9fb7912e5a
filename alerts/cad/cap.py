"""Incident payload as an OASIS CAP 1.2 alert, and its check against the CAP 1.2 XSD."""

from __future__ import annotations

import logging
import mimetypes
import re
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from xml.etree import ElementTree as ET  # builds XML only; parsing goes through xmlschema

import xmlschema

from alerts.cad.payload import AlertKind, IncidentPayload, IncidentStatus

logger = logging.getLogger(__name__)

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
XSD_PATH = Path(__file__).with_name("schemas") / "CAP-v1.2.xsd"
CONTENT_TYPE = "application/cap+xml"
RESTRICTION = "Law enforcement dispatch only; do not redistribute."

_CATEGORIES: dict[AlertKind, tuple[str, ...]] = {
    AlertKind.FACE_MATCH: ("Security",),
    AlertKind.FIGHT: ("Security",),
    AlertKind.AGGRESSION: ("Security",),
    AlertKind.CROWD: ("Safety",),
    AlertKind.CAMERA_OFFLINE: ("Security", "Infra"),
}
_EVENTS: dict[AlertKind, str] = {
    AlertKind.FACE_MATCH: "Watchlist face match (dispatcher-confirmed candidate)",
    AlertKind.FIGHT: "Fight",
    AlertKind.AGGRESSION: "Aggressive behaviour",
    AlertKind.CROWD: "Crowd density",
    AlertKind.CAMERA_OFFLINE: "Venue camera offline",
}
# A face match stays a likely identification; the other kinds a dispatcher has seen on video.
_CERTAINTY: dict[AlertKind, str] = {
    AlertKind.FACE_MATCH: "Likely",
    AlertKind.FIGHT: "Observed",
    AlertKind.AGGRESSION: "Observed",
    AlertKind.CROWD: "Observed",
    AlertKind.CAMERA_OFFLINE: "Observed",
}
_URGENCY = {1: "Immediate", 2: "Immediate", 3: "Expected", 4: "Expected", 5: "Future"}
_MSG_TYPE = {
    IncidentStatus.NEW: "Alert",
    IncidentStatus.UPDATED: "Update",
    IncidentStatus.CANCELLED: "Cancel",
}
_FORBIDDEN_ID_CHARS = re.compile(r"[\s,<&]")
_CIRCLE = re.compile(r"^-?\d{1,2}(\.\d+)?,-?\d{1,3}(\.\d+)? \d+(\.\d+)?$")


class CapValidationError(ValueError):
    """A CAP document breaks the CAP 1.2 XSD or a rule of the CAP 1.2 specification."""

    def __init__(self, errors: list[str]) -> None:
        """Keep every message; the first few form the exception text."""
        self.errors = errors
        shown = "; ".join(errors[:5])
        more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"CAP document is invalid: {shown}{more}")


def cap_datetime(value: datetime) -> str:
    """CAP date-time: whole seconds and a numeric offset, UTC written as -00:00."""
    text = value.replace(microsecond=0).isoformat()
    return text[:-6] + "-00:00" if text.endswith("+00:00") else text


def cap_identifier(payload: IncidentPayload, revision: int | None = None) -> str:
    """Message identifier for one revision (no spaces, commas, '<' or '&')."""
    number = payload.revision if revision is None else revision
    return f"{payload.agency_id}.{payload.incident_id}.r{number}"


def _add(parent: ET.Element, name: str, text: str) -> ET.Element:
    """Append a CAP child element with text."""
    child = ET.SubElement(parent, f"{{{CAP_NS}}}{name}")
    child.text = text
    return child


def _add_pair(parent: ET.Element, name: str, value_name: str, value: str) -> None:
    """Append a valueName/value pair element (parameter, geocode, eventCode)."""
    pair = ET.SubElement(parent, f"{{{CAP_NS}}}{name}")
    _add(pair, "valueName", value_name)
    _add(pair, "value", value)


def _header(root: ET.Element, payload: IncidentPayload) -> None:
    """identifier ... incidents, in schema order."""
    _add(root, "identifier", cap_identifier(payload))
    _add(root, "sender", payload.agency_id)
    _add(root, "sent", cap_datetime(payload.reported_at))
    _add(root, "status", "Actual")
    _add(root, "msgType", _MSG_TYPE[payload.status])
    _add(root, "scope", "Restricted")
    _add(root, "restriction", RESTRICTION)
    if payload.revision > 0 and payload.first_reported_at is not None:
        first = cap_datetime(payload.first_reported_at)
        _add(root, "references", f"{payload.agency_id},{cap_identifier(payload, 0)},{first}")
    _add(root, "incidents", payload.incident_id)


def _description(payload: IncidentPayload) -> str:
    """Readable description: camera, time, dispatcher notes, subject reference."""
    lines = [f"Camera: {payload.camera_name}", f"Occurred: {cap_datetime(payload.occurred_at)}"]
    if payload.subject_reference:
        lines.append(f"Watchlist reference: {payload.subject_reference}")
    if payload.notes:
        lines.append(payload.notes)
    return "\n".join(lines)


def _parameters(info: ET.Element, payload: IncidentPayload) -> None:
    """Machine-readable extras as CAP parameters."""
    _add_pair(info, "parameter", "incidentId", payload.incident_id)
    _add_pair(info, "parameter", "alertKind", payload.alert_kind.value)
    _add_pair(info, "parameter", "priority", str(payload.priority))
    _add_pair(info, "parameter", "revision", str(payload.revision))
    _add_pair(info, "parameter", "camera", payload.camera_name)
    if payload.subject_reference:
        _add_pair(info, "parameter", "subjectReference", payload.subject_reference)


def _resources(info: ET.Element, payload: IncidentPayload) -> None:
    """Evidence links as CAP resources (by URI, never inline)."""
    for index, link in enumerate(payload.evidence_links, start=1):
        resource = ET.SubElement(info, f"{{{CAP_NS}}}resource")
        _add(resource, "resourceDesc", f"Evidence {index}")
        mime, _ = mimetypes.guess_type(link.split("?", 1)[0])
        _add(resource, "mimeType", mime or "application/octet-stream")
        _add(resource, "uri", link)


def _area(info: ET.Element, payload: IncidentPayload) -> None:
    """The venue as areaDesc plus a circle 'lat,lon radius_km'."""
    area = ET.SubElement(info, f"{{{CAP_NS}}}area")
    _add(area, "areaDesc", f"{payload.venue_name}, {payload.venue_address}, {payload.venue_district}")
    _add(area, "circle", f"{payload.latitude:.6f},{payload.longitude:.6f} {payload.radius_km:g}")


def _info(root: ET.Element, payload: IncidentPayload) -> None:
    """The single info block, in schema order."""
    info = ET.SubElement(root, f"{{{CAP_NS}}}info")
    _add(info, "language", "en-US")
    for category in _CATEGORIES[payload.alert_kind]:
        _add(info, "category", category)
    _add(info, "event", _EVENTS[payload.alert_kind])
    _add(info, "responseType", "Assess")
    _add(info, "urgency", _URGENCY[payload.priority])
    _add(info, "severity", payload.severity.value)
    _add(info, "certainty", _CERTAINTY[payload.alert_kind])
    _add(info, "onset", cap_datetime(payload.occurred_at))
    if payload.agency_name:
        _add(info, "senderName", payload.agency_name)
    _add(info, "headline", payload.title)
    _add(info, "description", _description(payload))
    _parameters(info, payload)
    _resources(info, payload)
    _area(info, payload)


def to_cap_xml(payload: IncidentPayload) -> bytes:
    """Serialise one incident revision as a CAP 1.2 alert (UTF-8 with XML declaration)."""
    root = ET.Element(f"{{{CAP_NS}}}alert")
    _header(root, payload)
    _info(root, payload)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True, default_namespace=CAP_NS)
    return data


@lru_cache(maxsize=1)
def _schema() -> xmlschema.XMLSchema10:
    """Load the CAP 1.2 XSD once per process, from the repository only."""
    return xmlschema.XMLSchema10(str(XSD_PATH), allow="sandbox")


def validate_cap(xml_bytes: bytes) -> None:
    """Raise CapValidationError unless xml_bytes is a CAP 1.2 alert valid against the XSD."""
    try:
        resource = xmlschema.XMLResource(xml_bytes, defuse="always", allow="none")
    except Exception as exc:  # xmlschema raises several parse error types
        raise CapValidationError([f"not well-formed XML: {exc}"]) from None
    errors = [_describe(error) for error in _schema().iter_errors(resource)]
    if errors:
        raise CapValidationError(errors)
    rule_errors = _spec_rules(resource.root)
    if rule_errors:
        raise CapValidationError(rule_errors)


def _describe(error: xmlschema.XMLSchemaValidationError) -> str:
    """One XSD error as 'at <path>: <reason>'."""
    path = (error.path or "/").replace(f"{{{CAP_NS}}}", "")
    return f"at {path}: {error.reason or error.message}"


def _text(root: ET.Element, path: str) -> list[str]:
    """Texts of the elements at a CAP-namespaced path."""
    found = root.findall(path, {"cap": CAP_NS})
    return [(element.text or "").strip() for element in found]


def _spec_rules(root: ET.Element) -> list[str]:
    """CAP 1.2 rules the XSD cannot express."""
    errors = []
    for name in ("identifier", "sender"):
        for value in _text(root, f"cap:{name}"):
            if not value or _FORBIDDEN_ID_CHARS.search(value):
                errors.append(f"{name} {value!r} must be non-empty without spaces, ',', '<', '&'")
    scope = _text(root, "cap:scope")
    if scope == ["Restricted"] and not _text(root, "cap:restriction"):
        errors.append("scope Restricted requires a restriction element")
    if scope == ["Private"] and not _text(root, "cap:addresses"):
        errors.append("scope Private requires an addresses element")
    if _text(root, "cap:msgType")[0] in ("Update", "Cancel") and not _text(root, "cap:references"):
        errors.append("msgType Update/Cancel requires a references element")
    for circle in _text(root, "cap:info/cap:area/cap:circle"):
        if not _CIRCLE.match(circle):
            errors.append(f"circle {circle!r} must be 'lat,lon radius_km'")
    return errors


def incident_reference(xml_bytes: bytes) -> str:
    """The <incidents> value (else <identifier>) of a CAP alert, parsed with entities forbidden."""
    root = xmlschema.XMLResource(xml_bytes, defuse="always", allow="none").root
    values = _text(root, "cap:incidents") or _text(root, "cap:identifier")
    return values[0] if values else ""
