"""REST API for venues, cameras and zones, scoped to the venues the user may see."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import ModelSerializer, ServiceModelViewSet, acting_user
from core.jobs import calibration_submit
from core.security import UploadRejected, video_upload_store
from venues import services
from venues.models import Camera, Venue, Zone
from venues.selectors import calibration_job_get, calibration_job_remember, cameras_for, venues_for
from venues.validators import STREAM_URL_PATTERN, validate_polygon


class VenueSerializer(ModelSerializer):
    """A venue."""

    class Meta:
        model = Venue
        fields = [
            "id",
            "name",
            "kind",
            "address",
            "district",
            "latitude",
            "longitude",
            "capacity",
            "active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        lat = attrs.get("latitude", getattr(self.instance, "latitude", None))
        lon = attrs.get("longitude", getattr(self.instance, "longitude", None))
        if (lat is None) != (lon is None):
            raise serializers.ValidationError({"longitude": "Give both latitude and longitude, or neither."})
        return attrs


class CameraSerializer(ModelSerializer):
    """A camera with its analysis settings; health fields are read-only."""

    class Meta:
        model = Camera
        fields = [
            "id",
            "venue",
            "name",
            "latitude",
            "longitude",
            "stream_url",
            "rtsp_transport",
            "loop_file",
            "enabled",
            "analysis_fps",
            "face_recognition_enabled",
            "crowd_enabled",
            "counting_view",
            "person_fps",
            "fight_enabled",
            "sensitivity",
            "min_duration_s",
            "cooldown_s",
            "offline_after_s",
            "only_when_open",
            "face_detector",
            "alert_budget_per_hour",
            "fight_threshold",
            "aggression_threshold",
            "incident_calibration",
            "incident_calibrated_at",
            "incident_calibrated_by",
            "health_state",
            "health_changed_at",
            "last_error",
            "health_stats",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "fight_threshold",
            "aggression_threshold",
            "incident_calibration",
            "incident_calibrated_at",
            "incident_calibrated_by",
            "health_state",
            "health_changed_at",
            "last_error",
            "health_stats",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"stream_url": {"validators": [STREAM_URL_PATTERN]}}

    def validate_venue(self, venue: Venue) -> Venue:
        if not venues_for(self.context["request"].user).filter(pk=venue.pk).exists():
            raise serializers.ValidationError("Unknown venue.")
        return venue

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        lat = attrs.get("latitude", getattr(self.instance, "latitude", None))
        lon = attrs.get("longitude", getattr(self.instance, "longitude", None))
        if (lat is None) != (lon is None):
            raise serializers.ValidationError({"longitude": "Give both latitude and longitude, or neither."})
        return attrs


class CalibrateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """Calibrate from the live scores of the last `hours`, or from an uploaded `video` (a background job)."""

    hours = serializers.FloatField(
        required=False,
        default=24.0,
        min_value=0.1,
        max_value=float(settings.CC_SCORE_HISTORY_HOURS),
        error_messages={"max_value": "At most {max_value} hours are kept (CC_SCORE_HISTORY_HOURS)."},
    )
    video = serializers.FileField(required=False)


@extend_schema_field(
    {
        "type": "array",
        "minItems": 3,
        "maxItems": 64,
        "items": {
            "type": "array",
            "minItems": 2,
            "maxItems": 2,
            "items": {"type": "number", "minimum": 0, "maximum": 1},
        },
        "description": "[x, y] points, fractions 0-1 of frame width and height; the polygon must have an area.",
    }
)
class PolygonField(serializers.JSONField):
    """A zone polygon (validated by `venues.validators.validate_polygon`)."""


class ZoneSerializer(ModelSerializer):
    """A zone polygon on a camera's frame."""

    polygon = PolygonField(validators=[validate_polygon])

    class Meta:
        model = Zone
        fields = [
            "id",
            "camera",
            "name",
            "polygon",
            "capacity",
            "gathering_rate_per_min",
            "exclude_from_fight",
            "enabled",
        ]
        read_only_fields = ["id"]

    def validate_camera(self, camera: Camera) -> Camera:
        if not cameras_for(self.context["request"].user).filter(pk=camera.pk).exists():
            raise serializers.ValidationError("Unknown camera.")
        return camera


class VenueViewSet(ServiceModelViewSet):
    """Venues: admins manage, operators read those in their scope."""

    serializer_class = VenueSerializer
    save_service = services.venue_save
    save_kwarg = "venue"
    delete_service = services.object_delete
    filterset_fields = ["kind", "district", "active"]
    search_fields = ["name", "address", "district"]
    ordering_fields = ["name", "district", "created_at"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return venues_for(self.request.user).order_by("name")


class CameraViewSet(ServiceModelViewSet):
    """Cameras with settings and health."""

    serializer_class = CameraSerializer
    save_service = services.camera_save
    save_kwarg = "camera"
    delete_service = services.object_delete
    filterset_fields = ["venue", "enabled", "health_state"]
    search_fields = ["name", "venue__name"]
    ordering_fields = ["name", "health_state", "created_at"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return cameras_for(self.request.user).order_by("venue__name", "name")

    @extend_schema(request=CalibrateSerializer, responses={200: dict, 202: dict, 409: dict})
    @action(detail=True, methods=["post"], parser_classes=[JSONParser, MultiPartParser])
    def calibrate(self, request: Request, pk: str | None = None) -> Response:
        """Fit the camera's fight and aggression thresholds to its false-alert budget (audited).

        JSON `{"hours": N}`: on its live scores of the last N hours (200 with the summary, 409 with the
        reason when too little footage or no threshold fits). Multipart `video`: on a recording of the
        camera, as a background job (202 with the URL to poll).
        """
        camera = self.get_object()
        params = CalibrateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        user = acting_user(request)
        video = params.validated_data.get("video")
        if video is not None:
            try:
                path = video_upload_store(video)
            except UploadRejected as exc:
                raise serializers.ValidationError({"video": [exc.message]}) from exc
            job_id = calibration_submit(camera_id=str(camera.pk), path=path, name=video.name[:200], user_id=user.pk)
            calibration_job_remember(job_id=job_id, user=user, camera=camera)
            status_url = f"/api/cameras/{camera.pk}/calibration/{job_id}/"
            return Response({"job": job_id, "status_url": status_url}, status=status.HTTP_202_ACCEPTED)
        try:
            summary = services.camera_calibrate_incidents(
                camera=camera, user=user, source="live", hours=params.validated_data["hours"]
            )
        except services.CalibrationError as exc:
            return Response({"detail": str(exc), "calibration": exc.summary}, status=status.HTTP_409_CONFLICT)
        return Response(summary)

    @extend_schema(
        parameters=[OpenApiParameter("job", str, OpenApiParameter.PATH, description="calibration job id")],
        responses={200: dict},
    )
    @action(detail=True, methods=["get"], url_path=r"calibration/(?P<job>[^/.]+)")
    def calibration(self, request: Request, pk: str | None = None, job: str = "") -> Response:
        """Progress and result of a calibration on a recording (only for the user who started it)."""
        camera = self.get_object()
        state = calibration_job_get(job_id=job, user=request.user, camera=camera)
        if state is None:
            return Response({"detail": "No such job."}, status=status.HTTP_404_NOT_FOUND)
        return Response(state)


class ZoneViewSet(ServiceModelViewSet):
    """Zones on cameras."""

    serializer_class = ZoneSerializer
    save_service = services.zone_save
    save_kwarg = "zone"
    delete_service = services.object_delete
    filterset_fields = ["camera", "enabled"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return Zone.objects.filter(camera__in=cameras_for(self.request.user)).order_by("camera", "name")
