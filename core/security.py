"""Security gates shared by the whole site: upload checks, login throttling, two-factor enforcement,
security headers, and the audit record of every denied request.
"""

from __future__ import annotations

import io
import logging
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.defaultfilters import filesizeformat
from django.urls import Resolver404, resolve, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from PIL import Image

from audit import context
from audit.middleware import client_ip
from audit.models import AccessEvent
from audit.services import access_record, user_role
from core.redis import login_failures_key

logger = logging.getLogger(__name__)

# --- uploads: content, size and pixel count ---------------------------------------------------------

_MAGIC = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
)
_FORMAT_SUFFIXES = {"jpeg": {".jpg", ".jpeg"}, "png": {".png"}, "webp": {".webp"}}
_FORMAT_TYPES = {"jpeg": {"image/jpeg", "image/jpg", "image/pjpeg"}, "png": {"image/png"}, "webp": {"image/webp"}}
_PIL_FORMATS = {"JPEG": "jpeg", "PNG": "png", "WEBP": "webp"}


class UploadRejected(ValueError):
    """An upload that is not an acceptable image; `code` is stable, `message` is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class CheckedImage:
    """What the validator found: the sniffed format and the pixel size."""

    format: str
    width: int
    height: int


def _sniff(data: bytes) -> str | None:
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def _check_declared(kind: str, filename: str, content_type: str | None) -> None:
    suffix = ("." + filename.rsplit(".", 1)[-1].lower()) if "." in filename else ""
    if suffix and suffix not in _FORMAT_SUFFIXES[kind]:
        raise UploadRejected(
            "extension_mismatch",
            _("The file is named %(suffix)s but its content is %(kind)s.") % {"suffix": suffix, "kind": kind.upper()},
        )
    declared = (content_type or "").split(";")[0].strip().lower()
    if declared and declared != "application/octet-stream" and declared not in _FORMAT_TYPES[kind]:
        raise UploadRejected(
            "content_type_mismatch",
            _("The file was sent as %(type)s but its content is %(kind)s.") % {"type": declared, "kind": kind.upper()},
        )


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:.1f}".removesuffix(".0")


def image_upload_check(
    *,
    data: bytes,
    filename: str = "",
    content_type: str | None = None,
    max_bytes: int | None = None,
    max_pixels: int | None = None,
) -> CheckedImage:
    """Accept only a complete JPEG, PNG or WebP whose content matches its name and type, within
    CC_MAX_UPLOAD_BYTES and CC_MAX_IMAGE_PIXELS (checked from the header before any decoding)."""
    max_bytes = max_bytes or settings.CC_MAX_UPLOAD_BYTES
    max_pixels = max_pixels or settings.CC_MAX_IMAGE_PIXELS
    if not data:
        raise UploadRejected("empty", _("The file is empty."))
    if len(data) > max_bytes:
        raise UploadRejected(
            "too_large",
            _("The file is %(size)s; the limit is %(limit)s.")
            % {"size": filesizeformat(len(data)), "limit": filesizeformat(max_bytes)},
        )
    kind = _sniff(data)
    if kind is None:
        raise UploadRejected("unsupported_format", _("The file is not a JPEG, PNG or WebP image."))
    _check_declared(kind, filename, content_type)
    width, height = _header_size(data, kind)
    if width * height > max_pixels:
        raise UploadRejected(
            "too_many_pixels",
            _("The image is %(w)d x %(h)d pixels (%(n)s megapixels); the limit is %(limit)s megapixels.")
            % {"w": width, "h": height, "n": _megapixels(width * height), "limit": _megapixels(max_pixels)},
        )
    _decode_fully(data)
    return CheckedImage(format=kind, width=width, height=height)


def _header_size(data: bytes, kind: str) -> tuple[int, int]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(_PIL_FORMATS))
            width, height = image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UploadRejected(
            "too_many_pixels", _("The image has too many pixels to be decoded safely (%(error)s).") % {"error": exc}
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise UploadRejected("corrupt", _("The image header cannot be read: %(error)s") % {"error": exc}) from exc
    if _PIL_FORMATS.get(image.format or "") != kind:
        raise UploadRejected("corrupt", _("The image content does not match its signature."))
    return width, height


def _decode_fully(data: bytes) -> None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
    except Image.DecompressionBombError as exc:
        raise UploadRejected("too_many_pixels", _("The image has too many pixels to be decoded safely.")) from exc
    except (OSError, EOFError) as exc:
        if "truncated" in str(exc) or isinstance(exc, EOFError):
            raise UploadRejected(
                "truncated", _("The image is truncated (the file ends before the picture does).")
            ) from exc
        raise UploadRejected("corrupt", _("The image cannot be decoded: %(error)s") % {"error": exc}) from exc
    except (SyntaxError, ValueError) as exc:
        raise UploadRejected("corrupt", _("The image cannot be decoded: %(error)s") % {"error": exc}) from exc


def validate_image_upload(upload: Any) -> None:
    """Django/DRF field validator for an UploadedFile: raises ValidationError with the precise reason."""
    if upload.size is not None and upload.size > settings.CC_MAX_UPLOAD_BYTES:
        raise ValidationError(
            _("The file is %(size)s; the limit is %(limit)s.")
            % {"size": filesizeformat(upload.size), "limit": filesizeformat(settings.CC_MAX_UPLOAD_BYTES)},
            code="too_large",
        )
    upload.seek(0)
    data = upload.read()
    upload.seek(0)
    try:
        image_upload_check(data=data, filename=upload.name or "", content_type=getattr(upload, "content_type", None))
    except UploadRejected as exc:
        raise ValidationError(exc.message, code=exc.code) from exc


# --- recorded footage: a video the decoder reads, kept only while its job runs ------------------------

VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm", ".h264", ".264", ".h265", ".265", ".hevc"}
MAX_VIDEO_BYTES = 2 * 1024**3


def video_upload_store(upload: Any) -> Path:
    """Write an uploaded video under CC_JOB_UPLOAD_DIR (a random name); UploadRejected when it is not one."""
    suffix = Path(upload.name or "").suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise UploadRejected("not_a_video", f"Files of type {suffix or '(none)'} are not videos we read.")
    if upload.size > MAX_VIDEO_BYTES:
        raise UploadRejected("too_large", "The video is larger than 2 GB; cut it into parts.")
    folder = Path(settings.CC_JOB_UPLOAD_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{uuid.uuid4().hex}{suffix}"
    with target.open("wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    if not _video_readable(target):
        target.unlink(missing_ok=True)
        raise UploadRejected("corrupt", "The file cannot be decoded as video (corrupt or unsupported).")
    return target


def _video_readable(path: Path) -> bool:
    import cv2  # OpenCV only when a video is uploaded, not in every process that checks a sign-in

    capture = cv2.VideoCapture(str(path))
    try:
        ok, _ = capture.read()
        return bool(ok)
    finally:
        capture.release()


# --- login throttling: failures per username + address, lockout, audited ------------------------------


def login_locked(*, username: str, ip: str | None) -> bool:
    """Whether this username may not sign in from this address right now."""
    return int(cache.get(login_failures_key(username, ip), 0)) >= settings.CC_LOGIN_MAX_FAILURES


def login_failure_register(*, username: str, ip: str | None) -> int:
    """Count one failure; the N-th locks username + address for CC_LOGIN_LOCKOUT_S (audited)."""
    key = login_failures_key(username, ip)
    cache.add(key, 0, timeout=settings.CC_LOGIN_LOCKOUT_S)
    failures = cache.incr(key)
    if failures == settings.CC_LOGIN_MAX_FAILURES:
        cache.touch(key, timeout=settings.CC_LOGIN_LOCKOUT_S)
        logger.warning("login locked for %s from %s after %s failures", username[:150], ip, failures)
        access_record(
            user=None,
            username=username[:150],
            action=AccessEvent.Action.LOCKOUT,
            object_type="auth",
            detail={"failures": failures, "lockout_s": settings.CC_LOGIN_LOCKOUT_S},
        )
    return int(failures)


def login_throttle_reset(*, username: str, ip: str | None) -> None:
    """Forget the failures after a successful sign-in."""
    cache.delete(login_failures_key(username, ip))


def lockout_message() -> str:
    return _("Too many failed sign-in attempts. Try again in %(minutes)d minutes.") % {
        "minutes": max(1, settings.CC_LOGIN_LOCKOUT_S // 60)
    }


class ThrottledModelBackend(ModelBackend):
    """ModelBackend that refuses (without checking the password) a locked username + address, on
    every sign-in path (our login page, admin, anything calling `authenticate`)."""

    def authenticate(  # type: ignore[override]
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> AbstractBaseUser | None:
        name = username or kwargs.get("username") or ""
        if name and login_locked(username=name, ip=client_ip(request) if request else None):
            raise PermissionDenied(lockout_message())
        return super().authenticate(request, username=username, password=password, **kwargs)


# --- two-factor authentication for the roles that need it -----------------------------------------


def two_factor_roles() -> frozenset[str]:
    """The roles that need a second factor (CC_REQUIRE_2FA_FOR, parsed and checked once by the settings)."""
    return frozenset(settings.CC_2FA_ROLE_SET)


def two_factor_required(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Whether the user's role needs a verified second factor (superusers count as admins)."""
    if not user.is_authenticated:
        return False
    roles = two_factor_roles()
    if getattr(user, "is_superuser", False) and "admin" in roles:
        return True
    return bool(user.groups.filter(name__in=roles).exists())  # type: ignore[attr-defined]


