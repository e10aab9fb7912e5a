"""The published API contract is true: every operation of `/api/schema/`, run in-process over WSGI with
schemathesis and every one of its checks (status codes, content types, response bodies and headers,
schema-valid input accepted, schema-invalid input rejected, authentication enforced, deleted objects
gone, created objects reachable, unsupported methods refused).

The admin's API token is registered through schemathesis' auth mechanism, so `ignored_auth` knows
which credential is real: it replays each request without it and with a wrong one and expects 403.
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import positive_data_acceptance

pytestmark = pytest.mark.django_db

SCHEMA = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
SCHEMA.app = WSGIHandler()  # probes (auth, use-after-free, availability) reach the same in-process app
TOKEN = secrets.token_hex(20)
load_all_checks()


@SCHEMA.auth(refresh_interval=None)
class AdminToken:
    """The admin's token, in the header the `tokenAuth` security scheme names."""

    def get(self, case: Any, context: Any) -> str:
        return TOKEN

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Token {data}"}


def _references_or_uploads(case: Any, response: Any) -> bool:
    """A 400 that only names references to rows that do not exist, uploads we cannot read, or a flat polygon.

    A schema can say "a UUID", "a file" and "3 to 64 points in the frame", not "the id of a venue that
    exists", "a decodable JPEG", "a polygon with an area" or "both coordinates or neither": generated
    valid data names random ids, random bytes, points in a line and a lone latitude, which the API
    rightly refuses with a 400 naming the field.
    Anything else a schema-valid request gets a 400 for is a contract bug and fails the test.
    """
    if response.status_code != 400:
        return False
    try:
        errors = json.loads(response.content)
    except ValueError:
        return False
    if not isinstance(errors, dict) or not errors:
        return False
    properties = _request_properties(case)
    if set(errors) <= {"code", "detail"}:  # an upload refused as a whole (`EnrolmentError`)
        return any(spec.get("format") == "binary" for spec in properties.values())
    return all(_unschematizable(field, properties.get(field, {}), messages) for field, messages in errors.items())


def _request_properties(case: Any) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for media in case.operation.definition.raw.get("requestBody", {}).get("content", {}).values():
        schema = media.get("schema", {})
        if "$ref" in schema:
            schema = SCHEMA.raw_schema["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        properties.update(schema.get("properties", {}))
    return properties


def _unschematizable(field: str, spec: dict[str, Any], messages: Any) -> bool:
    texts = [str(t) for t in (messages if isinstance(messages, list) else [messages])]
    if spec.get("format") == "binary":
        return True
    if field == "polygon":
        return all("no area" in t for t in texts)
    if field == "longitude":  # OpenAPI 3.0 cannot say "latitude and longitude together or neither"
        return all("both latitude and longitude" in t for t in texts)
    return spec.get("format") == "uuid" and all("does not exist" in t or t.startswith("Unknown") for t in texts)


def positive_data_acceptance_but_references(ctx: Any, response: Any, case: Any) -> bool | None:
    """Schemathesis' positive_data_acceptance, except for the 400s `_references_or_uploads` explains."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        if _references_or_uploads(case, response):
            return None
        raise


CHECKS_ALL = [
    positive_data_acceptance_but_references if check is positive_data_acceptance else check
    for check in CHECKS.get_all()
]


@pytest.fixture
def admin_token(admin_user, camera, watchlist):  # type: ignore[no-untyped-def]
    from django.core import signals
    from django.db import close_old_connections
    from rest_framework.authtoken.models import Token

    # like django.test.Client: keep the test transaction's connection open across requests
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield Token.objects.create(user=admin_user, key=TOKEN).key
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def existing(camera, watchlist):  # type: ignore[no-untyped-def]
    """Rows a real client would reference in what it writes."""
    return {"venue": str(camera.venue_id), "camera": str(camera.pk), "watchlist": str(watchlist.pk)}


def _reference_existing_rows(case: Any, existing: dict[str, str]) -> None:
    """Schema-valid writes name rows that exist and a subject expiry within its window (after now, within
    3 years: a rule relative to the clock, which a schema cannot state), like a client that read them
    first, so they reach the services and the database instead of stopping at a 400."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or not isinstance(case.body, dict):
        return
    for field, row_id in existing.items():
        if field in case.body:
            case.body[field] = row_id
    if "expires_at" in case.body:
        case.body["expires_at"] = (timezone.now() + timedelta(days=30)).isoformat()


@SCHEMA.parametrize()
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_the_api_keeps_its_published_contract(case, admin_token, existing):  # type: ignore[no-untyped-def]
    _reference_existing_rows(case, existing)
    response = case.call()
    case.validate_response(response, checks=CHECKS_ALL)
