"""Writing the access log: every audited read or change calls `access_record` in its transaction."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection, transaction
from django.utils import timezone

from audit import context
from audit.models import AccessEvent

logger = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
_CHAIN_LOCK_KEY = 727_100_001  # pg_advisory_xact_lock key serialising chain appends


def user_role(user: AbstractBaseUser | AnonymousUser | None) -> str:
    """The user's role name: their first role group, or superuser/anonymous."""
    if user is None or not user.is_authenticated:
        return "anonymous"
    if getattr(user, "is_superuser", False):
        return "superuser"
    names = sorted(group.name for group in user.groups.all())  # type: ignore[attr-defined]
    return ",".join(names)


def canonical(event: dict[str, Any]) -> bytes:
    """The bytes a row's hash covers (stable key order, UTC ISO time)."""
    return json.dumps(event, sort_keys=True, separators=(",", ":"), default=str).encode()


def row_payload(row: AccessEvent) -> dict[str, Any]:
    """The hashed fields of a row, as stored."""
    return {
        "id": row.id,
        "at": _iso(row.at),
        "user_id": row.user_id,
        "username": row.username,
        "role": row.role,
        "action": row.action,
        "object_type": row.object_type,
        "object_id": row.object_id,
        "purpose": row.purpose,
        "ip": row.ip,
        "user_agent": row.user_agent,
        "detail": row.detail,
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(dt_timezone.utc).isoformat(timespec="microseconds")


def chain_hash(prev_hash: str, payload: dict[str, Any]) -> str:
    """sha256(prev_hash || canonical(payload))."""
    return hashlib.sha256(prev_hash.encode() + canonical(payload)).hexdigest()


def access_record(
    *,
    user: AbstractBaseUser | AnonymousUser | None,
    action: str,
    object_type: str = "",
    object_id: object = "",
    purpose: str = "",
    detail: dict[str, Any] | None = None,
    username: str = "",
) -> AccessEvent:
    """Append one audit row, chained to the previous one, inside the caller's transaction."""
    request = context.current()
    authenticated = user is not None and user.is_authenticated
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
            cursor.execute("SELECT nextval(pg_get_serial_sequence('audit_accessevent', 'id'))")
            new_id = cursor.fetchone()[0]
        last = AccessEvent.objects.order_by("-id").values_list("hash", flat=True).first()
        row = AccessEvent(
            id=new_id,
            at=timezone.now(),
            user_id=user.pk if authenticated and user is not None else None,
            username=(user.get_username() if authenticated and user is not None else username)[:150],
            role=user_role(user),
            action=action,
            object_type=object_type,
            object_id=str(object_id)[:64],
            purpose=purpose[:300],
            ip=request.ip,
            user_agent=request.user_agent,
            detail=detail or {},
            prev_hash=last or GENESIS_HASH,
        )
        row.detail = json.loads(json.dumps(row.detail, default=str))
        row.hash = chain_hash(row.prev_hash, row_payload(row))
        row.save(force_insert=True)
    return row


@dataclass(frozen=True)
class ChainReport:
    """The outcome of verifying the chain: rows checked and the first broken row, if any."""

    rows_checked: int
    first_broken_id: int | None
    reason: str

    @property
    def ok(self) -> bool:
        return self.first_broken_id is None


def chain_verify(*, batch_size: int = 5000) -> ChainReport:
    """Walk the log in id order and recompute every hash; report the first row that does not fit."""
    expected_prev = GENESIS_HASH
    checked = 0
    last_id = 0
    while True:
        rows = list(AccessEvent.objects.filter(id__gt=last_id).order_by("id")[:batch_size])
        if not rows:
            return ChainReport(checked, None, "chain intact")
        for row in rows:
            broken = _check_row(row, expected_prev)
            if broken:
                return ChainReport(checked, row.id, broken)
            expected_prev = row.hash
            last_id = row.id
            checked += 1


def _check_row(row: AccessEvent, expected_prev: str) -> str:
    if row.prev_hash != expected_prev:
        return f"row {row.id}: previous hash does not match row before it (a row was removed or reordered)"
    if chain_hash(row.prev_hash, row_payload(row)) != row.hash:
        return f"row {row.id}: contents do not match its hash (the row was edited)"
    return ""


def model_label(instance: object) -> str:
    """`app.model` label used as object_type for a model instance."""
    meta = instance._meta  # type: ignore[attr-defined]
    return f"{meta.app_label}.{meta.model_name}"


def audited_save(*, actor: AbstractBaseUser | None, instance: Any, purpose: str = "") -> Any:
    """Validate (fields and constraints), save and audit a create or update in one transaction."""
    creating = instance._state.adding
    instance.full_clean()
    with transaction.atomic():
        instance.save()
        access_record(
            user=actor,
            action=AccessEvent.Action.CREATE if creating else AccessEvent.Action.UPDATE,
            object_type=model_label(instance),
            object_id=instance.pk,
            purpose=purpose,
            username="system" if actor is None else "",
        )
    return instance


def audited_delete(*, actor: AbstractBaseUser | None, instance: Any, purpose: str = "") -> None:
    """Delete and audit in one transaction."""
    with transaction.atomic():
        object_id = instance.pk
        label = model_label(instance)
        instance.delete()
        access_record(user=actor, action=AccessEvent.Action.DELETE, object_type=label, object_id=object_id,
                      purpose=purpose, username="system" if actor is None else "")
