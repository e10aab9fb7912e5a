"""Shared API pieces: a model viewset whose writes go through audited services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError
from rest_framework import serializers, viewsets
from rest_framework.exceptions import PermissionDenied, ValidationError


def django_errors_to_drf(exc: DjangoValidationError) -> ValidationError:
    """Turn a model full_clean error into a DRF 400 with field-level messages."""
    if hasattr(exc, "error_dict"):
        return ValidationError({field: [str(m) for m in msgs] for field, msgs in exc.message_dict.items()})
    return ValidationError({"non_field_errors": exc.messages})


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
            raise ValidationError(
                {"non_field_errors": ["It is still referenced (e.g. by cameras or alerts); disable it instead."]}
            ) from exc


def acting_user(request: Any) -> User:
    """The signed-in user of a request that passed authentication (for typed service calls)."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied("Sign in first.")
    return user
