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
    fold_key = models.CharField(
        max_length=100,
        blank=True,
        default="",
        db_default="",
        help_text=_("Sightings with this key fold into this open alert (a face match: its subject)."),
    )
    sightings = models.PositiveIntegerField(_("sightings"), default=1, db_default=1)
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
            # folding: at most one open alert per subject takes its repeated sightings
            models.UniqueConstraint(
                fields=["fold_key"],
                condition=~Q(status="resolved") & ~Q(fold_key=""),
                name="alert_one_open_per_fold_key",
            ),
        ]
        indexes = [
            # API list and history: all alerts newest first
            models.Index(fields=["-raised_at"], name="alert_raised_idx"),
            # dashboard sort: most severe, then newest
            models.Index(fields=["-severity", "-raised_at"], name="alert_severity_raised_idx"),
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


# What a resolved fight or aggression alert's outcome says about the detector: the labels its clip gets when
# the city retrains the fight model on its own reviewed alerts (oversight/training.py, the detector report).
INCIDENT_RETRAINED_KINDS = (Alert.Kind.FIGHT, Alert.Kind.AGGRESSION)  # the fight model's alerts
INCIDENT_CONFIRMED_OUTCOMES = (Alert.Outcome.HANDLED, Alert.Outcome.ARREST)
INCIDENT_FALSE_OUTCOMES = (Alert.Outcome.FALSE_ALARM, Alert.Outcome.NO_ACTION)


class AlertEvent(models.Model):
    """One entry in an alert's history: who did what, from which status to which."""

    class Action(models.TextChoices):
        RAISED = "raised", _("Raised")
        UPDATED = "updated", _("Seen again")
        SIGHTING = "sighting", _("Sighted again")
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
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
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


# =============================================================================================
# Dispatch to the city CAD (issue 7): endpoints, outbound deliveries and their attempts,
# inbound unit status reports and the nonce store that stops replays. Writes: alerts.dispatch.
# =============================================================================================
import os  # noqa: E402

from django.contrib.postgres.fields import ArrayField  # noqa: E402
from django.core.validators import URLValidator  # noqa: E402

MAX_ENDPOINT_TIMEOUT_S = 60
MAX_DELIVERY_ATTEMPTS = 20


class DispatchEndpoint(models.Model):
    """A city CAD webhook: where incidents go, in which format, signed with which key(s)."""

    class Format(models.TextChoices):
        EIDO = "eido", _("NENA EIDO (JSON)")
        CAP = "cap", _("OASIS CAP 1.2 (XML)")

    name = models.CharField(_("name"), max_length=100, unique=True)
    url = models.URLField(_("URL"), max_length=500, validators=[URLValidator(schemes=["http", "https"])])
    format = models.CharField(_("format"), max_length=4, choices=Format.choices, default=Format.EIDO)
    secret = models.CharField(
        _("signing key(s)"),
        max_length=500,
        blank=True,
        help_text=_("HMAC keys, comma-separated; the first signs, all verify (rotation). Never shown."),
    )
    key_env = models.CharField(
        _("key environment variable"),
        max_length=100,
        blank=True,
        help_text=_("Name of an environment variable holding the key(s); used instead of the stored key."),
    )
    active = models.BooleanField(_("active"), default=True)
    auto_dispatch_kinds = ArrayField(
        models.CharField(max_length=20, choices=Alert.Kind.choices),
        default=list,
        blank=True,
        help_text=_(
            "Alert kinds sent as soon as they are raised (never face matches: a person confirms). Fight and "
            "aggression alerts are automatic detections with many false alarms (Reports: incident detector "
            "performance); sent unseen, they reach dispatch unchecked."
        ),
    )
    timeout_s = models.PositiveSmallIntegerField(
        _("timeout (s)"), default=10, validators=[MinValueValidator(1), MaxValueValidator(MAX_ENDPOINT_TIMEOUT_S)]
    )
    max_attempts = models.PositiveSmallIntegerField(
        _("max attempts"), default=8, validators=[MinValueValidator(1), MaxValueValidator(MAX_DELIVERY_ATTEMPTS)]
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("dispatch endpoint")
        verbose_name_plural = _("dispatch endpoints")
        constraints = [
            models.CheckConstraint(condition=~Q(secret="") | ~Q(key_env=""), name="dispatchendpoint_has_key"),
            models.CheckConstraint(
                condition=Q(timeout_s__gte=1, timeout_s__lte=MAX_ENDPOINT_TIMEOUT_S),
                name="dispatchendpoint_timeout_range",
            ),
            models.CheckConstraint(
                condition=Q(max_attempts__gte=1, max_attempts__lte=MAX_DELIVERY_ATTEMPTS),
                name="dispatchendpoint_attempts_range",
            ),
            models.CheckConstraint(
                condition=~Q(auto_dispatch_kinds__contains=["face_match"]), name="dispatchendpoint_no_auto_face_match"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def signing_keys(self) -> list[str]:
        """The endpoint's keys, from the named environment variable if set, else the stored field."""
        raw = os.environ.get(self.key_env, "") if self.key_env else self.secret
        return [key.strip() for key in raw.split(",") if key.strip()]


class Delivery(models.Model):
    """One revision of an incident for one endpoint; the body is rendered once so retries send identical bytes."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(DispatchEndpoint, on_delete=models.PROTECT, related_name="deliveries")
    revision = models.PositiveIntegerField(default=0)
    idempotency_key = models.CharField(max_length=200, unique=True)
    body = models.TextField(blank=True)
    body_sha256 = models.CharField(max_length=64, blank=True)
    content_type = models.CharField(max_length=60)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    budget_start = models.PositiveSmallIntegerField(
        default=0, help_text=_("Attempts made before the last manual retry; max attempts count from here.")
    )
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["alert", "endpoint", "revision"]
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [
            # also serves "is an earlier revision of this alert still pending for this endpoint?"
            models.UniqueConstraint(fields=["alert", "endpoint", "revision"], name="delivery_unique_revision"),
            models.CheckConstraint(
                condition=~Q(status="delivered") | Q(delivered_at__isnull=False), name="delivery_delivered_has_time"
            ),
            models.CheckConstraint(
                condition=Q(budget_start__lte=models.F("attempts")), name="delivery_budget_le_attempts"
            ),
        ]
        indexes = [
            # sweeper: pending deliveries whose next attempt is due
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="delivery_pending_due_idx"),
            # admin and API: deliveries by status, newest first
            models.Index(fields=["status", "-created_at"], name="delivery_status_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.alert_id} r{self.revision} -> {self.endpoint_id} ({self.status})"

    @property
    def attempts_left(self) -> int:
        return max(0, self.endpoint.max_attempts - (self.attempts - self.budget_start))


class DeliveryAttempt(models.Model):
    """One HTTP POST of a delivery: when, how long, what came back."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")
        constraints = [
            # also serves the attempt log of one delivery in order
            models.UniqueConstraint(fields=["delivery", "number"], name="deliveryattempt_unique_number"),
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}: {self.http_status or self.error[:40]}"

    @property
    def succeeded(self) -> bool:
        return self.http_status is not None and 200 <= self.http_status < 300


class UnitStatusReport(models.Model):
    """A unit status the CAD reported back for a dispatched incident (verified, never a replay)."""

    class Status(models.TextChoices):
        ASSIGNED = "assigned", _("Unit assigned")
        EN_ROUTE = "en_route", _("Unit en route")
        ON_SCENE = "on_scene", _("Unit on scene")
        CLOSED = "closed", _("Closed by CAD")

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="unit_reports")
    endpoint = models.ForeignKey(DispatchEndpoint, on_delete=models.PROTECT, related_name="unit_reports")
    delivery = models.ForeignKey(Delivery, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices)
    unit = models.CharField(max_length=64)
    cad_reference = models.CharField(max_length=100, blank=True)
    reported_at = models.DateTimeField()
    nonce = models.CharField(max_length=128, unique=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["alert", "received_at", "id"]
        verbose_name = _("unit status report")
        verbose_name_plural = _("unit status reports")
        indexes = [
            # webhook: the latest status of one unit on an alert (duplicate check); alert page history
            models.Index(fields=["alert", "unit", "-received_at"], name="unitreport_alert_unit_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.unit} {self.status} on {self.alert_id}"


class WebhookNonce(models.Model):
    """A nonce seen on a verified inbound webhook; kept at least twice the signing window."""

    nonce = models.CharField(max_length=128, primary_key=True)
    endpoint = models.ForeignKey(DispatchEndpoint, on_delete=models.CASCADE, related_name="+")
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("webhook nonce")
        verbose_name_plural = _("webhook nonces")
        indexes = [
            # purge job: nonces older than the retention cutoff
            models.Index(fields=["seen_at"], name="webhooknonce_seen_idx"),
        ]

    def __str__(self) -> str:
        return self.nonce
