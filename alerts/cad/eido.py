"""Incident payload as a NENA EIDO 1.0 (NENA-STA-021.1a) JSON document, and its schema check."""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from alerts.cad.payload import AlertKind, IncidentPayload, IncidentStatus

logger = logging.getLogger(__name__)

SCHEMA_PATH = Path(__file__).with_name("schemas") / "eido_incident.schema.json"
EIDO_VERSION = "1.0"
CONTENT_TYPE = "application/json"

# Values for the EIDO Incident Type registry; the city CAD may remap them on its side.
INCIDENT_TYPE_TEXT: dict[AlertKind, str] = {
    AlertKind.FACE_MATCH: "Police-WantedPerson",
    AlertKind.FIGHT: "Police-Fight",
    AlertKind.AGGRESSION: "Police-Disturbance",
    AlertKind.CROWD: "Police-CrowdControl",
    AlertKind.CAMERA_OFFLINE: "Police-SecuritySystemFailure",
}
INCIDENT_STATUS_TEXT: dict[IncidentStatus, str] = {
    IncidentStatus.NEW: "Dispatched",
    IncidentStatus.UPDATED: "Updated",
    IncidentStatus.CANCELLED: "Cancelled",
}
_GML_POS = re.compile(r"<gml:pos>\s*(-?\d+(?:\.\d+)?)\s+(-?\d+(?:\.\d+)?)\s*</gml:pos>")


class EidoValidationError(ValueError):
    """An EIDO document does not match the command-center EIDO schema."""

    def __init__(self, errors: list[str]) -> None:
        """Keep every message; the first few form the exception text."""
        self.errors = errors
        shown = "; ".join(errors[:5])
        more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"EIDO document is invalid: {shown}{more}")


def timestamp(value: datetime) -> str:
    """RFC 3339 timestamp with an explicit offset, millisecond precision."""
    return value.isoformat(timespec="milliseconds")


def tracking_id(payload: IncidentPayload) -> str:
    """NENA incident tracking identifier: urn:emergency:uid:incidentid:<id>:<agency>."""
    return f"urn:emergency:uid:incidentid:{payload.incident_id}:{payload.agency_id}"


def pidf_lo(payload: IncidentPayload) -> str:
    """PIDF-LO presence: a GML point (EPSG:4326, "lat lon") and a civic address, one tuple each."""
    pos = f"{payload.latitude:.6f} {payload.longitude:.6f}"
    civic = (
        f"<ca:civicAddress><ca:A4>{escape(payload.venue_district)}</ca:A4>"
        f"<ca:NAM>{escape(payload.venue_name)}</ca:NAM>"
        f"<ca:LOC>{escape(payload.venue_address)}</ca:LOC></ca:civicAddress>"
    )
    point = f'<gml:Point srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>{pos}</gml:pos></gml:Point>'
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<presence xmlns="urn:ietf:params:xml:ns:pidf"'
        ' xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10"'
        ' xmlns:ca="urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr"'
        ' xmlns:gml="http://www.opengis.net/gml"'
        f' entity="pres:{escape(payload.agency_id)}">'
        f"{_pidf_tuple('venue-point', point, payload)}"
        f"{_pidf_tuple('venue-civic', civic, payload)}"
        "</presence>"
    )


def _pidf_tuple(tuple_id: str, location: str, payload: IncidentPayload) -> str:
    """One PIDF tuple holding a single location object."""
    return (
        f'<tuple id="{tuple_id}"><status><gp:geopriv><gp:location-info>{location}'
        "</gp:location-info><gp:usage-rules/><gp:method>Manual</gp:method>"
        "</gp:geopriv></status>"
        f"<timestamp>{timestamp(payload.occurred_at)}</timestamp></tuple>"
    )


def point_of(doc: dict[str, Any]) -> tuple[float, float]:
    """Latitude and longitude of the first location in an EIDO document (regex, no XML parser)."""
    for location in doc.get("locationComponent", []):
        match = _GML_POS.search(str(location.get("locationByValue", "")))
        if match:
            return float(match.group(1)), float(match.group(2))
    raise ValueError("EIDO document has no locationComponent with a gml:pos point")


def _prologue(payload: IncidentPayload, component_id: str) -> dict[str, Any]:
    """The common header every EIDO data component carries."""
    return {
        "$id": component_id,
        "lastUpdateTimeStamp": timestamp(payload.reported_at),
        "updatedByAgencyReference": {"$ref": payload.agency_id},
    }


def _agency(payload: IncidentPayload) -> dict[str, Any]:
    """The sending agency: the command center, owning the incident."""
    agency = _prologue(payload, payload.agency_id)
    agency["agencyRoleDescriptionRegistryText"] = ["Dispatch"]
    agency["agencyType"] = ["police"]
    agency["incidentOwningAgencyIndicator"] = True
    if payload.agency_name:
        vcard = [["version", {}, "text", "4.0"], ["fn", {}, "text", payload.agency_name]]
        agency["agencyJcard"] = json.dumps(["vcard", vcard])
    return agency


