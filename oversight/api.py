"""REST API for deployments: scoped list and detail, request, urgent start, authorise, refuse, end.

Every write calls the same service as the pages and the admin (permission, compare-and-set, audit)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts.models import Alert
from core.api import acting_user, django_errors_to_drf
from core.permissions import ModelPermissions
from core.security import validate_image_upload
from oversight import services
from oversight.exports import evidence_export
from oversight.models import Deployment
from oversight.search import SearchQuery, event_search
from oversight.selectors import deployments_for
from venues.selectors import cameras_for, venues_for
from watchlists.models import Watchlist


class DeploymentSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    """A deployment as the API shows it."""

    status_display = serializers.CharField(source="get_status_display", read_only=True)
    requested_by = serializers.CharField(source="requested_by.username", read_only=True)
    decided_by = serializers.CharField(source="decided_by.username", default=None, read_only=True)
    matching_until = serializers.DateTimeField(read_only=True)

    class Meta:
        model = Deployment
        fields = [
            "id",
            "title",
            "venues",
            "cameras",
            "watchlists",
            "purpose",
            "legal_basis",
            "starts_at",
            "ends_at",
            "status",
            "status_display",
            "requested_by",
            "requested_at",
            "urgent_reason",
            "urgent_deadline",
            "decided_by",
            "decided_at",
            "decision_note",
            "ended_at",
            "purged_at",
            "matching_until",
        ]
        read_only_fields = fields


class PlanSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """A deployment request (``urgent_reason`` starts it at once, pending authorisation)."""

    title = serializers.CharField(max_length=200)
    purpose = serializers.CharField()
    legal_basis = serializers.CharField(max_length=300)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    venues = serializers.ListField(child=serializers.UUIDField(), required=False, default=list)
    cameras = serializers.ListField(child=serializers.UUIDField(), required=False, default=list)
    watchlists = serializers.ListField(child=serializers.UUIDField(), allow_empty=False)
    urgent_reason = serializers.CharField(required=False, allow_blank=True, default="")


class DecisionSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """An authoriser's or requester's note on a decision."""

    note = serializers.CharField(required=False, allow_blank=True, default="")


def plan_from(data: dict[str, Any], user: Any) -> services.DeploymentPlan:
    """Resolve ids to rows the user may see; unknown or out-of-scope ids are a 400."""
    venues = list(venues_for(user).filter(pk__in=data["venues"]))
    cameras = list(cameras_for(user).filter(pk__in=data["cameras"]))
    watchlists = list(Watchlist.objects.filter(pk__in=data["watchlists"], active=True))
    missing = {
        "venues": len(venues) != len(set(data["venues"])),
        "cameras": len(cameras) != len(set(data["cameras"])),
        "watchlists": len(watchlists) != len(set(data["watchlists"])),
    }
    errors = {field: ["Unknown, inactive or out-of-scope id."] for field, bad in missing.items() if bad}
    if errors:
        raise serializers.ValidationError(errors)
    return services.DeploymentPlan(
        title=data["title"],
        purpose=data["purpose"],
        legal_basis=data["legal_basis"],
        starts_at=data["starts_at"],
        ends_at=data["ends_at"],
        venues=tuple(venues),
        cameras=tuple(cameras),
        watchlists=tuple(watchlists),
    )


class DeploymentPermission(ModelPermissions):
    """Reads need `view_deployment`; a POST reaches the service, which checks request/authorise itself."""

    perms_map = {**ModelPermissions.perms_map, "POST": ["%(app_label)s.view_%(model_name)s"]}


class DeploymentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):  # type: ignore[type-arg]
    """Deployments of live face matching; writes go through `oversight.services`."""

    serializer_class = DeploymentSerializer
    permission_classes = [DeploymentPermission]
    queryset = Deployment.objects.none()  # for the permission class; the real one is scoped

    def get_queryset(self) -> Any:
        return deployments_for(self.request.user).select_related("requested_by", "decided_by")

    def get_serializer_class(self) -> Any:
        if self.action == "create":
            return PlanSerializer
        if self.action in ("authorise", "refuse", "end"):
            return DecisionSerializer
        return DeploymentSerializer

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        actor = acting_user(request)
        if not actor.has_perm("oversight.request_deployment"):
            raise PermissionDenied("oversight.request_deployment")  # audited by DeniedAuditMiddleware
        incoming = PlanSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        plan = plan_from(incoming.validated_data, actor)
        reason = incoming.validated_data["urgent_reason"]

        def run() -> Deployment:
            if reason.strip():
                return services.deployment_start_urgent(actor=actor, plan=plan, reason=reason)
            return services.deployment_request(actor=actor, plan=plan)

        return self._call(run, status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def authorise(self, request: Request, pk: str | None = None) -> Response:
        return self._decide(request, services.deployment_authorise)

    @action(detail=True, methods=["post"])
    def refuse(self, request: Request, pk: str | None = None) -> Response:
        return self._decide(request, services.deployment_refuse)

    @action(detail=True, methods=["post"])
    def end(self, request: Request, pk: str | None = None) -> Response:
        return self._decide(request, services.deployment_end)

    def _decide(self, request: Request, service: Callable[..., Deployment]) -> Response:
        deployment = self.get_object()
        note = DecisionSerializer(data=request.data)
        note.is_valid(raise_exception=True)
        actor = acting_user(request)
        pk = uuid.UUID(str(deployment.pk))
        return self._call(lambda: service(deployment_id=pk, actor=actor, note=note.validated_data["note"]))

    def _call(self, run: Callable[[], Deployment], code: int = status.HTTP_200_OK) -> Response:
        try:
            deployment = run()
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from exc
        except DjangoValidationError as exc:
            raise django_errors_to_drf(exc) from exc
        except services.DeploymentConflict as exc:
            body = {"detail": exc.message, "status": exc.deployment.status}
            return Response(body, status=status.HTTP_409_CONFLICT)
        return Response(DeploymentSerializer(deployment).data, status=code)


class ExportSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """An evidence export: one alert or a case bundle."""

    alerts = serializers.ListField(child=serializers.UUIDField(), allow_empty=False, max_length=50)
    purpose = serializers.CharField(max_length=300)
    unmasked = serializers.BooleanField(required=False, default=False)
    involved = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        allow_null=True,
        default=None,
        help_text="One incident alert: numbers (1..) of the involved people in its snapshot; everyone else is blurred.",
    )


class ExportView(APIView):
    """POST {alerts, purpose, unmasked} -> a zip (application/zip) with the manifest; audited."""

    permission_classes = [IsAuthenticated]
    serializer_class = ExportSerializer

    @extend_schema(request=ExportSerializer, responses={(200, "application/zip"): OpenApiTypes.BINARY})
    def post(self, request: Request) -> HttpResponse:
        if not request.user.has_perm("oversight.export_evidence"):
            raise PermissionDenied("oversight.export_evidence")  # audited by DeniedAuditMiddleware
        incoming = ExportSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        try:
            result = evidence_export(
                actor=acting_user(request),
                alert_ids=data["alerts"],
                purpose=data["purpose"],
                unmasked=data["unmasked"],
                involved=data["involved"],
            )
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from exc
        except DjangoValidationError as exc:
            raise django_errors_to_drf(exc) from exc
        response = HttpResponse(result.data, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{result.filename}"'
        return response


class EventSearchSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """A purpose-gated search of past alerts (JSON, or multipart with a photo)."""

    purpose = serializers.CharField(max_length=300)
    start = serializers.DateTimeField(required=False, allow_null=True, default=None)
    end = serializers.DateTimeField(required=False, allow_null=True, default=None)
    venue = serializers.UUIDField(required=False, allow_null=True, default=None)
    camera = serializers.UUIDField(required=False, allow_null=True, default=None)
    kind = serializers.ChoiceField(choices=Alert.Kind.choices, required=False, allow_blank=True, default="")
    status = serializers.ChoiceField(choices=Alert.Status.choices, required=False, allow_blank=True, default="")
    review = serializers.ChoiceField(choices=Alert.Review.choices, required=False, allow_blank=True, default="")
    subject = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    watchlist = serializers.UUIDField(required=False, allow_null=True, default=None)
    photo = serializers.FileField(required=False, allow_null=True, default=None, validators=[validate_image_upload])


class EventSearchView(APIView):
    """POST a search; the answer lists the alerts found (ids, where, when, status; no faces, no names)."""

    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser, MultiPartParser]  # a search by photo comes as multipart
    serializer_class = EventSearchSerializer

    @extend_schema(request=EventSearchSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        if not request.user.has_perm("oversight.search_events"):
            raise PermissionDenied("oversight.search_events")  # audited by DeniedAuditMiddleware
        incoming = EventSearchSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        photo = data.pop("photo")
        query = SearchQuery(**data, photo=photo.read() if photo is not None else None)
        try:
            result = event_search(user=acting_user(request), query=query)
        except DjangoValidationError as exc:
            raise django_errors_to_drf(exc) from exc
        rows = [
            {
                "id": str(alert.pk),
                "kind": alert.kind,
                "raised_at": alert.raised_at.isoformat(),
                "venue": alert.venue.name,
                "camera": alert.camera.name,
                "status": alert.status,
                "review": alert.review,
                "similarity": result.similarity.get(alert.pk),
                "url": reverse("alert-detail-page", args=[alert.pk]),
            }
            for alert in result.alerts
        ]
        return Response({"count": result.total, "faces_in_photo": result.faces_in_photo, "results": rows})
