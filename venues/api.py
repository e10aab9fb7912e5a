"""REST API for venues, cameras and zones, scoped to the venues the user may see."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.api import ServiceModelViewSet
from venues import services
from venues.models import Camera, Venue, Zone
from venues.selectors import cameras_for, venues_for


class VenueSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
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


class CameraSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    """A camera with its analysis settings; health fields are read-only."""

    class Meta:
        model = Camera
        fields = [
            "id",
            "venue",
            "name",
            "stream_url",
            "rtsp_transport",
            "loop_file",
            "enabled",
            "analysis_fps",
            "face_recognition_enabled",
            "crowd_enabled",
            "counting_view",
            "fight_enabled",
            "sensitivity",
            "min_duration_s",
            "cooldown_s",
            "offline_after_s",
            "only_when_open",
            "face_detector",
            "health_state",
            "health_changed_at",
            "last_error",
            "health_stats",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "health_state",
            "health_changed_at",
            "last_error",
            "health_stats",
            "created_at",
            "updated_at",
        ]

    def validate_venue(self, venue: Venue) -> Venue:
        if not venues_for(self.context["request"].user).filter(pk=venue.pk).exists():
            raise serializers.ValidationError("Unknown venue.")
        return venue


class ZoneSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    """A zone polygon on a camera's frame."""

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


class ZoneViewSet(ServiceModelViewSet):
    """Zones on cameras."""

    serializer_class = ZoneSerializer
    save_service = services.zone_save
    save_kwarg = "zone"
    delete_service = services.object_delete
    filterset_fields = ["camera", "enabled"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return Zone.objects.filter(camera__in=cameras_for(self.request.user)).order_by("camera", "name")
