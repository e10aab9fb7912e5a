"""OpenAPI generation that documents the error responses every operation can really give.

drf-spectacular documents only the success response. DRF itself answers 400 (bad body or query),
403 (signed out or not allowed: session auth comes first, so DRF never answers 401), 404 (an unknown
id, a page past the last), 409 (a unique name taken, see `core.api.exception_handler`), 415 (a body
type the view does not parse) and 429 (throttled). `AutoSchema` adds each where the view can produce
it, with the error bodies as shared components, so a generated client knows every status it can get.
Views add their own (e.g. 409 on a state conflict) with `extend_schema(responses=...)`.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from django.core.validators import RegexValidator
from django.db.models import UniqueConstraint
from drf_spectacular import openapi
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from core.api import ServiceModelViewSet


class ErrorSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """An error: `detail` says what went wrong; some errors add fields (e.g. the current `status`)."""

    detail = serializers.CharField()


VALIDATION_ERROR = {
    "description": (
        "Rejected input: each offending field (or `non_field_errors`, or `detail`) maps to its messages; "
        "an error about the request as a whole may be a plain list of messages."
    ),
    "oneOf": [
        {
            "type": "object",
            "additionalProperties": {"anyOf": [{"type": "string"}, {"type": "array"}, {"type": "object"}]},
        },
        {"type": "array", "items": {"type": "string"}},
    ],
}
DESCRIPTIONS = {
    "400": "The request is invalid; nothing was changed.",
    "403": "Not signed in, or the role may not do this (the denial is audited).",
    "404": "No such object in the user's scope (or a page past the last).",
    "409": "The request conflicts with the current state (e.g. the name is taken).",
    "415": "The body's media type is not accepted here.",
    "429": "Too many requests; try again later.",
}


NO_NUL = r"^[^\u0000]*$"  # DRF refuses a NUL character in any text
SOME_TEXT = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"  # ... and, unless blank is allowed, text that is only spaces


def _text_pattern(field: Any) -> str | None:
    """The pattern a DRF text field enforces without saying so, None if it has a pattern of its own."""
    if not isinstance(field, serializers.CharField) or field.read_only:
        return None
    if any(isinstance(v, RegexValidator) for v in field.validators):
        return None
    return SOME_TEXT if not field.allow_blank and field.trim_whitespace else NO_NUL


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema plus the error responses DRF gives for this view and method."""

    def _map_serializer_field(self, field: Any, direction: Any, bypass_extensions: bool = False) -> dict[str, Any]:
        if not (direction == "request" and isinstance(field, serializers.DecimalField)):
            schema: dict[str, Any] = super()._map_serializer_field(field, direction, bypass_extensions)  # type: ignore[no-untyped-call]
            pattern = _text_pattern(field) if direction == "request" else None
            if pattern and schema.get("type") == "string" and "enum" not in schema:
                schema.setdefault("pattern", pattern)
            return schema
        # decimals go out as strings but come in as numbers (`core.api.RoundingDecimalField`)
        field = copy.copy(field)
        field.coerce_to_string = False
        number: dict[str, Any] = super()._map_serializer_field(field, direction, bypass_extensions)  # type: ignore[no-untyped-call]
        for key in ("minimum", "maximum"):
            if isinstance(number.get(key), Decimal):
                number[key] = float(number[key])  # a JSON number, whatever renders the schema
        return number

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        for code in self._error_codes():
            if code not in responses:
                responses[code] = {
                    "content": {"application/json": {"schema": self._error_schema(code)}},
                    "description": DESCRIPTIONS[code],
                }
        return responses

    def _error_schema(self, code: str) -> dict[str, Any]:
        """400s, and 409s for a taken unique value, name the fields; other errors carry a `detail`."""
        if code == "400" or (code == "409" and self.method != "DELETE"):
            component = ResolvedComponent(  # type: ignore[no-untyped-call]
                name="ValidationError", type=ResolvedComponent.SCHEMA, object="ValidationError", schema=VALIDATION_ERROR
            )
            self.registry.register_on_missing(component)
        else:
            component = self.resolve_serializer(ErrorSerializer, "response")
        return dict(component.ref)

    def _error_codes(self) -> list[str]:
        codes = []
        body = self._get_request_body()  # type: ignore[no-untyped-call]
        has_body = self.method in {"POST", "PUT", "PATCH"} and body is not None
        if has_body or any(p.get("in") == "query" for p in self._get_parameters()):
            codes.append("400")
        if not all(isinstance(p, AllowAny) for p in self.view.get_permissions()):
            codes.append("403")
        paginated = self.method == "GET" and self._is_list_view() and self._get_paginator()  # type: ignore[no-untyped-call]
        if "{" in self.path or paginated:
            codes.append("404")
        if (has_body and self._unique_conflicts_possible()) or (self.method == "DELETE" and self._guards_references()):
            codes.append("409")
        if has_body:
            codes.append("415")
        if self.view.get_throttles():
            codes.append("429")
        return codes

    def _guards_references(self) -> bool:
        """A delete through `ServiceModelViewSet` answers 409 while other rows still reference the object."""
        return isinstance(self.view, ServiceModelViewSet)

    def _unique_conflicts_possible(self) -> bool:
        """A write to a model with a unique field or constraint besides its primary key can collide."""
        serializer = self.get_request_serializer()
        model = getattr(getattr(serializer, "Meta", None), "model", None)
        if model is None:
            return False
        meta = model._meta
        unique_fields = [f for f in meta.concrete_fields if f.unique and not f.primary_key]
        unique_constraints = [c for c in meta.constraints if isinstance(c, UniqueConstraint)]  # conditional too
        return bool(unique_fields or unique_constraints or meta.unique_together)
