"""Watchlists of persons of interest and their enrolled face templates."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from pgvector.django import VectorField


class Watchlist(models.Model):
    """A list of subjects kept under one legal basis, with its own match threshold."""

    class Category(models.TextChoices):
        WANTED = "wanted", _("Wanted persons")
        MISSING = "missing", _("Missing persons")
        OTHER = "other", _("Other")

    class AlertSeverity(models.IntegerChoices):
        """The severity of this list's face-match alerts (the values of alerts.Alert.Severity)."""

        MEDIUM = 2, _("Medium")
        HIGH = 3, _("High")
        CRITICAL = 4, _("Critical")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(_("name"), max_length=200, unique=True)
    category = models.CharField(_("category"), max_length=10, choices=Category.choices)
    legal_basis = models.TextField(_("legal basis"), help_text=_("Statute, warrant or order that allows this list."))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_watchlists", verbose_name=_("owner")
    )
    match_threshold = models.FloatField(
        _("match threshold (similarity)"),
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text=_("Similarity a face must reach to raise a candidate; cannot go below the system floor."),
    )
    requires_second_confirmation = models.BooleanField(
        _("second confirmation required"),
        default=True,
        help_text=_("A match is confirmed only when a second user confirms it too."),
    )
    alert_severity = models.PositiveSmallIntegerField(
        _("alert severity"),
        choices=AlertSeverity.choices,
        default=AlertSeverity.HIGH,
        db_default=AlertSeverity.HIGH,
        help_text=_("Severity of this list's face-match alerts; wanted persons are high or critical."),
    )
    colour = models.CharField(
        _("colour"),
        max_length=7,
        default="#ef4444",
        db_default="#ef4444",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", _("A colour as #rrggbb."))],
        help_text=_("Marks this list's alerts on the dashboard (#rrggbb)."),
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("watchlist")
        verbose_name_plural = _("watchlists")
        constraints = [
            models.CheckConstraint(
                condition=Q(match_threshold__gte=0.0, match_threshold__lte=1.0), name="watchlist_threshold_range"
            ),
            models.CheckConstraint(condition=~Q(legal_basis=""), name="watchlist_legal_basis_required"),
            models.CheckConstraint(
                condition=Q(alert_severity__gte=2, alert_severity__lte=4)
                & (~Q(category="wanted") | Q(alert_severity__gte=3)),
                name="watchlist_alert_severity_range",
            ),
            models.CheckConstraint(condition=Q(colour__regex=r"^#[0-9a-fA-F]{6}$"), name="watchlist_colour_hex"),
        ]

    def __str__(self) -> str:
        return self.name


class SubjectQuerySet(models.QuerySet["Subject"]):
    """Filters for subjects."""

    def matchable(self, now: object | None = None) -> SubjectQuerySet:
        """Active, unexpired subjects on active watchlists: the only ones a face may match."""
        return self.filter(status=Subject.Status.ACTIVE, expires_at__gt=now or timezone.now(), watchlist__active=True)


class Subject(models.Model):
    """A person on a watchlist. Entries carry a legal basis reference and always expire."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        INACTIVE = "inactive", _("Inactive")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    watchlist = models.ForeignKey(Watchlist, on_delete=models.PROTECT, related_name="subjects")
    display_name = models.CharField(_("display name"), max_length=200)
    reference_number = models.CharField(_("reference number"), max_length=100, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    legal_basis_reference = models.CharField(
        _("legal basis reference"), max_length=300, help_text=_("Case, warrant or report number.")
    )
    image_source = models.CharField(_("image source"), max_length=300, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="subjects_added", verbose_name=_("added by")
    )
    expires_at = models.DateTimeField(_("expires at"))
    expiry_notified_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SubjectQuerySet.as_manager()

    class Meta:
        ordering = ["display_name"]
        permissions = [("check_photo", "Can check a photo against the watchlists")]
        verbose_name = _("subject")
        verbose_name_plural = _("subjects")
        constraints = [
            models.UniqueConstraint(
                fields=["watchlist", "reference_number"],
                condition=~Q(reference_number=""),
                name="subject_unique_reference_per_watchlist",
            ),
            models.CheckConstraint(condition=~Q(legal_basis_reference=""), name="subject_legal_basis_required"),
            models.CheckConstraint(condition=~Q(display_name=""), name="subject_display_name_required"),
        ]
        indexes = [
            # the matcher loads matchable subjects: status + expiry
            models.Index(fields=["status", "expires_at"], name="subject_matchable_idx"),
        ]

    def __str__(self) -> str:
        return self.display_name


class FaceTemplate(models.Model):
    """One enrolled face of a subject: source photo, face crop, box, quality and its warnings.

    The embeddings live in :class:`FaceEmbedding`, one per face model, so switching the
    model re-embeds the kept photo instead of asking for it again.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="templates")
    source_photo = models.FileField(upload_to="faces/source/%Y/%m/", max_length=300)
    face_crop = models.FileField(upload_to="faces/crops/%Y/%m/", max_length=300)
    quality_score = models.FloatField(validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])
    quality_warnings = models.JSONField(
        default=list, blank=True, help_text=_("Why this photo may match less well (small, blurry, turned face).")
    )
    box = models.JSONField(default=dict, help_text=_("Face box in the source photo: x, y, w, h pixels."))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["subject", "-quality_score"]
        verbose_name = _("face template")
        verbose_name_plural = _("face templates")
        constraints = [
            models.CheckConstraint(
                condition=Q(quality_score__gte=0.0, quality_score__lte=1.0), name="template_quality_range"
            ),
        ]

    def __str__(self) -> str:
        return f"template {self.id} of {self.subject_id}"


