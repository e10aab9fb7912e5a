"""Venues, their cameras and zones, opening hours, and which venues each operator may see."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from venues.validators import validate_polygon, validate_stream_url


class Venue(models.Model):
    """A place the city watches: a club, park, market, mall or stadium."""

    class Kind(models.TextChoices):
        ENTERTAINMENT = "entertainment", _("Entertainment venue")
        PARK = "park", _("Park")
        MARKET = "market", _("Market")
        MALL = "mall", _("Mall")
        STADIUM = "stadium", _("Stadium")
        OTHER = "other", _("Other")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(_("name"), max_length=200, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.ENTERTAINMENT)
    address = models.CharField(_("address"), max_length=300, blank=True)
    district = models.CharField(_("district"), max_length=100, blank=True, db_index=True)
    latitude = models.DecimalField(
        _("latitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(-90)), MaxValueValidator(Decimal(90))],
    )
    longitude = models.DecimalField(
        _("longitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(-180)), MaxValueValidator(Decimal(180))],
    )
    capacity = models.IntegerField(
        _("capacity"),
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text=_("Licensed number of people on site."),
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("venue")
        verbose_name_plural = _("venues")
        constraints = [
            models.CheckConstraint(
                condition=Q(capacity__isnull=True) | Q(capacity__gte=0), name="venue_capacity_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(latitude__isnull=True) | Q(latitude__gte=-90, latitude__lte=90), name="venue_latitude_range"
            ),
            models.CheckConstraint(
                condition=Q(longitude__isnull=True) | Q(longitude__gte=-180, longitude__lte=180),
                name="venue_longitude_range",
            ),
            models.CheckConstraint(
                condition=Q(latitude__isnull=True, longitude__isnull=True)
                | Q(latitude__isnull=False, longitude__isnull=False),
                name="venue_coordinates_paired",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class OpeningHours(models.Model):
    """One opening window of a venue on a weekday; closing before opening means past midnight."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    venue = models.ForeignKey(Venue, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    opens = models.TimeField(_("opens"))
    closes = models.TimeField(_("closes"))

    class Meta:
        ordering = ["venue", "weekday", "opens"]
        verbose_name = _("opening hours")
        verbose_name_plural = _("opening hours")
        constraints = [
            models.CheckConstraint(condition=Q(weekday__gte=0, weekday__lte=6), name="opening_weekday_range"),
            models.CheckConstraint(condition=~Q(opens=models.F("closes")), name="opening_window_not_empty"),
            models.UniqueConstraint(fields=["venue", "weekday", "opens"], name="opening_unique_start"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}-{self.closes:%H:%M}"


class CameraQuerySet(models.QuerySet["Camera"]):
    """Filters for cameras."""

    def enabled(self) -> CameraQuerySet:
        return self.filter(enabled=True, venue__active=True)


class Camera(models.Model):
    """A video source at a venue with its validated analysis settings and last known health."""

    class Transport(models.TextChoices):
        TCP = "tcp", _("TCP (recommended)")
        UDP = "udp", _("UDP")

    class Health(models.TextChoices):
        UNKNOWN = "unknown", _("Unknown")
        ONLINE = "online", _("Online")
        DEGRADED = "degraded", _("Degraded")
        OFFLINE = "offline", _("Offline")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    venue = models.ForeignKey(Venue, on_delete=models.PROTECT, related_name="cameras")
    name = models.CharField(_("name"), max_length=200)
    stream_url = models.CharField(
        _("stream URL"),
        max_length=1000,
        validators=[validate_stream_url],
        help_text=_("rtsp://, rtsps://, http(s):// (MJPEG) or file:///path/to/video"),
    )
    rtsp_transport = models.CharField(
        _("RTSP transport"), max_length=3, choices=Transport.choices, default=Transport.TCP
    )
    loop_file = models.BooleanField(_("loop file sources"), default=False, help_text=_("For demos and soak tests."))
    latitude = models.DecimalField(
        _("latitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(-90)), MaxValueValidator(Decimal(90))],
        help_text=_("Where the camera is, for the map; empty: at its venue."),
    )
    longitude = models.DecimalField(
        _("longitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(-180)), MaxValueValidator(Decimal(180))],
    )
    enabled = models.BooleanField(_("enabled"), default=True)

    analysis_fps = models.FloatField(
        _("analysed frames per second"), default=2.0, validators=[MinValueValidator(0.2), MaxValueValidator(15.0)]
    )
    face_recognition_enabled = models.BooleanField(_("face recognition"), default=True)
    crowd_enabled = models.BooleanField(_("crowd counting"), default=True)
    fight_enabled = models.BooleanField(_("fight and aggression detection"), default=True)
    sensitivity = models.FloatField(
        _("sensitivity"),
        default=0.5,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text=_("0 = fewest alerts, 1 = most; shifts incident thresholds."),
    )
    min_duration_s = models.FloatField(
        _("minimum incident duration (s)"), default=1.0, validators=[MinValueValidator(0.0), MaxValueValidator(30.0)]
    )
    cooldown_s = models.PositiveIntegerField(
        _("alert cooldown (s)"), default=120, validators=[MinValueValidator(10), MaxValueValidator(3600)]
    )
    offline_after_s = models.PositiveIntegerField(
        _("offline after silence (s)"), default=30, validators=[MinValueValidator(5), MaxValueValidator(3600)]
    )

    class FaceDetector(models.TextChoices):
        DEFAULT = "", _("System default (CC_STREAM_FACE_DETECTOR)")
        HOG_FAST = "dlib-hog-fast", _("dlib HOG, fast: frontal faces, ~20 ms per 640x360 frame")
        HOG = "dlib-hog", _("dlib HOG, upsampled: smaller frontal faces, ~80 ms")
        MTCNN = "mtcnn", _("MTCNN: profiles and small faces, ~46 ms")

    face_detector = models.CharField(
        _("face detector"), max_length=20, choices=FaceDetector.choices, default="", blank=True
    )
    only_when_open = models.BooleanField(_("incident detection only during opening hours"), default=False)

    class CountingView(models.TextChoices):
        NEAR = "near", _("Near: people fill a good part of the view (fastest)")
        WIDE = "wide", _("Wide: a hall or a square, people half that size (about 2.5x the cost)")
        DISTANT = "distant", _("Distant: a stand or a crowd seen from far away (about 7x the cost)")

    counting_view = models.CharField(
        _("crowd counting view"),
        max_length=10,
        choices=CountingView.choices,
        default=CountingView.NEAR,
        help_text=_("How far the counted people are from the camera; farther views look at more pixels."),
    )

    person_fps = models.FloatField(
        _("people tracked per second"),
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0), MaxValueValidator(15.0)],
        help_text=_(
            "How often people are detected and tracked (about 40 ms of a CPU core each time). Empty: the system "
            "default; 0: no people on this camera."
        ),
    )

    # False-alert budget (vision.incidents.budget): the bounds match budget.BUDGET_MIN/MAX and THRESHOLD_MIN/MAX
    alert_budget_per_hour = models.FloatField(
        _("false-alert budget (alerts per hour)"),
        default=1.0,
        validators=[MinValueValidator(0.1), MaxValueValidator(30.0)],
        help_text=_(
            "Fight and aggression alerts per hour this camera may raise on ordinary footage. Calibration chooses the "
            "thresholds that keep to it."
        ),
    )
    fight_threshold = models.FloatField(
        _("calibrated fight threshold"),
        null=True,
        blank=True,
        validators=[MinValueValidator(0.05), MaxValueValidator(0.99)],
        help_text=_("Set by calibration. Empty: the model's threshold, shifted by the sensitivity."),
    )
    aggression_threshold = models.FloatField(
        _("calibrated aggression threshold"),
        null=True,
        blank=True,
        validators=[MinValueValidator(0.05), MaxValueValidator(0.99)],
        help_text=_("Set by calibration, together with the fight threshold."),
    )
    incident_calibration = models.JSONField(
        _("incident calibration"),
        default=dict,
        blank=True,
        help_text=_("What the last calibration measured: footage, expected false alerts, reference recall."),
    )
    incident_calibrated_at = models.DateTimeField(_("calibrated at"), null=True, blank=True)
    incident_calibrated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("calibrated by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    health_state = models.CharField(_("health"), max_length=10, choices=Health.choices, default=Health.UNKNOWN)
    health_changed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    health_stats = models.JSONField(
        _("health figures"),
        default=dict,
        blank=True,
        help_text=_("Last reported fps, lag, drops and per-stage milliseconds."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CameraQuerySet.as_manager()

    class Meta:
        ordering = ["venue__name", "name"]
        verbose_name = _("camera")
        verbose_name_plural = _("cameras")
        constraints = [
            models.UniqueConstraint(fields=["venue", "name"], name="camera_unique_name_per_venue"),
            models.CheckConstraint(condition=Q(analysis_fps__gte=0.2, analysis_fps__lte=15.0), name="camera_fps_range"),
            models.CheckConstraint(
                condition=Q(sensitivity__gte=0.0, sensitivity__lte=1.0), name="camera_sensitivity_range"
            ),
            models.CheckConstraint(
                condition=Q(min_duration_s__gte=0.0, min_duration_s__lte=30.0), name="camera_min_duration_range"
            ),
            models.CheckConstraint(condition=Q(cooldown_s__gte=10, cooldown_s__lte=3600), name="camera_cooldown_range"),
            models.CheckConstraint(
                condition=Q(offline_after_s__gte=5, offline_after_s__lte=3600), name="camera_offline_range"
            ),
            models.CheckConstraint(
                condition=Q(stream_url__regex=r"^(rtsps?|https?|file)://"), name="camera_stream_url_scheme"
            ),
            models.CheckConstraint(
                condition=Q(alert_budget_per_hour__gte=0.1, alert_budget_per_hour__lte=30.0),
                name="camera_alert_budget_range",
            ),
            models.CheckConstraint(
                condition=Q(fight_threshold__isnull=True, aggression_threshold__isnull=True)
                | Q(
                    fight_threshold__isnull=False,  # a CHECK passes on NULL: both must be set explicitly
                    aggression_threshold__isnull=False,
                    fight_threshold__gte=0.05,
                    fight_threshold__lte=0.99,
                    aggression_threshold__gte=0.05,
                    aggression_threshold__lte=models.F("fight_threshold"),
                ),
                name="camera_calibrated_thresholds",
            ),
            models.CheckConstraint(
                condition=(Q(latitude__isnull=True) & Q(longitude__isnull=True))
                | Q(
                    latitude__isnull=False,  # a CHECK passes on NULL: both must be set explicitly
                    longitude__isnull=False,
                    latitude__gte=-90,
                    latitude__lte=90,
                    longitude__gte=-180,
                    longitude__lte=180,
                ),
                name="camera_coordinates_paired_in_range",
                violation_error_message=_("Give both latitude and longitude (in range), or neither."),
            ),
        ]
        indexes = [
            # the lease reaper and session start list enabled cameras
            models.Index(fields=["enabled"], name="camera_enabled_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.venue.name} / {self.name}"


class Zone(models.Model):
    """A polygon in a camera's frame (fractions of width/height): crowd capacity, fight-detection mask."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="zones")
    name = models.CharField(_("name"), max_length=100)
    polygon = models.JSONField(
        _("polygon"),
        validators=[validate_polygon],
        help_text=_("List of [x, y] points, each a fraction 0-1 of frame width and height."),
    )
    capacity = models.IntegerField(_("capacity"), null=True, blank=True, validators=[MinValueValidator(0)])
    gathering_rate_per_min = models.FloatField(
        _("rapid gathering rate (people/min)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(0.5), MaxValueValidator(1000.0)],
    )
    exclude_from_fight = models.BooleanField(
        _("exclude from fight detection"),
        default=False,
        help_text=_(
            "Motion inside this area (a screen, a door, a road, a dance floor) does not count toward fight and "
            "aggression scores. People in it are still counted."
        ),
    )
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        ordering = ["camera", "name"]
        verbose_name = _("zone")
        verbose_name_plural = _("zones")
        constraints = [
            models.UniqueConstraint(fields=["camera", "name"], name="zone_unique_name_per_camera"),
            models.CheckConstraint(
                condition=Q(capacity__isnull=True) | Q(capacity__gte=0), name="zone_capacity_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(gathering_rate_per_min__isnull=True)
                | Q(gathering_rate_per_min__gte=0.5, gathering_rate_per_min__lte=1000),
                name="zone_gathering_rate_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.camera} / {self.name}"


class OperatorScope(models.Model):
    """Which venues an operator may see: all, some venues, or whole districts; and their language."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="scope")
    all_venues = models.BooleanField(_("all venues"), default=False)
    venues = models.ManyToManyField(Venue, blank=True, related_name="operators")
    districts = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    language = models.CharField(_("language"), max_length=5, choices=settings.LANGUAGES, blank=True)

    class Meta:
        verbose_name = _("operator scope")
        verbose_name_plural = _("operator scopes")

    def __str__(self) -> str:
        return f"scope of {self.user}"
