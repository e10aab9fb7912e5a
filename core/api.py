"""Shared API pieces: a model viewset whose writes go through audited services, the exception handler."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.db.models import ProtectedError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import serializers, status, viewsets
from rest_framework.exceptions import APIException, ErrorDetail, PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

UNIQUE_CODES = {"unique", "unique_together"}


class Conflict(APIException):
    """409: the request is well formed but conflicts with the current state (e.g. a row still referenced)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


def _details(errors: list[DjangoValidationError]) -> list[ErrorDetail]:
    return [ErrorDetail(message, code=error.code) for error in errors for message in error.messages]


def django_errors_to_drf(exc: DjangoValidationError) -> ValidationError:
    """Turn a model full_clean error into a DRF 400 with field-level messages (codes kept)."""
    if hasattr(exc, "error_dict"):
        return ValidationError({field: _details(errors) for field, errors in exc.error_dict.items()})
    return ValidationError({"non_field_errors": _details(exc.error_list)})


def _codes(codes: Any) -> set[str]:
    if isinstance(codes, dict):
        return set().union(*(_codes(c) for c in codes.values())) if codes else set()
    if isinstance(codes, list):
        return set().union(*(_codes(c) for c in codes)) if codes else set()
    return {str(codes)}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, but input whose only fault is a taken unique value is a 409 Conflict, not a 400.

    The request is well formed (a client generated from the schema cannot know the name is taken);
    it conflicts with the current state, which is what 409 says.
    """
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, ValidationError):
        codes = _codes(exc.get_codes())
        if codes and codes <= UNIQUE_CODES:
            response.status_code = status.HTTP_409_CONFLICT
    return response


class StrictBooleanField(serializers.BooleanField):
    """JSON `true` or `false` only (DRF's BooleanField also takes 0, 1, "yes" and "on": form habits)."""

    def to_internal_value(self, data: Any) -> bool:
        if isinstance(data, bool):
            return data
        self.fail("invalid", input=data)
        raise AssertionError  # fail() raises


class StrictCharField(serializers.CharField):
    """Text only (DRF's CharField also takes numbers and turns them into text)."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        text: str = super().to_internal_value(data)
        return text


class RoundingDecimalField(serializers.DecimalField):
    """A decimal rounded to its places (a coordinate with 15 digits is fine) instead of refused; "" is no number."""

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        if isinstance(data, str) and not data.strip():
            self.fail("invalid")
        result: tuple[bool, Any] = super().validate_empty_values(data)
        return result

    def validate_precision(self, value: Decimal) -> Decimal:
        if self.decimal_places is not None:
            with contextlib.suppress(InvalidOperation):  # too many digits to round: the checks below refuse it
                value = value.quantize(Decimal(1).scaleb(-self.decimal_places), rounding=ROUND_HALF_EVEN)
        checked: Decimal = super().validate_precision(value)
        return checked


class ModelSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    """Base of the API's model serializers: input is what the published schema says (see the fields above)."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.BooleanField: StrictBooleanField,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
        models.DecimalField: RoundingDecimalField,
    }


class ServiceModelViewSet(viewsets.ModelViewSet):  # type: ignore[type-arg]
    """Create/update/delete call `save_service` / `delete_service` (validated, audited)."""

    save_service: Callable[..., Any]
    save_kwarg: str
    delete_service: Callable[..., Any]

    def _save(self, serializer: serializers.BaseSerializer[Any]) -> None:
        model: type[Any] = serializer.Meta.model  # type: ignore[attr-defined]
        instance = serializer.instance or model()
        for key, value in serializer.validated_data.items():
            if not isinstance(value, list) or not hasattr(getattr(instance, key, None), "set"):
                setattr(instance, key, value)
        try:
            type(self).save_service(actor=self.request.user, **{self.save_kwarg: instance})
        except DjangoValidationError as exc:
            raise django_errors_to_drf(exc) from exc
        serializer.instance = instance

    def perform_create(self, serializer: serializers.BaseSerializer[Any]) -> None:
        self._save(serializer)

    def perform_update(self, serializer: serializers.BaseSerializer[Any]) -> None:
        self._save(serializer)

    def perform_destroy(self, instance: Any) -> None:
        try:
            type(self).delete_service(actor=self.request.user, instance=instance)
        except ProtectedError as exc:
            raise Conflict("It is still referenced (e.g. by cameras or alerts); disable it instead.") from exc


def acting_user(request: Any) -> User:
    """The signed-in user of a request that passed authentication (for typed service calls)."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied("Sign in first.")
    return user


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """`handler404`: a URL under /api/ that matches no route gets the JSON error the schema documents."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)
