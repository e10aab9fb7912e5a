"""App config."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Shared bases (no models): imported by the apps, imports none of them."""

    name = "core"
    verbose_name = "Core"
