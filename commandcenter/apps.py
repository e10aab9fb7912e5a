"""App config for project-level commands (run, provisioning, users, demo)."""

from django.apps import AppConfig


class CommandCenterConfig(AppConfig):
    """Holds project-wide management commands; no models."""

    name = "commandcenter"
    verbose_name = "Command center"
