"""REST API for CAD deliveries: their state per alert; retry a failed one (act_on_alert)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from alerts.dispatch import outbound
from alerts.models import Delivery
from alerts.selectors import alerts_for
from audit.models import AccessEvent
from audit.services import access_record
from core.api_schema import ErrorSerializer


class DeliverySerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    """Where one revision of an incident stands with one CAD endpoint (no body, no keys)."""

    endpoint = serializers.CharField(source="endpoint.name", read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "alert",
            "endpoint",
            "revision",
            "status",
            "attempts",
            "next_attempt_at",
            "delivered_at",
            "last_error",
            "idempotency_key",
            "created_at",
        ]
        read_only_fields = fields


class CanViewAlerts(BasePermission):
    """Deliveries are part of an alert: whoever may see alerts may see them (scope applies)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user: Any = request.user
        return bool(user and user.is_authenticated and user.has_perm("alerts.view_alert"))


class DeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):  # type: ignore[type-arg]
    """Deliveries of alerts in the user's scope; `?alert=<id>`, `?status=`; POST `<id>/retry/`."""

    serializer_class = DeliverySerializer
    permission_classes = [CanViewAlerts]
    filterset_fields = ["alert", "status", "endpoint"]
    ordering = ["-created_at"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return (
            Delivery.objects.filter(alert__in=alerts_for(self.request.user).values("pk"))
            .select_related("endpoint")
            .order_by("-created_at", "-id")
        )

    @extend_schema(request=None, responses={202: DeliverySerializer, 409: ErrorSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        user: Any = request.user
        if not user.has_perm("alerts.act_on_alert"):
            access_record(
                user=user,
                action=AccessEvent.Action.DENIED,
                object_type="alerts.delivery",
                object_id=pk,
                detail={"permission": "alerts.act_on_alert"},
            )
            raise PermissionDenied("Your role cannot act on alerts.")
        delivery = self.get_object()
        try:
            updated = outbound.delivery_retry(delivery_id=delivery.pk, actor=user)
        except outbound.DeliveryActionError as exc:
            return Response({"detail": str(exc), "status": delivery.status}, status=status.HTTP_409_CONFLICT)
        return Response(DeliverySerializer(updated).data, status=status.HTTP_202_ACCEPTED)
