"""REST API for watchlists and subjects; every subject read is audited."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import MinValueValidator
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from audit.services import access_record
from core.api import ModelSerializer, ServiceModelViewSet, acting_user
from watchlists import selectors, services
from watchlists.enrolment import EnrolmentError, subject_enroll_photo
from watchlists.identify import photo_check
from watchlists.models import Subject, Watchlist


class ThresholdFloor(MinValueValidator):
    """The system floor, published as the schema's minimum; the refusal names it (`check_threshold`)."""

    def __call__(self, value: Any) -> None:
        try:
            services.check_threshold(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict["match_threshold"]) from exc


class WatchlistSerializer(ModelSerializer):
    """A watchlist."""

    match_threshold = serializers.FloatField(
        max_value=1.0, required=False, validators=[ThresholdFloor(float(settings.CC_FACE_THRESHOLD_FLOOR))]
    )

    class Meta:
        model = Watchlist
        fields = [
            "id",
            "name",
            "category",
            "legal_basis",
            "owner",
            "match_threshold",
            "requires_second_confirmation",
            "active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "owner", "created_at", "updated_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is None:
            attrs.setdefault("match_threshold", services.watchlist_default_threshold())
            attrs["owner"] = self.context["request"].user
            if "requires_second_confirmation" not in self.initial_data:
                attrs["requires_second_confirmation"] = attrs.get("category") == Watchlist.Category.WANTED
        return attrs


class SubjectSerializer(ModelSerializer):
    """A subject; expiry is required."""

    templates = serializers.SerializerMethodField()

    class Meta:
        model = Subject
        fields = [
            "id",
            "watchlist",
            "display_name",
            "reference_number",
            "notes",
            "legal_basis_reference",
            "image_source",
            "added_by",
            "expires_at",
            "status",
            "templates",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "added_by", "templates", "created_at", "updated_at"]
        extra_kwargs = {"expires_at": {"required": True, "allow_null": False}}

    def get_templates(self, subject: Subject) -> list[dict[str, Any]]:
        return [
            {
                "id": str(t.pk),
                "models": sorted(e.model_name for e in t.embeddings.all()),
                "quality_score": t.quality_score,
                "quality_warnings": t.quality_warnings,
            }
            for t in subject.templates.all()
        ]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is None:
            attrs["added_by"] = self.context["request"].user
        return attrs


class PhotoUploadSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """A photo to enrol; `choose` picks a face (0-based, largest first) when there are several."""

    photo = serializers.FileField()
    choose = serializers.IntegerField(required=False, min_value=0, max_value=50)


ENROLLED_TEMPLATE = inline_serializer(
    "EnrolledTemplate",
    {
        "id": serializers.UUIDField(),
        "quality_score": serializers.FloatField(),
        "box": serializers.DictField(help_text="Face box in the source photo: x, y, w, h pixels."),
        "models": serializers.ListField(child=serializers.CharField()),
        "quality_warnings": serializers.ListField(),
    },
)


class EnrolPhotoMixin:
    """`POST /api/subjects/<id>/photos/` (multipart) adds a face template to a subject."""

    @extend_schema(request=PhotoUploadSerializer, responses={201: ENROLLED_TEMPLATE})
    @action(
        detail=True,
        methods=["post"],
        url_path="photos",
        parser_classes=[MultiPartParser],
        serializer_class=PhotoUploadSerializer,
    )
    def photos(self, request: Request, pk: str | None = None) -> Response:
        if not request.user.has_perm("watchlists.add_facetemplate"):
            access_record(
                user=request.user,
                action="denied",
                object_type="watchlists.facetemplate",
                detail={"permission": "watchlists.add_facetemplate"},
            )
            return Response({"detail": "Your role cannot enrol photos."}, status=status.HTTP_403_FORBIDDEN)
        subject = self.get_object()  # type: ignore[attr-defined]
        upload = PhotoUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        photo = upload.validated_data["photo"]
        try:
            template = subject_enroll_photo(
                subject=subject,
                data=photo.read(),
                filename=photo.name,
                actor=acting_user(request),
                choose=upload.validated_data.get("choose"),
            )
        except EnrolmentError as exc:
            return Response(exc.as_dict(), status=status.HTTP_400_BAD_REQUEST)
        return Response(
            {
                "id": str(template.pk),
                "quality_score": template.quality_score,
                "box": template.box,
                "models": sorted(template.embeddings.values_list("model_name", flat=True)),
                "quality_warnings": template.quality_warnings,
            },
            status=status.HTTP_201_CREATED,
        )


class PhotoCheckSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """A photo to check against the watchlists, with the purpose of the search."""

    photo = serializers.FileField()
    purpose = serializers.CharField(max_length=300)


class PhotoCheckViewSet(viewsets.ViewSet):
    """`POST /api/photo-checks/`: faces in a photo and their candidates; the search is audited."""

    parser_classes = [MultiPartParser]
    serializer_class = PhotoCheckSerializer

    def get_permissions(self):  # type: ignore[no-untyped-def]
        return [permissions.IsAuthenticated()]

    @extend_schema(
        request=PhotoCheckSerializer,
        responses={
            200: inline_serializer("PhotoCheckResult", {"faces": serializers.ListField(child=serializers.DictField())})
        },
    )
    def create(self, request: Request) -> Response:
        if not request.user.has_perm("watchlists.check_photo"):
            access_record(
                user=request.user,
                action="denied",
                object_type="watchlists.photo_check",
                detail={"permission": "watchlists.check_photo"},
            )
            return Response({"detail": "Your role cannot check photos."}, status=status.HTTP_403_FORBIDDEN)
        params = PhotoCheckSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            faces = photo_check(
                user=request.user, data=params.validated_data["photo"].read(), purpose=params.validated_data["purpose"]
            )
        except EnrolmentError as exc:
            return Response(exc.as_dict(), status=status.HTTP_400_BAD_REQUEST)
        return Response({"faces": faces})


class WatchlistViewSet(ServiceModelViewSet):
    """Watchlists."""

    serializer_class = WatchlistSerializer
    queryset = Watchlist.objects.select_related("owner").order_by("name")
    save_service = services.watchlist_save
    save_kwarg = "watchlist"
    delete_service = services.object_delete
    filterset_fields = ["category", "active"]
    search_fields = ["name"]


class SubjectViewSet(EnrolPhotoMixin, ServiceModelViewSet):
    """Subjects; list and detail reads go through the audited selectors."""

    serializer_class = SubjectSerializer
    save_service = services.subject_save
    save_kwarg = "subject"
    delete_service = services.object_delete
    filterset_fields = ["watchlist", "status"]
    search_fields = ["display_name", "reference_number"]
    ordering_fields = ["display_name", "expires_at", "created_at"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return (
            Subject.objects.select_related("watchlist")
            .prefetch_related("templates__embeddings")
            .order_by("display_name")
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        selectors.subject_list(user=request.user)
        response = super().list(request, *args, **kwargs)
        shown = [row["id"] for row in response.data.get("results", [])]
        selectors.subject_list_audit(
            user=request.user,
            subjects=Subject.objects.filter(pk__in=shown),
            purpose=request.query_params.get("purpose", ""),
            query=dict(request.query_params.items()),
        )
        return response

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            subject = selectors.subject_get(
                user=request.user, subject_id=kwargs["pk"], purpose=request.query_params.get("purpose", "")
            )
        except (Subject.DoesNotExist, DjangoValidationError) as exc:
            raise NotFound() from exc
        return Response(self.get_serializer(subject).data)
