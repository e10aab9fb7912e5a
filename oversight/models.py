"""Deployment authorisations for live face matching and the per-month counters of their transparency report.

Live face matching on a camera runs only inside a deployment that covers it (its cameras, or any camera of
its venues) while it is live (``Deployment.objects.live(now)``), and only against the watchlists it names.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class DeploymentQuerySet(models.QuerySet["Deployment"]):
    """Filters on deployments."""

    def live(self, now: datetime | None = None) -> DeploymentQuerySet:
        """Authorised and inside its window, or urgent and not yet lapsed: face matching may run."""
        now = now or timezone.now()
        authorised = Q(status=Deployment.Status.AUTHORISED)
        urgent = Q(status=Deployment.Status.URGENT_PENDING, urgent_deadline__gt=now)
        return self.filter(authorised | urgent, starts_at__lte=now, ends_at__gt=now)

    def covering(self, camera_id: object, venue_id: object) -> DeploymentQuerySet:
        """Deployments naming the camera or its venue."""
        return self.filter(Q(cameras=camera_id) | Q(venues=venue_id)).distinct()


class Deployment(models.Model):
    """A time-boxed, authorised use of live face matching at named places against named watchlists."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        AUTHORISED = "authorised", _("Authorised")
        URGENT_PENDING = "urgent_pending", _("Urgent: authorisation pending")
        REFUSED = "refused", _("Refused")
        ENDED = "ended", _("Ended")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(_("title"), max_length=200)
    venues = models.ManyToManyField("venues.Venue", blank=True, related_name="deployments", verbose_name=_("venues"))
    cameras = models.ManyToManyField("venues.Camera", blank=True, related_name="deployments", verbose_name=_("cameras"))
    watchlists = models.ManyToManyField(
        "watchlists.Watchlist", related_name="deployments", verbose_name=_("watchlists")
    )
    purpose = models.TextField(_("purpose"))
    legal_basis = models.CharField(_("legal basis"), max_length=300)
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.REQUESTED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("requested by")
    )
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    urgent_reason = models.TextField(_("reason for urgency"), blank=True)
    urgent_deadline = models.DateTimeField(_("authorise by"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("authorising officer"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    purged_at = models.DateTimeField(_("face-match data purged at"), null=True, blank=True)

    objects = DeploymentQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at"]
        verbose_name = _("deployment")
        verbose_name_plural = _("deployments")
        permissions = [
            ("request_deployment", "Can request a deployment and start an urgent one"),
            ("authorise_deployment", "Can authorise or refuse a deployment (not one they requested)"),
            ("view_transparency", "Can view the transparency report"),
            ("export_evidence", "Can export evidence with bystanders masked"),
            ("export_unmasked", "Can export unmasked original evidence"),
            ("search_events", "Can search past events (with a purpose)"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="deployment_ends_after_start"),
            models.CheckConstraint(
                condition=~Q(status="urgent_pending") | Q(urgent_deadline__isnull=False),
                name="deployment_urgent_has_deadline",
            ),
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=models.F("requested_by")),
                name="deployment_authoriser_not_requester",
            ),
        ]
        indexes = [
            # the worker's check and the lapse sweep: live or pending deployments by status and window
            models.Index(fields=["status", "ends_at"], name="deployment_status_ends_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    def matching_until(self) -> datetime | None:
        """When face matching under this deployment stops by itself (None: it does not run)."""
        if self.status == self.Status.AUTHORISED:
            return self.ends_at
        if self.status == self.Status.URGENT_PENDING and self.urgent_deadline is not None:
            return min(self.ends_at, self.urgent_deadline)
        return None


class DeploymentAlert(models.Model):
    """A face-match alert raised under a deployment (what its report counts and an unauthorised lapse purges)."""

    alert = models.OneToOneField(
        "alerts.Alert", on_delete=models.CASCADE, primary_key=True, related_name="deployment_link"
    )
    deployment = models.ForeignKey(Deployment, on_delete=models.PROTECT, related_name="alert_links")
    month = models.DateField()

    class Meta:
        verbose_name = _("deployment alert")
        verbose_name_plural = _("deployment alerts")
        indexes = [
            # the report: a deployment's alerts per month
            models.Index(fields=["deployment", "month"], name="deploymentalert_month_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.alert_id} under {self.deployment_id}"


class DeploymentMonth(models.Model):
    """Counters of one deployment in one month: faces analysed (a count, nothing else) and alerts raised."""

    deployment = models.ForeignKey(Deployment, on_delete=models.PROTECT, related_name="months")
    month = models.DateField(help_text=_("First day of the month, local time."))
    faces_analysed = models.BigIntegerField(default=0)
    alerts_raised = models.IntegerField(default=0)
    model_name = models.CharField(max_length=60, blank=True)

    class Meta:
        ordering = ["deployment", "month"]
        verbose_name = _("deployment month")
        verbose_name_plural = _("deployment months")
        constraints = [
            models.UniqueConstraint(fields=["deployment", "month"], name="deploymentmonth_unique"),
            models.CheckConstraint(
                condition=Q(faces_analysed__gte=0, alerts_raised__gte=0), name="deploymentmonth_counts_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.deployment_id} {self.month:%Y-%m}"