def _location(payload: IncidentPayload, base: str) -> dict[str, Any]:
    """The venue location as PIDF-LO plus a readable description."""
    location = _prologue(payload, f"{base}:location:0")
    location["locationTypeDescriptionRegistryText"] = "CurrentIncident"
    location["locationByValue"] = pidf_lo(payload)
    location["locationDescriptionText"] = (
        f"{payload.venue_name}, {payload.venue_address}, {payload.venue_district} (camera: {payload.camera_name})"
    )
    return location


def _notes(payload: IncidentPayload, base: str) -> list[dict[str, Any]]:
    """Title, camera and dispatcher notes as EIDO notes components."""
    texts = [f"{payload.title} (camera: {payload.camera_name})"]
    if payload.notes:
        texts.append(payload.notes)
    notes = []
    for index, text in enumerate(texts):
        note = _prologue(payload, f"{base}:note:{index}")
        note["notesActionComments"] = text
        notes.append(note)
    return notes


def _evidence(payload: IncidentPayload, base: str) -> list[dict[str, Any]]:
    """Evidence links as additional-data components (by reference, never by value)."""
    items = []
    for index, link in enumerate(payload.evidence_links):
        item = _prologue(payload, f"{base}:evidence:{index}")
        item["additionalDataByReferenceUrl"] = link
        item["urlPurpose"] = "evidence"
        items.append(item)
    return items


def _subject(payload: IncidentPayload, base: str) -> dict[str, Any]:
    """The watchlist subject, by reference number only (no name, no face)."""
    person = _prologue(payload, f"{base}:person:0")
    person["personIncidentRoleRegistryText"] = ["Subject"]
    person["ncPersonComponent"] = {
        "PersonOtherIdentification": [
            {
                "IdentificationID": payload.subject_reference,
                "IdentificationCategoryDescriptionText": "Watchlist reference",
            }
        ]
    }
    return person


def _incident(payload: IncidentPayload, base: str, notes: int) -> dict[str, Any]:
    """The incident component: type, status, priority and references to the rest."""
    incident = _prologue(payload, f"{base}:incident")
    incident.update(
        {
            "incidentTypeCommonRegistryText": INCIDENT_TYPE_TEXT[payload.alert_kind],
            "incidentTypeInternalCode": payload.alert_kind.value,
            "incidentTypeInternalText": payload.title,
            "incidentStatusCommonRegistryText": [INCIDENT_STATUS_TEXT[payload.status]],
            "internalIncidentId": payload.incident_id,
            "incidentCommonPriorityNumber": payload.priority,
            "incidentPriorityInternalText": payload.severity.value,
            "locationReference": [{"$ref": f"{base}:location:0"}],
            "notesReference": [{"$ref": f"{base}:note:{i}"} for i in range(notes)],
        }
    )
    if payload.subject_reference:
        incident["personReference"] = [{"$ref": f"{base}:person:0"}]
    return incident


def to_eido(payload: IncidentPayload) -> dict[str, Any]:
    """Build the EIDO document for one revision of an incident."""
    base = tracking_id(payload)
    notes = _notes(payload, base)
    doc: dict[str, Any] = _prologue(payload, base)
    doc["eidoVersion"] = EIDO_VERSION
    doc["issuingElementIdentification"] = payload.agency_id
    doc["incidentComponent"] = _incident(payload, base, len(notes))
    doc["agencyComponent"] = [_agency(payload)]
    doc["locationComponent"] = [_location(payload, base)]
    doc["notesComponent"] = notes
    if payload.evidence_links:
        doc["additionalDataComponent"] = _evidence(payload, base)
    if payload.subject_reference:
        doc["personComponent"] = [_subject(payload, base)]
    return doc


def to_eido_json(payload: IncidentPayload) -> bytes:
    """Deterministic UTF-8 JSON bytes of the EIDO document (the body that gets signed)."""
    return json.dumps(to_eido(payload), sort_keys=True, ensure_ascii=False).encode()


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    """Load and check the schema once per process."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _describe(error: ValidationError) -> str:
    """One error as 'at <json path>: <message>'."""
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return f"at ${where}: {error.message}"


def validate_eido(doc: Any) -> None:
    """Raise EidoValidationError listing every schema violation of doc."""
    errors = sorted(_validator().iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        raise EidoValidationError([_describe(e) for e in errors])
    _check_references(doc)


def _check_references(doc: dict[str, Any]) -> None:
    """Every {"$ref": id} in the document must name a component that is present."""
    ids = {doc["$id"]}
    for key, value in doc.items():
        if key.endswith("Component") and isinstance(value, list):
            ids.update(item["$id"] for item in value)
    ids.add(doc["incidentComponent"]["$id"])
    missing = sorted({ref for ref in _refs(doc) if ref not in ids})
    if missing:
        raise EidoValidationError([f"unresolved $ref {ref!r}" for ref in missing])


def _refs(node: Any) -> list[str]:
    """All $ref values anywhere under node."""
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        for value in node.values():
            found.extend(_refs(value))
        return found
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    return []
