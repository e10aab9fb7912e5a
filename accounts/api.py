"""`POST /api/token/`: an API token for scripts; roles that need 2FA must give a current one-time code."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.core.exceptions import PermissionDenied
from django_otp import match_token
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import permissions, serializers, status, views
from rest_framework.authtoken.models import Token
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from audit.models import AccessEvent
from audit.services import access_record
from core.api_schema import ErrorSerializer
from core.security import two_factor_required


class TokenRequestSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """Credentials for a token."""

    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, trim_whitespace=False)
    otp = serializers.CharField(max_length=16, required=False, allow_blank=True)


class TokenView(views.APIView):
    """Exchange username + password (+ TOTP code for admins and auditors) for an API token."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list[type] = []
    parser_classes = [JSONParser, FormParser]  # `curl -d username=...` works too
    serializer_class = TokenRequestSerializer
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"

    @extend_schema(
        request=TokenRequestSerializer,
        responses={200: inline_serializer("ApiToken", {"token": serializers.CharField()}), 403: ErrorSerializer},
    )
    def post(self, request: Request) -> Response:
        params = TokenRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            user = authenticate(
                request._request, username=params.validated_data["username"], password=params.validated_data["password"]
            )
        except PermissionDenied as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_403_FORBIDDEN)
        if user is None:
            return Response({"detail": "Wrong username or password."}, status=status.HTTP_400_BAD_REQUEST)
        code = params.validated_data.get("otp", "").strip()
        if two_factor_required(user) and (not code or match_token(user, code) is None):
            access_record(
                user=user,
                action=AccessEvent.Action.LOGIN_FAILED,
                object_type="api.token",
                detail={"reason": "one-time code missing or wrong"},
            )
            return Response(
                {"detail": "Your role needs a current one-time code in `otp`."}, status=status.HTTP_400_BAD_REQUEST
            )
        token, _ = Token.objects.get_or_create(user=user)
        access_record(user=user, action=AccessEvent.Action.LOGIN, object_type="api.token")
        return Response({"token": token.key})
