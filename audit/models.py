"""The access log: one row per read of personal data, change, login or alert action."""

from __future__ import annotations

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
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username or 'system'} {self.action} {self.object_type}"
