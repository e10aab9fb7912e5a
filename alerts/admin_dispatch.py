"""Admin for CAD dispatch: endpoints (keys write-only), deliveries and attempts, unit reports."""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from alerts.dispatch import outbound
from alerts.models import Alert, Delivery, DeliveryAttempt, DispatchEndpoint, UnitStatusReport


class DispatchEndpointForm(forms.ModelForm):  # type: ignore[type-arg]
    """The key is write-only: never rendered back; left blank it keeps the stored one."""

    secret = forms.CharField(
        label="Signing key(s)",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="HMAC keys (first signs, all verify); blank keeps the stored key.",
    )
    url = forms.URLField(label="URL", max_length=500, assume_scheme="https")
    auto_dispatch_kinds = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=[c for c in Alert.Kind.choices if c[0] != Alert.Kind.FACE_MATCH],
    )

    class Meta:
        model = DispatchEndpoint
        fields = [
            "name",
            "url",
            "format",
            "secret",
            "key_env",
            "active",
            "auto_dispatch_kinds",
            "timeout_s",
            "max_attempts",
        ]

    def clean_secret(self) -> str:
        value = self.cleaned_data.get("secret") or ""
        return value or (self.instance.secret if self.instance.pk else "")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("secret") and not cleaned.get("key_env"):
            raise forms.ValidationError("Give a signing key or the name of an environment variable holding it.")
        return cleaned


@admin.register(DispatchEndpoint)
class DispatchEndpointAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = DispatchEndpointForm
    list_display = ["name", "url", "format", "active", "has_key", "timeout_s", "max_attempts"]
    list_filter = ["active", "format"]

    @admin.display(boolean=True, description="key configured")
    def has_key(self, obj: DispatchEndpoint) -> bool:
        return bool(obj.signing_keys())


class DeliveryAttemptInline(admin.TabularInline):  # type: ignore[type-arg]
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields: ClassVar[Any] = [
        "number",
        "started_at",
        "duration_ms",
        "http_status",
        "error",
        "response_excerpt",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = [
        "created_at",
        "alert",
        "endpoint",
        "revision",
        "status",
        "attempts",
        "next_attempt_at",
        "delivered_at",
        "last_error",
    ]
    list_filter = ["status", "endpoint"]
    search_fields = ["idempotency_key"]
    readonly_fields = [f.name for f in Delivery._meta.fields]
    inlines = [DeliveryAttemptInline]
    actions = ["retry_failed", "cancel_pending"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Retry selected failed deliveries")
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        self._each(request, queryset, outbound.delivery_retry, "retried")

    @admin.action(description="Cancel selected pending deliveries")
    def cancel_pending(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        self._each(request, queryset, outbound.delivery_cancel, "cancelled")

    def _each(self, request: HttpRequest, queryset: QuerySet[Delivery], service: Any, verb: str) -> None:
        done = 0
        for delivery_id in queryset.values_list("pk", flat=True):
            try:
                service(delivery_id=delivery_id, actor=request.user)
                done += 1
            except outbound.DeliveryActionError as exc:
                self.message_user(request, f"Delivery {delivery_id}: {exc}", messages.WARNING)
        self.message_user(request, f"{done} delivery(ies) {verb}.")


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["started_at", "delivery", "number", "http_status", "duration_ms", "error"]
    list_filter = ["http_status"]
    readonly_fields = [f.name for f in DeliveryAttempt._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(UnitStatusReport)
class UnitStatusReportAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = [
        "received_at",
        "alert",
        "unit",
        "status",
        "endpoint",
        "reported_at",
        "cad_reference",
    ]
    list_filter = ["status", "endpoint"]
    readonly_fields = [f.name for f in UnitStatusReport._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
