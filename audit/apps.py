"""App config."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    """The audit app."""

    name = "audit"
    verbose_name = _("Audit")
    default_auto_field = "django.db.models.BigAutoField"
