"""A realistic incident payload for tests, demos and the smoke benchmark."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from alerts.cad.payload import AlertKind, IncidentPayload

SAMPLE_INCIDENT_ID = "3f2c1a9e-8b7d-4c6e-9f1a-2b3c4d5e6f70"


def sample_payload(**overrides: Any) -> IncidentPayload:
    """A fight at a stadium gate, dispatched by the command center; override any field."""
    payload = IncidentPayload(
        incident_id=SAMPLE_INCIDENT_ID,
        alert_kind=AlertKind.FIGHT,
        title="Fight at gate 3",
        priority=2,
        occurred_at=datetime(2025, 5, 1, 15, 14, 5, tzinfo=UTC),
        reported_at=datetime(2025, 5, 1, 15, 16, 30, tzinfo=UTC),
        venue_name="Central Stadium",
        venue_address="1 Abay Avenue",
        venue_district="Almaly",
        latitude=43.238949,
        longitude=76.889709,
        camera_name="Gate 3 North",
        agency_id="cc.police.city.example",
        agency_name="City Police Command Center",
        notes="Two men, one holding a bottle.",
        evidence_links=("https://cc.police.city.example/evidence/8d1f.jpg",),
    )
    return dataclasses.replace(payload, **overrides) if overrides else payload
