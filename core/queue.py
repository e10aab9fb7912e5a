"""The queue seam: apps send Celery tasks by name, so no app imports the module that defines a task
(the web process never loads the stream workers' code, and services never import their own tasks)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from importlib import import_module
from typing import Any

from celery import current_app

logger = logging.getLogger(__name__)


def task_send(name: str, *, args: Sequence[Any] = (), **options: Any) -> None:
    """Queue the task registered as `name` (e.g. "workers.tasks.analyze_video_job") with Celery's routing;
    with CELERY_TASK_ALWAYS_EAGER it runs here and now, as `apply_async` would."""
    if current_app.conf.task_always_eager:
        import_module(name.rpartition(".")[0])  # registers the task in this (test or development) process
        current_app.tasks[name].apply(args=tuple(args))
        return
    current_app.send_task(name, args=tuple(args), **options)
