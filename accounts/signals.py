"""Sign-in, sign-out and failed sign-in go to the access log (auth signals are the only hook
Django offers for every sign-in path); failures also feed the login throttle."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from audit.middleware import client_ip
from audit.models import AccessEvent
from audit.services import access_record
from core.security import login_failure_register, login_locked, login_throttle_reset

logger = logging.getLogger(__name__)


@receiver(user_logged_in, dispatch_uid="audit_login")
def on_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    ip = client_ip(request) if request is not None else None
    login_throttle_reset(username=user.get_username(), ip=ip)
    access_record(user=user, action=AccessEvent.Action.LOGIN, object_type="auth", detail={"factor": "password"})


@receiver(user_logged_out, dispatch_uid="audit_logout")
def on_logout(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if user is not None:
        access_record(user=user, action=AccessEvent.Action.LOGOUT, object_type="auth")


@receiver(user_login_failed, dispatch_uid="audit_login_failed")
def on_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    username = str(credentials.get("username", ""))[:150]
    ip = client_ip(request) if request is not None else None
    locked = login_locked(username=username, ip=ip)
    reason = "locked" if locked else "bad_credentials"
    logger.info("failed sign-in for %s from %s (%s)", username, ip, reason)
    access_record(
        user=None,
        username=username,
        action=AccessEvent.Action.LOGIN_FAILED,
        object_type="auth",
        detail={"reason": reason},
    )
    if not locked:
        login_failure_register(username=username, ip=ip)
