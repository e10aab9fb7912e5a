"""REST API for watchlists and subjects; every subject read is audited."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from commandcenter.api import ServiceModelViewSet
from watchlists import selectors, services
from watchlists.models import Subject, Watchlist


class WatchlistSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    """A watchlist."""

    match_threshold = serializers.FloatField(min_value=0.0, max_value=1.0, required=False)

    class Meta:
        model = Watchlist
        fields = ["id", "name", "category", "legal_basis", "owner", "match_threshold",
                  "requires_second_confirmation", "active", "created_at", "updated_at"]
        read_only_fields = ["id", "owner", "created_at", "updated_at"]

    def validate_match_threshold(self, value: float) -> float:
        try:
            services.check_threshold(value)
        except Exception as exc:
            raise serializers.ValidationError(str(exc.message_dict["match_threshold"][0])) from exc  # type: ignore[attr-defined]
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is None:
            attrs.setdefault("match_threshold", services.watchlist_default_threshold())
            attrs["owner"] = self.context["request"].user
            if "requires_second_confirmation" not in self.initial_data:
                attrs["requires_second_confirmation"] = attrs.get("category") == Watchlist.Category.WANTED
        return attrs


class SubjectSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    """A subject; expiry is required."""

    templates = serializers.SerializerMethodField()

    class Meta:
        model = Subject
        fields = ["id", "watchlist", "display_name", "reference_number", "notes", "legal_basis_reference",
                  "image_source", "added_by", "expires_at", "status", "templates", "created_at", "updated_at"]
        read_only_fields = ["id", "added_by", "templates", "created_at", "updated_at"]
        extra_kwargs = {"expires_at": {"required": True, "allow_null": False}}

    def get_templates(self, subject: Subject) -> list[dict[str, Any]]:
        return [
            {"id": str(t.pk), "model_name": t.model_name, "quality_score": t.quality_score}
            for t in subject.templates.all()
        ]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is None:
            attrs["added_by"] = self.context["request"].user
        return attrs


class WatchlistViewSet(ServiceModelViewSet):
    """Watchlists."""

    serializer_class = WatchlistSerializer
    queryset = Watchlist.objects.select_related("owner").order_by("name")
    save_service = services.watchlist_save
    save_kwarg = "watchlist"
    delete_service = services.object_delete
    filterset_fields = ["category", "active"]
    search_fields = ["name"]


class SubjectViewSet(ServiceModelViewSet):
    """Subjects; list and detail reads go through the audited selectors."""

    serializer_class = SubjectSerializer
    save_service = services.subject_save
    save_kwarg = "subject"
    delete_service = services.object_delete
    filterset_fields = ["watchlist", "status"]
    search_fields = ["display_name", "reference_number"]
    ordering_fields = ["display_name", "expires_at", "created_at"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return Subject.objects.select_related("watchlist").prefetch_related("templates").order_by("display_name")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        selectors.subject_list(user=request.user)
        response = super().list(request, *args, **kwargs)
        shown = [row["id"] for row in response.data.get("results", [])]
        selectors.subject_list_audit(user=request.user, subjects=Subject.objects.filter(pk__in=shown),
                                     purpose=request.query_params.get("purpose", ""),
                                     query=dict(request.query_params.items()))
        return response

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            subject = selectors.subject_get(user=request.user, subject_id=kwargs["pk"],
                                            purpose=request.query_params.get("purpose", ""))
        except (Subject.DoesNotExist, DjangoValidationError) as exc:
            raise NotFound() from exc
        return Response(self.get_serializer(subject).data)
