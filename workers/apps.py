"""The stream-worker app: camera sessions and the analysis pipeline (no models, no views)."""

from __future__ import annotations

from django.apps import AppConfig


class WorkersConfig(AppConfig):
    """Registers ``workers.tasks`` for Celery autodiscovery and the ``analyze_video`` command."""

    name = "workers"
    verbose_name = "Stream workers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Register the configuration checks."""
        from workers import checks  # noqa: F401
