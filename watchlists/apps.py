"""App config."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WatchlistsConfig(AppConfig):
    """The watchlists app."""

    name = "watchlists"
    verbose_name = _("Watchlists")
    default_auto_field = "django.db.models.BigAutoField"
