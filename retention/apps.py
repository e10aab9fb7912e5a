"""App config."""

from django.apps import AppConfig


class RetentionConfig(AppConfig):
    """Retention jobs (no models): may import the apps whose data it deletes."""

    name = "retention"
    verbose_name = "Retention"
