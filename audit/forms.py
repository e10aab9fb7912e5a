"""The auditor's filter form."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from audit.models import AccessEvent
from audit.selectors import EventFilter


class EventFilterForm(forms.Form):
    """Filter the access log by user, action, object and time range."""

    user = forms.CharField(label=_("User (name or id)"), max_length=150, required=False)
    action = forms.ChoiceField(
        label=_("Action"), required=False, choices=[("", _("any")), *list(AccessEvent.Action.choices)]
    )
    object_type = forms.CharField(label=_("Object type"), max_length=50, required=False)
    object_id = forms.CharField(label=_("Object id"), max_length=64, required=False)
    since = forms.DateTimeField(
        label=_("From"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    until = forms.DateTimeField(
        label=_("Until"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    purpose = forms.CharField(label=_("Purpose / case reference"), max_length=300, required=False)

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("since") and data.get("until") and data["since"] >= data["until"]:
            raise forms.ValidationError(_("'From' must be before 'Until'."), code="range")
        return data

    def to_filter(self) -> EventFilter:
        data = self.cleaned_data
        return EventFilter(
            user=data.get("user") or "",
            action=data.get("action") or "",
            object_type=data.get("object_type") or "",
            object_id=data.get("object_id") or "",
            since=data.get("since"),
            until=data.get("until"),
        )
