"""Forms of the deployment pages (the service validates again: the rules live there)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from alerts.models import Alert
from core.security import validate_image_upload
from venues.selectors import cameras_for, venues_for
from watchlists.models import Watchlist


class DeploymentRequestForm(forms.Form):
    """Request a deployment, or start an urgent one with a reason."""

    title = forms.CharField(label=_("Title"), max_length=200)
    venues: forms.ModelMultipleChoiceField = forms.ModelMultipleChoiceField(
        label=_("Venues"), queryset=None, required=False
    )  # type: ignore[arg-type]
    cameras: forms.ModelMultipleChoiceField = forms.ModelMultipleChoiceField(
        label=_("Cameras"), queryset=None, required=False
    )  # type: ignore[arg-type]
    watchlists: forms.ModelMultipleChoiceField = forms.ModelMultipleChoiceField(label=_("Watchlists"), queryset=None)  # type: ignore[arg-type]
    purpose = forms.CharField(label=_("Purpose"), widget=forms.Textarea(attrs={"rows": 3}))
    legal_basis = forms.CharField(label=_("Legal basis"), max_length=300)
    starts_at = forms.DateTimeField(label=_("Starts at"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    ends_at = forms.DateTimeField(label=_("Ends at"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    urgent_reason = forms.CharField(
        label=_("Urgent: start now because"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_(
            "Only for an emergency. Matching starts at once and stops, with its data deleted, "
            "unless an authoriser authorises it in time."
        ),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["venues"].queryset = venues_for(user).order_by("name")  # type: ignore[attr-defined]
        self.fields["cameras"].queryset = cameras_for(user).order_by("venue__name", "name")  # type: ignore[attr-defined]
        self.fields["watchlists"].queryset = Watchlist.objects.filter(active=True).order_by("name")  # type: ignore[attr-defined]


class DecisionForm(forms.Form):
    """A decision's note (required for a refusal)."""

    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class ExportForm(forms.Form):
    """What an evidence export is for, and (for those allowed) whether the originals are wanted unmasked."""

    purpose = forms.CharField(
        label=_("Purpose or case reference"),
        max_length=300,
        help_text=_("Recorded in the audit log with the export."),
    )
    unmasked = forms.BooleanField(
        label=_("Unmasked originals (no face blurred)"),
        required=False,
    )

    mask_people = forms.BooleanField(
        label=_("Also blur every person except the involved ones (incidents)"),
        required=False,
    )
    involved = forms.CharField(
        label=_("Involved people (numbers on the picture, e.g. 1, 3)"),
        required=False,
        max_length=100,
    )

    def __init__(self, *args: Any, may_unmask: bool, incident: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not may_unmask:
            del self.fields["unmasked"]
        if not incident:
            del self.fields["mask_people"]
            del self.fields["involved"]

    def clean_involved(self) -> list[int]:
        text = self.cleaned_data.get("involved", "") or ""
        try:
            return sorted({int(part) for part in text.replace(";", ",").split(",") if part.strip()})
        except ValueError as exc:
            raise forms.ValidationError(_("Give the people's numbers separated by commas.")) from exc


class EventSearchForm(forms.Form):
    """Search past alerts: a purpose is required; every other field narrows the search."""

    purpose = forms.CharField(label=_("Purpose or case reference"), max_length=300)
    start = forms.DateTimeField(
        label=_("From"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    end = forms.DateTimeField(
        label=_("To"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    venue: forms.ModelChoiceField = forms.ModelChoiceField(label=_("Venue"), queryset=None, required=False)  # type: ignore[arg-type]
    camera: forms.ModelChoiceField = forms.ModelChoiceField(label=_("Camera"), queryset=None, required=False)  # type: ignore[arg-type]
    kind = forms.ChoiceField(label=_("Kind"), required=False, choices=[("", "—"), *Alert.Kind.choices])
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", "—"), *Alert.Status.choices])
    review = forms.ChoiceField(label=_("Review"), required=False, choices=[("", "—"), *Alert.Review.choices])
    subject = forms.CharField(label=_("Subject (name or reference)"), required=False, max_length=200)
    watchlist: forms.ModelChoiceField = forms.ModelChoiceField(label=_("Watchlist"), queryset=None, required=False)  # type: ignore[arg-type]
    photo = forms.FileField(
        label=_("Photo"),
        required=False,
        validators=[validate_image_upload],
        help_text=_("Matched only against faces stored with face-match alerts; the photo is not kept."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["venue"].queryset = venues_for(user).order_by("name")  # type: ignore[attr-defined]
        self.fields["camera"].queryset = cameras_for(user).order_by("venue__name", "name")  # type: ignore[attr-defined]
        self.fields["watchlist"].queryset = Watchlist.objects.order_by("name")  # type: ignore[attr-defined]
