"""REST API for alerts: scoped list with filters and a change cursor, detail, dispatcher actions."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from alerts import services
from alerts.models import Alert, AlertEvent, Delivery, Evidence
from alerts.selectors import alert_read_audit, alerts_for, face_cards
from core.api import acting_user
from core.api_schema import ErrorSerializer
from core.filters import BooleanFilter, DateTimeFilter, FilterSet, IntegerFilter
from core.permissions import ModelPermissions

CURSOR_PAGE = 500
ACTIONS = {"acknowledge", "escalate", "dispatch_units", "resolve", "assign", "confirm", "reject"}


class ActionPermission(ModelPermissions):
    """A dispatcher action needs `view_alert` to reach it (denials audited); `_act` does the rest."""

    perms_map = {**ModelPermissions.perms_map, "POST": ["%(app_label)s.view_%(model_name)s"]}


class AlertEventSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    """One history entry."""

    actor = serializers.CharField(source="actor.username", default=None, read_only=True, allow_null=True)

    class Meta:
        model = AlertEvent
        fields = ["action", "actor", "from_status", "to_status", "note", "data", "created_at"]


class AlertSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    """An alert as the dashboard lists it (no faces, no names)."""

    camera_name = serializers.CharField(source="camera.name", read_only=True)
    venue_name = serializers.CharField(source="venue.name", read_only=True)
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    severity_display = serializers.CharField(source="get_severity_display", read_only=True)
    assigned_to = serializers.CharField(source="assigned_to.username", default=None, read_only=True, allow_null=True)
    outcome_display = serializers.CharField(source="get_outcome_display", read_only=True)
    thumbnail_url = serializers.SerializerMethodField()
    face = serializers.SerializerMethodField()
    cad = serializers.SerializerMethodField()

    class Meta:
        model = Alert
        fields = [
            "id",
            "kind",
            "kind_display",
            "camera",
            "camera_name",
            "venue",
            "venue_name",
            "zone",
            "severity",
            "severity_display",
            "status",
            "status_display",
            "review",
            "score",
            "assigned_to",
            "outcome",
            "outcome_display",
            "sightings",
            "thumbnail_url",
            "face",
            "cad",
            "raised_at",
            "last_seen_at",
            "acknowledged_at",
            "dispatched_at",
            "resolved_at",
            "change_seq",
        ]

    def get_thumbnail_url(self, alert: Alert) -> str | None:
        """The face seen by the camera (a face match) or the snapshot (an incident), via the audited view."""
        wanted = Evidence.Kind.FACE_CROP if alert.kind == Alert.Kind.FACE_MATCH else Evidence.Kind.SNAPSHOT
        item = next((e for e in alert.evidence.all() if e.kind == wanted), None)
        return reverse("evidence-file", args=[item.pk]) + "?purpose=dashboard" if item else None

    def get_cad(self, alert: Alert) -> dict[str, Any] | None:
        """Where the incident stands with the CAD at a glance: the worst delivery state and the latest unit."""
        deliveries = list(alert.deliveries.all())
        if not deliveries:
            return None
        order: list[str] = [
            Delivery.Status.FAILED,
            Delivery.Status.PENDING,
            Delivery.Status.DELIVERED,
            Delivery.Status.CANCELLED,
        ]
        worst = min(deliveries, key=lambda d: order.index(d.status) if d.status in order else len(order))
        reports = sorted(alert.unit_reports.all(), key=lambda r: (r.received_at, r.pk))
        latest = reports[-1] if reports else None
        return {
            "state": worst.status,
            "state_display": str(worst.get_status_display()),
            "unit": f"{latest.unit}: {latest.get_status_display()}" if latest else "",
        }

    def get_face(self, alert: Alert) -> dict[str, Any] | None:
        """Who a face match names: filled by `alerts.selectors.face_cards` (audited), absent otherwise."""
        faces: dict[Any, Any] = self.context.get("faces", {})
        card: dict[str, Any] | None = faces.get(alert.pk)
        return card


class AlertDetailSerializer(AlertSerializer):
    """An alert with its history and links to its evidence (served by audited views)."""

    events = AlertEventSerializer(many=True, read_only=True)
    evidence = serializers.SerializerMethodField()

    probe_crop_url = serializers.SerializerMethodField()
    enrolled_photo_url = serializers.SerializerMethodField()
    similarity = serializers.SerializerMethodField()
    watchlist = serializers.SerializerMethodField()
    deliveries = serializers.SerializerMethodField()  # CAD dispatch state (alerts.api_dispatch)
    unit_reports = serializers.SerializerMethodField()  # unit statuses the CAD sent back

    class Meta(AlertSerializer.Meta):
        fields = [
            *AlertSerializer.Meta.fields,
            "details",
            "subject",
            "template",
            "events",
            "evidence",
            "probe_crop_url",
            "enrolled_photo_url",
            "similarity",
            "watchlist",
            "deliveries",
            "unit_reports",
        ]

    def get_unit_reports(self, alert: Alert) -> list[dict[str, Any]]:
        rows = alert.unit_reports.select_related("endpoint").order_by("received_at", "id")
        return [
            {
                "unit": r.unit,
                "status": r.status,
                "status_display": str(r.get_status_display()),
                "cad_reference": r.cad_reference,
                "endpoint": r.endpoint.name,
                "reported_at": r.reported_at.isoformat(),
            }
            for r in rows
        ]

    def get_deliveries(self, alert: Alert) -> list[dict[str, Any]]:
        from alerts.api_dispatch import DeliverySerializer

        rows = alert.deliveries.select_related("endpoint").order_by("endpoint__name", "revision")
        return list(DeliverySerializer(rows, many=True).data)

    def get_probe_crop_url(self, alert: Alert) -> str | None:
        crop = next((e for e in alert.evidence.all() if e.kind == Evidence.Kind.FACE_CROP), None)
        return reverse("evidence-file", args=[crop.pk]) if crop else None

    def get_enrolled_photo_url(self, alert: Alert) -> str | None:
        return reverse("template-crop", args=[alert.template_id]) if alert.template_id else None

    def get_similarity(self, alert: Alert) -> float | None:
        return alert.score if alert.kind == Alert.Kind.FACE_MATCH else None

    def get_watchlist(self, alert: Alert) -> dict[str, Any] | None:
        if alert.subject is None:
            return None
        watchlist = alert.subject.watchlist
        return {
            "id": str(watchlist.pk),
            "name": watchlist.name,
            "category": watchlist.category,
            "requires_second_confirmation": watchlist.requires_second_confirmation,
        }

    def get_evidence(self, alert: Alert) -> list[dict[str, Any]]:
        return [
            {
                "id": str(e.pk),
                "kind": e.kind,
                "content_type": e.content_type,
                "size_bytes": e.size_bytes,
                "url": reverse("evidence-file", args=[e.pk]),
            }
            for e in alert.evidence.all()
        ]


class AlertFilter(FilterSet):
    """Filters: kind, severity, status, venue, camera, time range."""

    raised_after = DateTimeFilter(field_name="raised_at", lookup_expr="gte")
    raised_before = DateTimeFilter(field_name="raised_at", lookup_expr="lt")
    min_severity = IntegerFilter(field_name="severity", lookup_expr="gte")
    open = BooleanFilter(method="filter_open")

    class Meta:
        model = Alert
        fields = ["kind", "severity", "status", "review", "venue", "camera"]

    def filter_open(self, queryset: Any, name: str, value: bool) -> Any:
        resolved = Alert.Status.RESOLVED
        return queryset.exclude(status=resolved) if value else queryset.filter(status=resolved)


class ActionSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """Input of a dispatcher action."""

    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    outcome = serializers.ChoiceField(choices=[c for c in Alert.Outcome.values if c], required=False)
    assignee = serializers.CharField(required=False, max_length=150)
    endpoint = serializers.IntegerField(required=False, allow_null=True, default=None)
    priority = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1, max_value=5)


MAX_CURSOR = 2**63 - 1  # change_seq is a bigint


class AlertPageSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """One page of alerts (without `after`)."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = AlertSerializer(many=True)


class AlertChangesSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """Alerts changed since `after`, oldest change first; `cursor` is the next `after`."""

    results = AlertSerializer(many=True)
    cursor = serializers.IntegerField(min_value=0)
    more = serializers.BooleanField()


LIST_SCHEMA = extend_schema(
    parameters=[
        OpenApiParameter(
            "after",
            {"type": "integer", "minimum": 0, "maximum": MAX_CURSOR},
            description="Catch up: the alerts changed since this `change_seq` (up to 500), instead of a page.",
        ),
    ],
    responses={
        200: PolymorphicProxySerializer(
            component_name="AlertListOrChanges",
            serializers=[AlertPageSerializer, AlertChangesSerializer],
            resource_type_field_name=None,
            many=False,  # each is already the whole response: no pagination wrapper around it
        )
    },
)
RETRIEVE_SCHEMA = extend_schema(
    parameters=[OpenApiParameter("purpose", str, description="Why the alert is opened (audited).")]
)
ACTION_SCHEMA = extend_schema(request=ActionSerializer, responses={200: AlertSerializer, 409: ErrorSerializer})


@extend_schema_view(list=LIST_SCHEMA, retrieve=RETRIEVE_SCHEMA, **dict.fromkeys(ACTIONS, ACTION_SCHEMA))
class AlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):  # type: ignore[type-arg]
    """Alerts in the user's scope. `?after=<seq>` returns everything changed since that cursor."""

    filterset_class = AlertFilter
    ordering_fields = ["raised_at", "severity", "change_seq"]
    ordering = ["-raised_at"]

    def get_permissions(self):  # type: ignore[no-untyped-def]
        # actions are POSTs that create nothing: they need view_alert here, `_act` checks the right
        if self.action in ACTIONS:
            return [ActionPermission()]
        return super().get_permissions()

    def get_queryset(self):  # type: ignore[no-untyped-def]
        queryset = alerts_for(self.request.user).prefetch_related("evidence", "deliveries", "unit_reports")
        if self.action == "retrieve":
            queryset = queryset.select_related("subject__watchlist").prefetch_related("events__actor")
        return queryset

    def _context_with_faces(self, rows: list[Alert], purpose: str) -> dict[str, Any]:
        faces = face_cards(user=self.request.user, alerts=rows, purpose=purpose)
        return {**self.get_serializer_context(), "faces": faces}

    def get_serializer_class(self):  # type: ignore[no-untyped-def]
        if self.action == "retrieve":
            return AlertDetailSerializer
        if self.action in {"acknowledge", "escalate", "dispatch_units", "resolve", "assign", "confirm", "reject"}:
            return ActionSerializer
        return AlertSerializer

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        alert = self.get_object()
        purpose = request.query_params.get("purpose", "")
        alert_read_audit(user=request.user, alert=alert, purpose=purpose)
        context = self._context_with_faces([alert], purpose or "alert detail")
        return Response(AlertDetailSerializer(alert, context=context).data)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        after = request.query_params.get("after")
        if after is None:
            queryset = self.filter_queryset(self.get_queryset())
            page = self.paginate_queryset(queryset)
            rows = list(page) if page is not None else list(queryset)
            data = AlertSerializer(rows, many=True, context=self._context_with_faces(rows, "alert list")).data
            return self.get_paginated_response(data) if page is not None else Response(data)
        if not (after.isascii() and after.isdigit()) or int(after) > MAX_CURSOR:
            raise ValidationError({"after": "The cursor must be a whole number (the last `change_seq` seen)."})
        queryset = self.filter_queryset(self.get_queryset()).filter(change_seq__gt=int(after))
        rows = list(queryset.order_by("change_seq")[:CURSOR_PAGE])
        cursor = rows[-1].change_seq if rows else int(after)
        results = AlertSerializer(rows, many=True, context=self._context_with_faces(rows, "alert list")).data
        return Response({"results": results, "cursor": cursor, "more": len(rows) == CURSOR_PAGE})

    def _act(self, request: Request, pk: str, perform: Any) -> Response:
        if not request.user.has_perm("alerts.act_on_alert"):
            raise PermissionDenied("Your role cannot act on alerts.")
        alert = self.get_object()
        params = ActionSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            updated = perform(alert, params.validated_data)
        except services.AlertConflict as exc:
            return Response(_conflict_body(alert, exc), status=status.HTTP_409_CONFLICT)
        except services.AlertActionError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(AlertSerializer(updated).data)

    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str) -> Response:
        return self._act(
            request,
            pk,
            lambda a, p: services.alert_acknowledge(alert_id=a.pk, actor=acting_user(request), note=p["note"]),
        )

    @action(detail=True, methods=["post"])
    def escalate(self, request: Request, pk: str) -> Response:
        return self._act(
            request, pk, lambda a, p: services.alert_escalate(alert_id=a.pk, actor=acting_user(request), note=p["note"])
        )

    @action(detail=True, methods=["post"], url_path="dispatch")
    def dispatch_units(self, request: Request, pk: str) -> Response:
        return self._act(
            request,
            pk,
            lambda a, p: services.alert_dispatch(
                alert_id=a.pk,
                actor=acting_user(request),
                note=p["note"],
                endpoint_id=p["endpoint"],
                priority=p["priority"],
            ),
        )

    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str) -> Response:
        return self._act(
            request,
            pk,
            lambda a, p: services.alert_resolve(
                alert_id=a.pk, actor=acting_user(request), outcome=p.get("outcome", ""), note=p["note"]
            ),
        )

    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, pk: str) -> Response:
        self._require_review(request)
        return self._act(
            request,
            pk,
            lambda a, p: services.alert_confirm_match(alert_id=a.pk, actor=acting_user(request), note=p["note"]),
        )

    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str) -> Response:
        self._require_review(request)
        return self._act(
            request,
            pk,
            lambda a, p: services.alert_reject_match(alert_id=a.pk, actor=acting_user(request), note=p["note"]),
        )

    def _require_review(self, request: Request) -> None:
        if not request.user.has_perm("alerts.review_face_match"):
            raise PermissionDenied("Your role cannot review face matches.")

    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk: str) -> Response:
        def perform(alert: Alert, params: dict[str, Any]) -> Alert:
            assignee = get_user_model().objects.filter(username=params.get("assignee", "")).first()
            if assignee is None:
                raise services.AlertActionError("Unknown user to assign to.")
            return services.alert_assign(alert_id=alert.pk, actor=acting_user(request), assignee=assignee)

        return self._act(request, pk, perform)


def _conflict_body(alert: Alert, exc: services.AlertConflict) -> dict[str, Any]:
    """A lost compare-and-set: who acted first and what they did, for the toast."""
    last = alert.events.exclude(actor=None).select_related("actor").order_by("-created_at", "-id").first()
    body: dict[str, Any] = {"detail": str(exc), "status": exc.current_status}
    if last is None or last.actor is None:
        return body
    current = Alert.objects.only("status").get(pk=alert.pk)
    body.update(by=last.actor.get_username(), action=last.action)
    body["detail"] = _("%(who)s acted first: %(what)s. The alert is now %(status)s.") % {
        "who": last.actor.get_username(),
        "what": last.get_action_display(),
        "status": current.get_status_display(),
    }
    return body


def evidence_url(evidence: Evidence) -> str:
    """Where the audited evidence view serves a file."""
    return reverse("evidence-file", args=[evidence.pk])
