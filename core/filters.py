"""API filters that keep the published contract: bad values are a 400, unknown ids an empty page.

django-filter's defaults drift from the schema they publish: a reference (`?camera=<uuid>`) is checked
against every row of the table (an id that does not exist is a 400, one outside the user's scope is
not), a boolean silently ignores `?enabled=maybe`, and a number accepts `?min_severity=0.5`. Every
API filter set derives from `FilterSet` here (the backend below uses it for `filterset_fields` too).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import django_filters
from django import forms
from django.db import models
from django_filters import rest_framework as drf_filters
from django_filters.fields import IsoDateTimeField
from rest_framework import filters as drf_backends
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request


class StrictBooleanField(forms.Field):
    """`true` or `false` (any case); anything else is invalid instead of "no filter"."""

    default_error_messages = {"invalid": "Use true or false."}

    def to_python(self, value: Any) -> bool | None:
        if value in (None, ""):
            return None
        text = str(value).lower()
        if text not in {"true", "false"}:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return text == "true"


class BooleanFilter(django_filters.BooleanFilter):  # type: ignore[misc]  # django-filter ships no types
    """A boolean filter that rejects values other than true/false."""

    field_class = StrictBooleanField


class IntegerFilter(django_filters.NumberFilter):  # type: ignore[misc]  # django-filter ships no types
    """A whole-number filter (django-filter's NumberFilter takes decimals)."""

    field_class = forms.IntegerField


class StrictFormMixin(forms.Form):
    """A filter form where `?camera=` (given but empty) is an error, except for free-text filters."""

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        for name, field in self.fields.items():
            if type(field) is not forms.CharField and self.data.get(name) == "":
                self.add_error(name, "Give a value or leave the parameter out.")
        return cleaned


class UTCDateTimeField(IsoDateTimeField):  # type: ignore[misc]  # django-filter ships no types
    """An ISO 8601 time in UTC: PostgreSQL refuses offsets past 15:59 (`+20:53`), which ISO allows."""

    def to_python(self, value: Any) -> datetime | None:
        parsed: datetime | None = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(UTC)
        except OverflowError as exc:
            raise forms.ValidationError("The time is out of range.", code="overflow") from exc


class DateTimeFilter(django_filters.IsoDateTimeFilter):  # type: ignore[misc]  # django-filter ships no types
    """An ISO 8601 date-time filter, compared in UTC."""

    field_class = UTCDateTimeField


class FilterSet(drf_filters.FilterSet):  # type: ignore[misc]  # django-filter ships no types
    """Base for API filter sets: references filter by id (no existence check), strict booleans and integers."""

    def get_form_class(self) -> type[forms.Form]:
        form_class = super().get_form_class()
        return type(form_class.__name__, (StrictFormMixin, form_class), {})

    @classmethod
    def filter_for_lookup(cls, field: Any, lookup_type: str) -> tuple[Any, dict[str, Any]]:
        reference = getattr(field, "many_to_one", False) or getattr(field, "one_to_one", False)
        if lookup_type == "exact" and reference:
            # the queryset is already scoped to the user: an unknown id simply matches nothing
            target = field.target_field
            if isinstance(target, models.UUIDField):
                return django_filters.UUIDFilter, {}
            if isinstance(target, models.IntegerField | models.AutoField):
                return IntegerFilter, {}
        if isinstance(field, models.DateTimeField) and lookup_type in {"exact", "gt", "gte", "lt", "lte"}:
            return DateTimeFilter, {}
        if lookup_type == "exact" and not getattr(field, "choices", None):
            if isinstance(field, models.BooleanField):
                return BooleanFilter, {}
            if isinstance(field, models.IntegerField):
                return IntegerFilter, {}
        result: tuple[Any, dict[str, Any]] = super().filter_for_lookup(field, lookup_type)
        return result


class FilterBackend(drf_filters.DjangoFilterBackend):  # type: ignore[misc]  # django-filter ships no types
    """DjangoFilterBackend building `filterset_fields` on the strict `FilterSet`."""

    filterset_base = FilterSet


class OrderingFilter(drf_backends.OrderingFilter):
    """`?ordering=a,-b` over the view's orderable fields, published as a pattern; anything else is a 400.

    DRF drops unknown terms silently, and without `ordering_fields` offers every serializer field,
    including ones that are no column (`kind_display`), which the database cannot sort by.
    """

    def orderable(self, view: Any) -> list[str]:
        fields = getattr(view, "ordering_fields", None)
        if fields and fields != "__all__":
            return list(fields)
        serializer_class = view.get_serializer_class()
        model = getattr(getattr(serializer_class, "Meta", None), "model", None)
        if model is None:
            return []
        columns = {f.name for f in model._meta.concrete_fields}
        serializer = serializer_class()
        return [f.source for f in serializer.fields.values() if f.source in columns and not f.write_only]

    def get_ordering(self, request: Request, queryset: Any, view: Any) -> Any:
        raw = request.query_params.get(self.ordering_param)
        if raw is None:
            return self.get_default_ordering(view)
        terms = [term.strip() for term in raw.split(",")]
        allowed = self.orderable(view)
        unknown = [term for term in terms if term.lstrip("-") not in allowed or term.startswith("--")]
        if unknown:
            choices = ", ".join(allowed) or "nothing"
            raise ValidationError(
                {self.ordering_param: [f"Cannot order by {unknown[0]!r}; use {choices} (- reverses)."]}
            )
        return terms

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        allowed = self.orderable(view)
        if not allowed:
            return []
        names = "|".join(re.escape(name) for name in allowed)
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": f"Comma-separated fields to order by, `-` reverses: {', '.join(allowed)}.",
                "schema": {"type": "string", "pattern": f"^-?(?:{names})(?:,-?(?:{names}))*$"},
            }
        ]


class SearchFilter(drf_backends.SearchFilter):
    """`?search=` is published only on views that search (`search_fields`)."""

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        if not getattr(view, "search_fields", None):
            return []
        parameters: list[dict[str, Any]] = super().get_schema_operation_parameters(view)
        return parameters

    def get_search_terms(self, request: Request) -> list[str]:
        try:
            terms: list[str] = super().get_search_terms(request)
        except ValidationError as exc:  # e.g. a NUL character: name the parameter
            raise ValidationError({self.search_param: exc.detail}) from exc
        return terms
