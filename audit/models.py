"""The access log: one row per read of personal data, change, login or alert action."""

from __future__ import annotations

from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.utils.translation import gettext_lazy as _


class AccessEvent(models.Model):
    """An append-only, hash-chained record of who did what to which object, when, from where, why.

    Rows are never updated or deleted (database triggers refuse it); each row's hash covers its
    fields and the previous row's hash, so a changed, removed or reordered row breaks the chain.
    """

    class Action(models.TextChoices):
        VIEW = "view", _("View")
        SEARCH = "search", _("Search")
        EXPORT = "export", _("Export")
        CREATE = "create", _("Create")
        UPDATE = "update", _("Update")
        DELETE = "delete", _("Delete")
        LOGIN = "login", _("Login")
        LOGOUT = "logout", _("Logout")
        LOGIN_FAILED = "login_failed", _("Failed login")
        ALERT_ACTION = "alert_action", _("Alert action")
        DENIED = "denied", _("Denied")
        PURGE = "purge", _("Retention purge")
        NOTIFY = "notify", _("Notification sent")
        LOCKOUT = "lockout", _("Login locked out")
        VERIFY = "verify", _("Chain verified")

    id = models.BigAutoField(primary_key=True)
    at = models.DateTimeField(_("time"), db_index=True)
    user_id = models.BigIntegerField(_("user id"), null=True, blank=True, db_index=True)
    username = models.CharField(_("user"), max_length=150, blank=True)
    role = models.CharField(_("role"), max_length=50, blank=True)
    action = models.CharField(_("action"), max_length=20, choices=Action.choices, db_index=True)
    object_type = models.CharField(_("object type"), max_length=50, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    purpose = models.CharField(_("purpose / case reference"), max_length=300, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=300, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-id"]
        permissions = [
            ("export_accessevent", "Can export the access log"),
            ("verify_accessevent", "Can verify the access log's hash chain"),
        ]
        verbose_name = _("access event")
        verbose_name_plural = _("access events")
        indexes = [
            # one object's access history (subject, alert, evidence)
            models.Index(fields=["object_type", "object_id", "-id"], name="access_object_idx"),
            # one object's history: listings that showed it, evidence of an alert (detail @> {...})
            GinIndex(fields=["detail"], name="access_detail_gin", opclasses=["jsonb_path_ops"]),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username or 'system'} {self.action} {self.object_type}"


class ChainAnchor(models.Model):
    """Where the verifiable chain starts after retention purged its oldest rows.

    Written only by the `audit_purge_through` database function, in the same transaction as the
    purge; insert-only (triggers refuse UPDATE/DELETE). `chain_verify` starts from the newest anchor:
    the first remaining row must carry `last_purged_hash` as its previous hash.
    """

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(_("purged at"))
    last_purged_id = models.BigIntegerField(_("last purged row"))
    last_purged_hash = models.CharField(_("hash of the last purged row"), max_length=64)
    last_purged_at = models.DateTimeField(_("time of the last purged row"))
    purged_rows = models.BigIntegerField(_("rows purged"))
    reason = models.CharField(_("reason"), max_length=200)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("chain anchor")
        verbose_name_plural = _("chain anchors")
        constraints = [
            models.UniqueConstraint(fields=["last_purged_id"], name="chainanchor_unique_last_id"),
        ]

    def __str__(self) -> str:
        return f"anchor through row {self.last_purged_id} ({self.purged_rows} rows purged)"
