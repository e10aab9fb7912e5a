"""App config."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VenuesConfig(AppConfig):
    """The venues app."""

    name = "venues"
    verbose_name = _("Venues")
    default_auto_field = "django.db.models.BigAutoField"
