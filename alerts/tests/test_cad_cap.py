"""CAP 1.2 alerts are built in schema order and checked against the repository XSD."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from xml.etree import ElementTree as ET

import pytest

from alerts.cad.cap import CAP_NS, CapValidationError, cap_datetime, to_cap_xml, validate_cap
from tools.cad.samples import SAMPLE_INCIDENT_ID, sample_payload

NS = {"cap": CAP_NS}


def _texts(xml: bytes, path: str) -> list[str]:
    """Texts at a CAP path of trusted, locally built XML."""
    root = ET.fromstring(xml)  # noqa: S314 - the test parses XML it built itself
    return [element.text or "" for element in root.findall(path, NS)]


def test_fight_becomes_a_valid_cap_alert() -> None:
    # given a dispatched fight
    xml = to_cap_xml(sample_payload())

    # then it validates against the CAP 1.2 XSD and says who, when, what and where
    validate_cap(xml)
    assert _texts(xml, "cap:identifier") == [f"cc.police.city.example.{SAMPLE_INCIDENT_ID}.r0"]
    assert _texts(xml, "cap:sent") == ["2025-05-01T15:16:30-00:00"]
    assert _texts(xml, "cap:status") + _texts(xml, "cap:msgType") == ["Actual", "Alert"]
    assert _texts(xml, "cap:scope") == ["Restricted"]
    assert _texts(xml, "cap:info/cap:category") == ["Security"]
    assert _texts(xml, "cap:info/cap:urgency") == ["Immediate"]
    assert _texts(xml, "cap:info/cap:severity") == ["Severe"]
    assert _texts(xml, "cap:info/cap:certainty") == ["Observed"]
    assert _texts(xml, "cap:info/cap:area/cap:areaDesc") == ["Central Stadium, 1 Abay Avenue, Almaly"]
    assert _texts(xml, "cap:info/cap:area/cap:circle") == ["43.238949,76.889709 0.1"]
    assert _texts(xml, "cap:info/cap:resource/cap:mimeType") == ["image/jpeg"]


def test_update_references_the_first_message() -> None:
    # given the second revision of an incident first reported at 15:16:30 UTC
    first = datetime(2025, 5, 1, 15, 16, 30, tzinfo=UTC)
    payload = sample_payload(status="updated", revision=1, first_reported_at=first)

    # then it is an Update naming the original alert's sender, identifier and sent time
    xml = to_cap_xml(payload)
    validate_cap(xml)
    assert _texts(xml, "cap:msgType") == ["Update"]
    assert _texts(xml, "cap:references") == [
        f"cc.police.city.example,cc.police.city.example.{SAMPLE_INCIDENT_ID}.r0,2025-05-01T15:16:30-00:00"
    ]


def test_sent_keeps_a_local_offset() -> None:
    almaty = timezone(timedelta(hours=5))
    assert cap_datetime(datetime(2025, 5, 1, 20, 16, 30, 999, tzinfo=almaty)) == ("2025-05-01T20:16:30+05:00")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            b"<status>Actual</status>",
            b"<status>Real</status>",
            "at /alert/status: value must be one of",
        ),
        (b"<urgency>Immediate</urgency>", b"", "Tag 'cap:urgency' expected"),
        (b"-00:00</sent>", b"Z</sent>", "at /alert/sent: value doesn't match any pattern"),
        (b"<scope>Restricted</scope>", b"<scope>Private</scope>", "scope Private requires"),
        (b"0.1</circle>", b"</circle>", "circle '43.238949,76.889709' must be 'lat,lon radius_km'"),
    ],
)
def test_broken_alert_fails_with_the_reason(old: bytes, new: bytes, message: str) -> None:
    # given a valid alert with one element broken
    xml = to_cap_xml(sample_payload())
    assert old in xml

    # when it is validated, then the error names the element and the rule
    with pytest.raises(CapValidationError, match=message):
        validate_cap(xml.replace(old, new))


def test_entities_and_garbage_are_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "x">]>'
        b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">&e;</alert>'
    )
    with pytest.raises(CapValidationError, match="not well-formed XML: Entities are forbidden"):
        validate_cap(bomb)
    with pytest.raises(CapValidationError, match="not well-formed XML"):
        validate_cap(b"{}")
