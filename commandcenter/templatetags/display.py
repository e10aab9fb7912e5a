"""Template filters that turn internal names into words people read (the audit log, object histories)."""

from __future__ import annotations

from typing import Any

from django import template
from django.apps import apps
from django.utils.translation import gettext as _

from alerts.models import Alert, AlertEvent

register = template.Library()


def _object_names() -> dict[str, str]:
    return {
        "alert": _("Alert"),
        "alerts.evidence": _("Evidence file"),
        "alerts.report": _("Alert report"),
        "alerts.delivery": _("CAD delivery"),
        "watchlists.subject": _("Watchlist subject"),
        "watchlists.facetemplate": _("Enrolled photo"),
        "watchlists.photo_check": _("Photo check"),
        "watchlists.facemodelswitch": _("Face model switch"),
        "otp_totp.totpdevice": _("Authenticator app (second factor)"),
        "auth": _("Sign-in"),
        "auth.user": _("User account"),
        "api": _("API request"),
        "api.token": _("API token"),
        "page": _("Page"),
        "camera": _("Camera live view"),
        "venues.camera": _("Camera"),
        "recording": _("Recorded footage analysis"),
        "recording_upload": _("Recorded footage upload"),
        "audit.accessevent": _("Audit log"),
    }


@register.filter
def object_label(object_type: str) -> str:
    """'watchlists.photo_check' -> 'Photo check'; a model label -> its verbose name; else the name unchanged."""
    known = _object_names().get(object_type)
    if known:
        return known
    if object_type.count(".") == 1:
        try:
            return str(apps.get_model(object_type)._meta.verbose_name).capitalize()
        except (LookupError, ValueError):
            pass
    return object_type.replace("_", " ")


def _detail_keys() -> dict[str, str]:
    return {
        "changed": _("Changed fields"),
        "shown": _("Shown"),
        "alerts": _("Alerts"),
        "action": _("Action"),
        "permission": _("Permission"),
        "reason": _("Reason"),
        "kind": _("Kind"),
        "camera": _("Camera"),
        "to": _("Sent to"),
        "revision": _("Revision"),
        "outcome": _("Outcome"),
        "review": _("Review"),
        "note": _("Note"),
        "faces": _("Faces"),
        "candidates": _("Candidates"),
        "source": _("Source"),
        "method": _("Method"),
        "filter": _("Filter"),
        "factor": _("Second factor"),
        "groups": _("Roles"),
        "count": _("Count"),
        "status": _("Status"),
        "unit": _("Unit"),
        "query": _("Search"),
        "purpose": _("Purpose"),
    }


def _value(key: str, value: Any) -> str:
    labels = {**dict(AlertEvent.Action.choices), **dict(Alert.Outcome.choices), **dict(Alert.Review.choices)}
    if isinstance(value, list):
        if key in {"shown", "alerts", "candidates"}:
            return _("%(count)d item(s)") % {"count": len(value)}
        return ", ".join(str(labels.get(str(item), item)).replace("_", " ") for item in value) or "-"
    if isinstance(value, dict):
        return "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in value.items()) or "-"
    if key in {"action", "outcome", "review"} and str(value) in labels:
        return str(labels[str(value)])
    return str(value)


@register.filter
def detail_items(detail: Any) -> list[tuple[str, str]]:
    """An audit row's detail as (label, value) pairs in words: changed fields listed, no raw dicts."""
    if not isinstance(detail, dict):
        return [("", str(detail))] if detail else []
    keys = _detail_keys()
    return [
        (keys.get(key, key.replace("_", " ").capitalize()), _value(key, value))
        for key, value in detail.items()
        if value not in ("", None, [], {})
    ]


# each language named in itself, so a reader finds their own whatever the page's language is
OWN_LANGUAGE_NAMES = {"en": "English", "ru": "Русский", "kk": "Қазақша"}


@register.filter
def own_language_name(code: str) -> str:
    """'kk' -> 'Қазақша' in every interface language."""
    return OWN_LANGUAGE_NAMES.get(code, code)


@register.filter
def role_label(role: str) -> str:
    """'dispatcher' -> 'Dispatcher' in the reader's language (several roles: comma-separated)."""
    names = {
        "dispatcher": _("Dispatcher"),
        "supervisor": _("Supervisor"),
        "admin": _("Administrator"),
        "auditor": _("Auditor"),
        "authoriser": _("Authoriser"),
        "superuser": _("Superuser"),
        "anonymous": _("not signed in"),
    }
    return ", ".join(names.get(part.strip(), part.strip()) for part in role.split(",") if part.strip())
