"""Field validators for cameras and zones: URL schemes and polygons in frame coordinates."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

STREAM_SCHEMES = ("rtsp", "rtsps", "http", "https", "file")


def validate_stream_url(value: str) -> None:
    """Accept rtsp(s)://, http(s):// (MJPEG) and file:// URLs with a host or path."""
    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018 (a port out of range raises here)
    except ValueError as exc:
        message = _("The stream URL is malformed: %(reason)s.")
        raise ValidationError(message, code="malformed", params={"reason": exc}) from exc
    if parts.scheme not in STREAM_SCHEMES:
        raise ValidationError(
            _("Unsupported stream URL scheme %(scheme)r; use one of: %(allowed)s."),
            code="scheme",
            params={"scheme": parts.scheme or "(none)", "allowed": ", ".join(STREAM_SCHEMES)},
        )
    if parts.scheme == "file":
        if not parts.path or not parts.path.startswith("/"):
            raise ValidationError(_("A file:// URL needs an absolute path, e.g. file:///videos/gate.mp4."), code="path")
    elif not parts.hostname:
        raise ValidationError(_("The stream URL needs a host, e.g. rtsp://10.0.0.5:554/stream1."), code="host")


def validate_polygon(value: Any) -> None:
    """A polygon is 3-64 [x, y] points with 0 <= x, y <= 1 (fractions of frame width/height)."""
    if not isinstance(value, list) or len(value) < 3:
        raise ValidationError(_("A zone polygon needs at least 3 points."), code="too_few_points")
    if len(value) > 64:
        raise ValidationError(_("A zone polygon may have at most 64 points."), code="too_many_points")
    for index, point in enumerate(value):
        if (
            not isinstance(point, list | tuple)
            or len(point) != 2
            or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in point)
        ):
            raise ValidationError(
                _("Point %(index)s must be a pair of numbers [x, y]."), code="bad_point", params={"index": index + 1}
            )
        if not all(0.0 <= float(c) <= 1.0 for c in point):
            raise ValidationError(
                _("Point %(index)s lies outside the frame: coordinates are fractions from 0 to 1."),
                code="outside_frame",
                params={"index": index + 1},
            )
    if polygon_area(value) < 1e-4:
        raise ValidationError(_("The zone polygon has no area (its points are in a line)."), code="no_area")


def polygon_area(points: list[list[float]]) -> float:
    """Shoelace area of a polygon given as [x, y] pairs."""
    total = 0.0
    for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1], strict=True):
        total += x1 * y2 - x2 * y1
    return abs(total) / 2.0


class StreamUrlValidator(RegexValidator):
    """`validate_stream_url` (its precise messages first), then the pattern the API schema publishes."""

    def __call__(self, value: Any) -> None:
        validate_stream_url(value)
        super().__call__(value)


_H4 = "[0-9A-Fa-f]{1,4}"
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"  # no leading zero: ipaddress refuses one
_IPV4 = rf"(?:{_OCTET}\.){{3}}{_OCTET}"
# Every RFC 4291 text form of an IPv6 address: full, `::`-compressed anywhere, IPv4 in the last 32 bits.
_IPV6 = (
    "(?:"
    + "|".join(
        [
            f"(?:{_H4}:){{7}}{_H4}",
            f"(?:{_H4}:){{1,7}}:",
            *(f"(?:{_H4}:){{1,{6 - k}}}(?::{_H4}){{1,{k + 1}}}" for k in range(6)),
            f":(?:(?::{_H4}){{1,7}}|:)",
            f"(?:{_H4}:){{6}}{_IPV4}",
            *(f"(?:{_H4}:){{{b}}}:(?:{_H4}:){{{a}}}{_IPV4}" for b in range(1, 6) for a in range(6 - b)),
            f"::(?:{_H4}:){{0,5}}{_IPV4}",
        ]
    )
    + ")"
)

# The same rule as `validate_stream_url`, as a pattern the API schema publishes: a scheme, then a host
# (name, IPv4 or any [IPv6] form, optional user:password@ (the password may hold an @) and :port) or, for
# file://, an absolute path.
STREAM_URL_PATTERN = StreamUrlValidator(
    r"^(?:(?:rtsps?|https?)://(?:[A-Za-z0-9._~%!$&'()*+,;=:@-]+@)?(?:[A-Za-z0-9._~%-]+|\[" + _IPV6 + r"\])"
    r"(?::(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?"
    r"(?:[/?#][^\s\x00]*)?|file:///[^\s\x00]*)$",
    message=_("Unsupported stream URL; use rtsp(s)://host/..., http(s)://host/... or file:///path."),
    code="scheme",
)