class FaceEmbedding(models.Model):
    """One face model's embedding of an enrolled template (unit vector; one row per model)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    template = models.ForeignKey(FaceTemplate, on_delete=models.CASCADE, related_name="embeddings")
    model_name = models.CharField(max_length=50)
    embedding = VectorField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("face embedding")
        verbose_name_plural = _("face embeddings")
        constraints = [
            models.UniqueConstraint(fields=["template", "model_name"], name="embedding_one_per_model"),
        ]
        indexes = [
            # the matcher loads every embedding of one model; the re-embedding job finds the missing ones
            models.Index(fields=["model_name", "template"], name="embedding_model_template_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.model_name} embedding of {self.template_id}"


class FaceModelSwitch(models.Model):
    """A change of the face model used for matching: templates are re-embedded, then it takes over."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Re-embedding")
        DONE = "done", _("Active")
        FAILED = "failed", _("Failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    model_name = models.CharField(_("face model"), max_length=50)
    previous_model = models.CharField(_("previous face model"), max_length=50)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.QUEUED)
    done = models.PositiveIntegerField(_("templates re-embedded"), default=0)
    total = models.PositiveIntegerField(_("templates to re-embed"), default=0)
    failed = models.JSONField(_("templates that could not be re-embedded"), default=list, blank=True)
    error = models.TextField(_("error"), blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("requested by"),
        help_text=_("Empty for the model an upgrade found in use."),
    )
    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        verbose_name = _("face model switch")
        verbose_name_plural = _("face model switches")
        indexes = [
            # the active model: the latest finished switch
            models.Index(fields=["state", "-finished_at"], name="model_switch_state_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.previous_model} -> {self.model_name} ({self.state})"


class NegativeExemplar(models.Model):
    """A face a reviewer said is NOT this subject; a later probe this close is not raised again."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="negatives")
    embedding = VectorField()
    model_name = models.CharField(max_length=50)
    source_alert = models.ForeignKey("alerts.Alert", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("negative exemplar")
        verbose_name_plural = _("negative exemplars")
        indexes = [models.Index(fields=["subject", "model_name"], name="negative_subject_model_idx")]

    def __str__(self) -> str:
        return f"not-{self.subject_id} exemplar"
