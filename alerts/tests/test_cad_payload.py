"""IncidentPayload refuses what the CAD must never receive; status bodies parse strictly."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from alerts.cad.payload import (
    IncidentStatus,
    Severity,
    StatusUpdate,
    UnitStatus,
    parse_status_update,
    priority_from_severity,
)
from tools.cad.samples import SAMPLE_INCIDENT_ID, sample_payload


def test_sample_payload_normalises_links_and_derives_severity() -> None:
    # given a payload built with a list of evidence links
    payload = sample_payload(evidence_links=["https://cc.example/e/1.jpg"])

    # then links are frozen into a tuple and priority 2 reads as Severe
    assert payload.evidence_links == ("https://cc.example/e/1.jpg",)
    assert payload.severity is Severity.SEVERE
    assert payload.idempotency_key == f"{SAMPLE_INCIDENT_ID}:0"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"incident_id": "42"}, "incident_id must be a UUID string, got '42'"),
        ({"priority": 0}, "priority must be an integer 1-5, got 0"),
        ({"occurred_at": datetime(2025, 5, 1)}, "occurred_at must be a timezone-aware datetime"),
        ({"latitude": 91.0}, "latitude must be within -90..90, got 91.0"),
        ({"evidence_links": ["file:///etc/passwd"]}, "must be an http(s) URL"),
        ({"subject_reference": "data:image/jpeg;base64,/9j/4AAQ"}, "never a name or image"),
        ({"revision": 1}, "first_reported_at is required when revision > 0"),
        ({"agency_id": "city police"}, "must be a domain-like token"),
    ],
)
def test_payload_rejects_bad_fields(overrides: dict[str, object], message: str) -> None:
    # when a payload is built with one bad field, then it fails naming that field
    with pytest.raises(ValueError, match=re.escape(message)):
        sample_payload(**overrides)


def test_severity_names_map_to_priorities() -> None:
    assert [priority_from_severity(s) for s in ("extreme", "Severe", "MINOR")] == [1, 2, 4]
    with pytest.raises(ValueError, match="unknown severity 'loud'"):
        priority_from_severity("loud")


def test_status_update_round_trips_through_json() -> None:
    # given a unit status as the CAD would send it
    update = StatusUpdate(SAMPLE_INCIDENT_ID, UnitStatus.ON_SCENE, "P-12", datetime(2025, 5, 1, 15, 30, tzinfo=UTC))

    # when it is serialised and parsed back, then nothing is lost
    assert parse_status_update(update.to_json()) == update


def test_status_update_rejects_unknown_status() -> None:
    body = {"incident_id": SAMPLE_INCIDENT_ID, "status": "lunch", "unit": "P-1", "at": "x"}
    with pytest.raises(ValueError, match="status 'lunch' is not one of assigned, en_route"):
        parse_status_update(body)


def test_incident_status_defaults_to_new() -> None:
    assert sample_payload().status is IncidentStatus.NEW
