"""Writing the access log: every audited read or change calls `access_record` in its transaction."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.utils import timezone

from audit import context
from audit.models import AccessEvent, ChainAnchor

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
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def chain_hash(prev_hash: str, payload: dict[str, Any]) -> str:
    """sha256(prev_hash || canonical(payload))."""
    return hashlib.sha256(prev_hash.encode() + canonical(payload)).hexdigest()


def _without_nul(value: Any) -> Any:
    """PostgreSQL text and jsonb hold no NUL character: record it as U+FFFD instead of failing the request."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


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
            object_id=_without_nul(str(object_id))[:64],
            purpose=_without_nul(purpose)[:300],
            ip=request.ip,
            user_agent=request.user_agent,
            detail=detail or {},
            prev_hash=last or chain_start()[1],
        )
        row.detail = _without_nul(json.loads(json.dumps(row.detail, default=str)))
        row.hash = chain_hash(row.prev_hash, row_payload(row))
        row.save(force_insert=True)
    if action == AccessEvent.Action.DENIED:
        context.denial_mark()
    return row


def access_require(
    *,
    user: User | AnonymousUser,
    perm: str,
    object_type: str,
    object_id: object = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """PermissionDenied(perm) unless the user holds `perm`; the refusal is audited first (action denied)."""
    if user.has_perm(perm):
        return
    access_record(
        user=user,
        action=AccessEvent.Action.DENIED,
        object_type=object_type,
        object_id=object_id,
        detail={"permission": perm, **(detail or {})},
    )
    raise PermissionDenied(perm)


@dataclass(frozen=True)
class ChainReport:
    """The outcome of verifying the chain: rows checked and the first broken row, if any."""

    rows_checked: int
    first_broken_id: int | None
    reason: str
    anchor_through_id: int | None = None
    head_id: int | None = None
    head_hash: str = ""

    @property
    def ok(self) -> bool:
        return self.first_broken_id is None


HASHED_FIELDS = (
    "id",
    "at",
    "user_id",
    "username",
    "role",
    "action",
    "object_type",
    "object_id",
    "purpose",
    "ip",
    "user_agent",
    "detail",
)


def chain_start() -> tuple[int, str, int | None]:
    """(last id before the chain, the hash the first remaining row must follow, anchor id or None)."""
    anchor = ChainAnchor.objects.order_by("-last_purged_id").first()
    if anchor is None:
        return 0, GENESIS_HASH, None
    return anchor.last_purged_id, anchor.last_purged_hash, anchor.last_purged_id


def chain_verify(*, batch_size: int = 5000) -> ChainReport:
    """Walk the log in id order from the newest retention anchor (or the genesis) and recompute
    every hash; report the first row that does not fit."""
    last_id, expected_prev, anchor_id = chain_start()
    checked = 0
    columns = (*HASHED_FIELDS, "prev_hash", "hash")
    while True:
        rows = list(AccessEvent.objects.filter(id__gt=last_id).order_by("id").values_list(*columns)[:batch_size])
        if not rows:
            return ChainReport(checked, None, "chain intact", anchor_id, last_id or None, expected_prev)
        for values in rows:
            payload = dict(zip(HASHED_FIELDS, values[:-2], strict=True))
            payload["at"] = _iso(payload["at"])
            prev_hash, row_hash = values[-2], values[-1]
            broken = _check_values(payload["id"], payload, prev_hash, row_hash, expected_prev)
            if broken:
                return ChainReport(checked, payload["id"], broken, anchor_id)
            expected_prev, last_id = row_hash, payload["id"]
            checked += 1


def _check_values(row_id: int, payload: dict[str, Any], prev_hash: str, row_hash: str, expected_prev: str) -> str:
    if prev_hash != expected_prev:
        return f"row {row_id}: previous hash does not match row before it (a row was removed or reordered)"
    if chain_hash(prev_hash, payload) != row_hash:
        return f"row {row_id}: contents do not match its hash (the row was edited)"
    return ""


def chain_purge_through(*, through_id: int, reason: str) -> int:
    """Purge the oldest rows up to `through_id` behind a new anchor (database function); rows purged."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT audit_purge_through(%s, %s)", [through_id, reason])
        purged = int(cursor.fetchone()[0])
    logger.info("audit log: purged %s rows through id %s (%s)", purged, through_id, reason)
    return purged


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
        access_record(
            user=actor,
            action=AccessEvent.Action.DELETE,
            object_type=label,
            object_id=object_id,
            purpose=purpose,
            username="system" if actor is None else "",
        )
