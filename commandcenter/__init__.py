"""The command center Django project: settings, routing, Celery app, embedded services."""

from .celery import app as celery_app

__all__ = ("celery_app",)