_TWO_FACTOR_OPEN = {"login", "logout", "otp-verify", "otp-setup", "healthz", "language-set", "set_language"}


class TwoFactorMiddleware:
    """After the password, the roles in CC_REQUIRE_2FA_FOR (admins, auditors, authorisers) reach nothing but the
    2FA pages until verified."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            and not user.is_verified()  # type: ignore[attr-defined]
            and not self._open(request)
            and two_factor_required(user)
        ):
            return self._refuse(request)
        return self.get_response(request)

    def _open(self, request: HttpRequest) -> bool:
        if request.path_info.startswith(settings.STATIC_URL):
            return True
        try:
            return resolve(request.path_info).url_name in _TWO_FACTOR_OPEN
        except Resolver404:
            return False

    def _refuse(self, request: HttpRequest) -> HttpResponse:
        access_record(
            user=request.user,
            action=AccessEvent.Action.DENIED,
            object_type="page",
            detail={"method": request.method, "path": request.path[:200], "reason": "second_factor_required"},
        )
        if request.path_info.startswith("/api/"):
            return JsonResponse({"detail": _("Two-factor verification required.")}, status=403)
        return HttpResponseRedirect(f"{reverse('otp-verify')}?{urlencode({'next': request.get_full_path()})}")


# --- security headers ------------------------------------------------------------------------------------


class SecurityHeadersMiddleware:
    """Content-Security-Policy (self only), Permissions-Policy and cross-origin isolation headers."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.CC_CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        if request.user.is_authenticated if hasattr(request, "user") else False:
            response.headers.setdefault("Cache-Control", "private, no-store")
        return response


# --- every denied request leaves an audit record --------------------------------------------------------


class DeniedAuditMiddleware:
    """Record a DENIED row for a signed-in user's 403 (or redirect to a sign-in page) unless the
    selector or permission class that refused it already wrote one."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = context.denials_reset()
        try:
            response = self.get_response(request)
            if self._denied(request, response) and not context.denial_recorded():
                access_record(
                    user=request.user,
                    action=AccessEvent.Action.DENIED,
                    object_type="page",
                    detail={
                        "method": request.method,
                        "path": request.path[:200],
                        "status": response.status_code,
                        "role": user_role(request.user),
                    },
                )
            return response
        finally:
            context.denials_restore(token)

    def _denied(self, request: HttpRequest, response: HttpResponse) -> bool:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return False
        if response.status_code == 403:
            return True
        if response.status_code not in (301, 302) or request.path in (reverse("login"), reverse("logout")):
            return False
        location = urlsplit(response.headers.get("Location", "")).path
        return location in (reverse("login"), reverse("admin:login"))
