"""Alerts raised by the analysis workers, their history and evidence files."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from pgvector.django import VectorField

CHANGE_SEQUENCE = "alerts_change_seq"


class NextChangeSeq(models.Func):
    """`nextval('alerts_change_seq')`: a cursor that grows with every insert or change of an alert."""

    function = "nextval"
    template = f"nextval('{CHANGE_SEQUENCE}')"
    output_field = models.BigIntegerField()

    def __init__(self) -> None:
        super().__init__()


class AlertQuerySet(models.QuerySet["Alert"]):
    """Filters for alerts."""

    def open(self) -> AlertQuerySet:
        return self.exclude(status=Alert.Status.RESOLVED)

    def visible_to_venues(self, venue_ids: object) -> AlertQuerySet:
        return self.filter(venue_id__in=venue_ids)


class Alert(models.Model):
    """Something a camera saw that a dispatcher must look at; face matches are candidates."""

    class Kind(models.TextChoices):
        FACE_MATCH = "face_match", _("Face match")
        FIGHT = "fight", _("Fight")
        AGGRESSION = "aggression", _("Aggressive behaviour")
        CROWD = "crowd", _("Crowd gathering")
        CAMERA_OFFLINE = "camera_offline", _("Camera offline")

    class Severity(models.IntegerChoices):
        LOW = 1, _("Low")
        MEDIUM = 2, _("Medium")
        HIGH = 3, _("High")
        CRITICAL = 4, _("Critical")

    class Status(models.TextChoices):
        NEW = "new", _("New")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")
        ESCALATED = "escalated", _("Escalated")
        DISPATCHED = "dispatched", _("Dispatched")
        RESOLVED = "resolved", _("Resolved")

    class Review(models.TextChoices):
        NOT_APPLICABLE = "n/a", _("Not applicable")
        PENDING = "pending", _("Awaiting review")
        PARTLY_CONFIRMED = "partly_confirmed", _("Confirmed once, second confirmation needed")
        CONFIRMED = "confirmed", _("Confirmed")
        REJECTED = "rejected", _("Rejected: not this person")

    class Outcome(models.TextChoices):
        NONE = "", _("(none)")
        HANDLED = "handled", _("Handled on site")
        ARREST = "arrest", _("Arrest / detained")
        PERSON_FOUND = "person_found", _("Missing person found")
        FALSE_ALARM = "false_alarm", _("False alarm")
        NO_ACTION = "no_action", _("No action needed")
        CAMERA_RESTORED = "camera_restored", _("Camera back online")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    camera = models.ForeignKey("venues.Camera", on_delete=models.PROTECT, related_name="alerts")
    venue = models.ForeignKey("venues.Venue", on_delete=models.PROTECT, related_name="alerts")
    zone = models.ForeignKey("venues.Zone", on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts")
    severity = models.PositiveSmallIntegerField(_("severity"), choices=Severity.choices)
    status = models.CharField(_("status"), max_length=15, choices=Status.choices, default=Status.NEW)
    review = models.CharField(_("review"), max_length=20, choices=Review.choices, default=Review.NOT_APPLICABLE)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    score = models.FloatField(_("score"), validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])
    subject = models.ForeignKey(
        "watchlists.Subject", on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts"
    )
    template = models.ForeignKey(
        "watchlists.FaceTemplate", on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts"
    )
    probe_embedding = VectorField(
        null=True, blank=True, help_text=_("Embedding of the matched probe face; kept only while the alert is.")
    )
    track_key = models.CharField(max_length=100, blank=True, help_text=_("Session track the alert follows."))
    details = models.JSONField(default=dict, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="assigned_alerts"
    )
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices, blank=True, default="")
    raised_at = models.DateTimeField(_("raised at"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen at"), default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    change_seq = models.BigIntegerField(db_default=NextChangeSeq(), unique=True, editable=False)

    objects = AlertQuerySet.as_manager()

    class Meta:
        ordering = ["-raised_at"]
        permissions = [
            ("act_on_alert", "Can acknowledge, assign, escalate, dispatch and resolve alerts"),
            ("review_face_match", "Can confirm or reject face-match candidates"),
            ("view_reports", "Can view and export alert reports"),
        ]
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        constraints = [
            models.CheckConstraint(condition=Q(score__gte=0.0, score__lte=1.0), name="alert_score_range"),
            models.CheckConstraint(condition=Q(severity__gte=1, severity__lte=4), name="alert_severity_range"),
            models.CheckConstraint(
                condition=Q(kind="face_match") | Q(subject__isnull=True, template__isnull=True),
                name="alert_subject_only_for_face_match",
            ),
            models.CheckConstraint(
                condition=Q(kind="face_match", review__in=["pending", "partly_confirmed", "confirmed", "rejected"])
                | (~Q(kind="face_match") & Q(review="n/a")),
                name="alert_review_matches_kind",
            ),
            models.CheckConstraint(
                condition=~Q(status="resolved") | Q(resolved_at__isnull=False), name="alert_resolved_has_time"
            ),
            models.UniqueConstraint(
                fields=["camera", "kind", "track_key"],
                condition=~Q(status="resolved") & ~Q(track_key=""),
                name="alert_one_open_per_track",
            ),
        ]
        indexes = [
            # dashboard list: open alerts newest first
            models.Index(fields=["status", "-raised_at"], name="alert_status_raised_idx"),
            # scoped dashboards and reports per venue
            models.Index(fields=["venue", "-raised_at"], name="alert_venue_raised_idx"),
            # camera page: its recent alerts
            models.Index(fields=["camera", "-raised_at"], name="alert_camera_raised_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.camera_id} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status != self.Status.RESOLVED


class AlertEvent(models.Model):
    """One entry in an alert's history: who did what, from which status to which."""

    class Action(models.TextChoices):
        RAISED = "raised", _("Raised")
        UPDATED = "updated", _("Seen again")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")
        CONFIRMED = "confirmed", _("Match confirmed")
        REJECTED = "rejected", _("Match rejected")
        ASSIGNED = "assigned", _("Assigned")
        ESCALATED = "escalated", _("Escalated")
        DISPATCHED = "dispatched", _("Dispatched")
        UNIT_STATUS = "unit_status", _("Unit status")
        RESOLVED = "resolved", _("Resolved")
        NOTE = "note", _("Note")

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=20, choices=Action.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    from_status = models.CharField(max_length=15, blank=True)
    to_status = models.CharField(max_length=15, blank=True)
    note = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("alert event")
        verbose_name_plural = _("alert events")
        indexes = [models.Index(fields=["alert", "created_at"], name="alertevent_alert_time_idx")]

    def __str__(self) -> str:
        return f"{self.action} on {self.alert_id}"


class Evidence(models.Model):
    """A file backing an alert (snapshot, face crop, clip, score series), served only via audited views."""

    class Kind(models.TextChoices):
        SNAPSHOT = "snapshot", _("Snapshot")
        FACE_CROP = "face_crop", _("Face crop")
        CLIP = "clip", _("Clip")
        SERIES = "series", _("Score or count series")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="evidence")
    kind = models.CharField(max_length=15, choices=Kind.choices)
    file = models.FileField(upload_to="evidence/%Y/%m/%d/", max_length=300)
    content_type = models.CharField(max_length=100)
    size_bytes = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["alert", "kind", "created_at"]
        verbose_name = _("evidence")
        verbose_name_plural = _("evidence")
        indexes = [
            # retention job: evidence older than a cutoff
            models.Index(fields=["created_at"], name="evidence_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.alert_id}"
