"""System checks of the stream workers' configuration (run by manage.py check, migrate and the launcher's prepare)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register


@register()
def fight_model_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """CC_FIGHT_MODEL, when set, is a fight model file the sessions can load (a bad one fails every camera)."""
    if not settings.CC_FIGHT_MODEL:
        return []
    from vision.incidents.fight import load_model

    try:
        load_model(settings.CC_FIGHT_MODEL)
    except (OSError, ValueError) as exc:
        return [Error(f"CC_FIGHT_MODEL: {exc}", id="workers.E001")]
    return []
