"""Admin base class whose saves and deletes go through the audited services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from core.api import acting_user


class ServiceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """ModelAdmin that calls `save_service(actor=, <kwarg>=obj)` and `delete_service`."""

    save_service: Callable[..., Any]
    save_kwarg: str
    delete_service: Callable[..., Any]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        type(self).save_service(actor=acting_user(request), **{self.save_kwarg: obj})

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        type(self).delete_service(actor=acting_user(request), instance=obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:
            type(self).delete_service(actor=acting_user(request), instance=obj)
