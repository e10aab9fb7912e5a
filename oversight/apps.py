"""App config."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OversightConfig(AppConfig):
    """Lawful use of live identification: deployments, transparency reports, masked exports, gated search."""

    name = "oversight"
    verbose_name = _("Oversight")
    default_auto_field = "django.db.models.BigAutoField"
