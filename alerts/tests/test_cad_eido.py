"""EIDO documents follow NENA-STA-021 shape and the repository JSON Schema."""

from __future__ import annotations

import json

import pytest

from alerts.cad.eido import (
    EidoValidationError,
    point_of,
    to_eido,
    to_eido_json,
    tracking_id,
    validate_eido,
)
from tools.cad.samples import SAMPLE_INCIDENT_ID, sample_payload

TRACKING_ID = f"urn:emergency:uid:incidentid:{SAMPLE_INCIDENT_ID}:cc.police.city.example"


def test_fight_becomes_a_valid_eido_document() -> None:
    # given a dispatched fight at a stadium gate
    payload = sample_payload()

    # when it is turned into an EIDO document
    doc = to_eido(payload)

    # then it validates and carries the incident's identity, type, priority and place
    validate_eido(doc)
    assert doc["$id"] == TRACKING_ID == tracking_id(payload)
    assert doc["eidoVersion"] == "1.0"
    assert doc["lastUpdateTimeStamp"] == "2025-05-01T15:16:30.000+00:00"
    incident = doc["incidentComponent"]
    assert incident["internalIncidentId"] == SAMPLE_INCIDENT_ID
    assert incident["incidentTypeCommonRegistryText"] == "Police-Fight"
    assert incident["incidentStatusCommonRegistryText"] == ["Dispatched"]
    assert incident["incidentCommonPriorityNumber"] == 2
    assert incident["locationReference"] == [{"$ref": f"{TRACKING_ID}:location:0"}]
    assert point_of(doc) == (43.238949, 76.889709)
    assert [n["notesActionComments"] for n in doc["notesComponent"]] == [
        "Fight at gate 3 (camera: Gate 3 North)",
        "Two men, one holding a bottle.",
    ]
    assert doc["additionalDataComponent"][0]["additionalDataByReferenceUrl"] == (
        "https://cc.police.city.example/evidence/8d1f.jpg"
    )


def test_face_match_carries_only_the_subject_reference_number() -> None:
    # given a face match with a watchlist reference
    doc = to_eido(sample_payload(alert_kind="face_match", subject_reference="WL-2025-0042"))

    # then the person component holds the reference number and nothing else about the person
    validate_eido(doc)
    person = doc["personComponent"][0]
    assert person["ncPersonComponent"] == {
        "PersonOtherIdentification": [
            {
                "IdentificationID": "WL-2025-0042",
                "IdentificationCategoryDescriptionText": "Watchlist reference",
            }
        ]
    }
    assert doc["incidentComponent"]["personReference"] == [{"$ref": person["$id"]}]


def test_json_bytes_are_deterministic() -> None:
    assert to_eido_json(sample_payload()) == to_eido_json(sample_payload())
    assert json.loads(to_eido_json(sample_payload())) == to_eido(sample_payload())


def test_broken_document_fails_with_paths_and_reasons() -> None:
    # given a document with an out-of-range priority, no agency and an image smuggled in
    doc = to_eido(sample_payload())
    doc["incidentComponent"]["incidentCommonPriorityNumber"] = 9
    del doc["agencyComponent"]
    doc["personComponent"] = []
    doc["incidentComponent"]["faceImage"] = "base64..."

    # when it is validated, then every problem is named with where it is
    with pytest.raises(EidoValidationError) as caught:
        validate_eido(doc)
    assert caught.value.errors == [
        "at $: 'agencyComponent' is a required property",
        "at $.incidentComponent: Unevaluated properties are not allowed ('faceImage' was unexpected)",
        "at $.incidentComponent.incidentCommonPriorityNumber: 9 is greater than the maximum of 5",
    ]
    assert str(caught.value).startswith("EIDO document is invalid: at $: 'agencyComponent'")


def test_dangling_reference_is_rejected() -> None:
    doc = to_eido(sample_payload())
    doc["incidentComponent"]["locationReference"] = [{"$ref": "urn:nowhere"}]
    with pytest.raises(EidoValidationError, match="unresolved \\$ref 'urn:nowhere'"):
        validate_eido(doc)


def test_location_without_gml_point_is_rejected() -> None:
    doc = to_eido(sample_payload())
    doc["locationComponent"][0]["locationByValue"] = "<presence/>"
    with pytest.raises(EidoValidationError, match=r"at \$\.locationComponent\[0\]\.locationByValue"):
        validate_eido(doc)
