"""Form widgets for the venues admin: the zone polygon drawn on the camera's live picture."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.forms.renderers import BaseRenderer, TemplatesSetting, get_default_renderer
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

_ANY_CAMERA = uuid.UUID(int=0)


class PolygonWidget(forms.Textarea):
    """The polygon's JSON textarea (the source of truth) under an SVG drawing area on the camera's preview.

    `camera_field` names the form's camera select, whose picture is the background; `exclude_zone` is the
    zone being edited, left out of the other zones of that camera drawn faintly for context.
    """

    template_name = "widgets/zone_polygon.html"

    class Media:
        css = {"all": ["css/zone-editor.css"]}
        js = ["js/zone-editor.js"]

    def __init__(self, attrs: dict[str, Any] | None = None, *, camera_field: str = "camera") -> None:
        super().__init__(attrs={"rows": 3, "class": "vLargeTextField zone-editor-text", **(attrs or {})})
        self.camera_field = camera_field
        self.exclude_zone = ""

    def format_value(self, value: Any) -> str | None:
        return None if value in (None, "null") else super().format_value(value)  # an empty add form shows no "null"

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        preview = reverse("camera-preview", kwargs={"camera_id": _ANY_CAMERA})
        context["editor"] = {
            "camera_input": f"id_{self.camera_field}",
            "preview_url": preview.replace(str(_ANY_CAMERA), "{camera}"),
            "zones_url": reverse("zone-list"),
            "exclude_zone": self.exclude_zone,
        }
        return context

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: BaseRenderer | None = None
    ) -> SafeString:
        context = self.get_context(name, value, attrs)
        context["textarea"] = _rendered(renderer or get_default_renderer(), forms.Textarea.template_name, context)
        # the editor's template lives in the project's templates/, which the default form renderer does not search
        return _rendered(TemplatesSetting(), self.template_name, context)


def _rendered(renderer: BaseRenderer, template_name: str, context: dict[str, Any]) -> SafeString:
    """Template output, escaped already; the renderer's strip() drops the safe mark (as in Widget._render)."""
    return mark_safe(renderer.render(template_name, context))  # noqa: S308
