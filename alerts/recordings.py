"""Recorded footage: investigators upload a video and get the same analysis as live cameras (background job)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from django.core.cache import cache
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from audit.models import AccessEvent
from audit.services import access_record
from core.jobs import job_status, job_submit
from core.redis import recording_owner_key
from core.security import UploadRejected, video_upload_store

logger = logging.getLogger(__name__)


class RecordingUploadSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """A video file and the purpose (case reference) of analysing it."""

    video = serializers.FileField()
    purpose = serializers.CharField(max_length=300)
    fps = serializers.FloatField(min_value=0.5, max_value=15.0, default=5.0)


def _store(upload: Any) -> Path:
    """Keep the uploaded video for its job; a 400 with the reason when it is not one we read."""
    try:
        return video_upload_store(upload)
    except UploadRejected as exc:
        raise serializers.ValidationError({"video": [exc.message]}) from exc


def visible_result(result: dict[str, Any], user: Any) -> dict[str, Any]:
    """Face matches are shown only to users who may see watchlist subjects."""
    if user.has_perm("watchlists.view_subject"):
        return result
    detections = [d for d in result.get("detections", []) if d.get("kind") != "face_match"]
    return {**result, "detections": detections}


class RecordingViewSet(viewsets.ViewSet):
    """`POST /api/recordings/` (multipart video + purpose) starts a job; `GET /api/recordings/<job>/` polls it."""

    parser_classes = [MultiPartParser]
    serializer_class = RecordingUploadSerializer

    def get_permissions(self):  # type: ignore[no-untyped-def]
        return [permissions.IsAuthenticated()]

    def _allowed(self, request: Request) -> bool:
        user = request.user
        return bool(
            (user.has_perm("alerts.view_alert") and user.has_perm("alerts.act_on_alert"))
            or user.has_perm("watchlists.check_photo")
        )

    @extend_schema(
        responses={
            202: inline_serializer(
                "RecordingJob", {"job": serializers.CharField(), "status_url": serializers.CharField()}
            )
        }
    )
    def create(self, request: Request) -> Response:
        if not self._allowed(request):
            access_record(user=request.user, action=AccessEvent.Action.DENIED, object_type="recording")
            return Response({"detail": "Your role cannot analyse recordings."}, status=status.HTTP_403_FORBIDDEN)
        params = RecordingUploadSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        path = _store(params.validated_data["video"])
        job_id = job_submit(path=path, fps=params.validated_data["fps"])
        cache.set(recording_owner_key(job_id), request.user.pk, timeout=7 * 86400)
        access_record(
            user=request.user,
            action=AccessEvent.Action.SEARCH,
            object_type="recording",
            object_id=job_id,
            purpose=params.validated_data["purpose"],
            detail={"file": params.validated_data["video"].name[:200]},
        )
        return Response({"job": job_id, "status_url": f"/api/recordings/{job_id}/"}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        parameters=[OpenApiParameter("id", str, OpenApiParameter.PATH, description="job id")],
        responses={200: dict},
    )
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        state = job_status(str(pk))
        if state is None or cache.get(recording_owner_key(str(pk))) != request.user.pk:
            return Response({"detail": "No such job."}, status=status.HTTP_404_NOT_FOUND)
        if state.get("result"):
            state = {**state, "result": visible_result(state["result"], request.user)}
            access_record(user=request.user, action=AccessEvent.Action.VIEW, object_type="recording", object_id=pk)
        return Response(state)
