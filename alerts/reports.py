"""Alert statistics for supervisors and auditors: counts, hours of day, response times, reviews, detectors."""

from __future__ import annotations

import csv
import logging
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Aggregate, Count, Exists, F, FloatField, Func, OuterRef, Q, QuerySet
from django.db.models.functions import ExtractHour
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from alerts.models import (
    INCIDENT_CONFIRMED_OUTCOMES,
    INCIDENT_FALSE_OUTCOMES,
    INCIDENT_RETRAINED_KINDS,
    Alert,
    Evidence,
)
from audit.models import AccessEvent
from audit.services import access_record

logger = logging.getLogger(__name__)

DEFAULT_DAYS = 30
TABLES = ("venue", "kind", "hour", "response", "reviews", "detectors")


class PercentileCont(Aggregate):
    """PostgreSQL `percentile_cont(f) WITHIN GROUP (ORDER BY expr)`: an interpolated quantile."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        super().__init__(expression, fraction=f"{float(fraction):.4f}", **extra)


class EpochSeconds(Func):
    """Seconds in an interval expression, as a float."""

    template = "EXTRACT(EPOCH FROM %(expressions)s)::float8"
    output_field = FloatField()


@dataclass(frozen=True)
class Period:
    """A date range, both days included, in the configured time zone."""

    start: date
    end: date

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=_zone())

    @property
    def end_before(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=_zone())


@dataclass
class Table:
    """One report table: column titles, rows, and which column the bar chart shows."""

    key: str
    title: str
    columns: list[str]
    rows: list[list[Any]]
    chart_column: int | None = None
    bars: list[float] = field(default_factory=list)
    empty: str = ""

    @property
    def lines(self) -> list[tuple[list[Any], float]]:
        """Rows paired with their bar width in percent (0 when the table has no chart)."""
        return list(zip(self.rows, self.bars or [0.0] * len(self.rows), strict=True))


def _zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def period_from(params: Mapping[str, str]) -> Period:
    """`?start=YYYY-MM-DD&end=YYYY-MM-DD`; the last 30 days when absent or invalid."""
    today = timezone.now().astimezone(_zone()).date()
    end = _parse_date(params.get("end", "")) or today
    start = _parse_date(params.get("start", "")) or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        start, end = end, start
    return Period(start=start, end=end)


def _parse_date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw.strip()) if raw else None
    except ValueError:
        return None


def in_period(scope: QuerySet[Alert], period: Period) -> QuerySet[Alert]:
    """Alerts raised within the period."""
    return scope.filter(raised_at__gte=period.start_at, raised_at__lt=period.end_before)


def alerts_by_venue(alerts: QuerySet[Alert]) -> list[list[Any]]:
    """[venue, alerts, still open], most alerts first."""
    rows = (
        alerts.values("venue__name")
        .annotate(total=Count("id"), open=Count("id", filter=~Q(status=Alert.Status.RESOLVED)))
        .order_by("-total", "venue__name")
    )
    return [[r["venue__name"], r["total"], r["open"]] for r in rows]


def alerts_by_kind(alerts: QuerySet[Alert]) -> list[list[Any]]:
    """[kind label, alerts], most alerts first."""
    labels = dict(Alert.Kind.choices)
    rows = alerts.values("kind").annotate(total=Count("id")).order_by("-total", "kind")
    return [[str(labels.get(r["kind"], r["kind"])), r["total"]] for r in rows]


def alerts_by_hour(alerts: QuerySet[Alert]) -> list[list[Any]]:
    """[hour 0-23 in TIME_ZONE, alerts] for all 24 hours."""
    counts = dict(
        alerts.annotate(hour=ExtractHour("raised_at", tzinfo=_zone()))
        .values("hour")
        .annotate(total=Count("id"))
        .values_list("hour", "total")
    )
    return [[f"{hour:02d}:00", counts.get(hour, 0)] for hour in range(24)]


RESPONSE_STEPS = (
    ("acknowledged_at", gettext_lazy("Raised → acknowledged")),
    ("dispatched_at", gettext_lazy("Raised → dispatched")),
    ("resolved_at", gettext_lazy("Raised → resolved")),
)


def response_times(alerts: QuerySet[Alert]) -> list[list[Any]]:
    """[step, alerts, median seconds, p90 seconds] for acknowledge, dispatch and resolve."""
    rows = []
    for field_name, label in RESPONSE_STEPS:
        seconds = EpochSeconds(F(field_name) - F("raised_at"))
        figures = alerts.filter(**{f"{field_name}__isnull": False}).aggregate(
            n=Count("id"), median=PercentileCont(seconds, 0.5), p90=PercentileCont(seconds, 0.9)
        )
        rows.append([str(label), figures["n"], _round(figures["median"]), _round(figures["p90"])])
    return rows


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def face_reviews(alerts: QuerySet[Alert]) -> list[list[Any]]:
    """[watchlist, confirmed, rejected, awaiting review] of face-match candidates."""
    pending = [Alert.Review.PENDING, Alert.Review.PARTLY_CONFIRMED]
    rows = (
        alerts.filter(kind=Alert.Kind.FACE_MATCH)
        .values("subject__watchlist__name")
        .annotate(
            confirmed=Count("id", filter=Q(review=Alert.Review.CONFIRMED)),
            rejected=Count("id", filter=Q(review=Alert.Review.REJECTED)),
            pending=Count("id", filter=Q(review__in=pending)),
        )
        .order_by("subject__watchlist__name")
    )
    unknown = _("(subject removed)")
    return [[r["subject__watchlist__name"] or unknown, r["confirmed"], r["rejected"], r["pending"]] for r in rows]


INCIDENT_KINDS = (Alert.Kind.FIGHT, Alert.Kind.AGGRESSION, Alert.Kind.CROWD)
HINT_MIN_RESOLVED = 5
NOISY_SHARE = 0.5
RELIABLE_SHARE = 0.1
NOISY_HINT = gettext_lazy(
    "Many false alarms: lower the sensitivity, raise the minimum duration, "
    "or exclude the busy area (a zone marked 'exclude from fight detection')"
)
RELIABLE_HINT = gettext_lazy("Reliable")


def detector_performance(alerts: QuerySet[Alert]) -> list[list[Any]]:
    """Dispatchers' outcomes per camera and incident kind, with its settings; most false alarms first.

    "Clips for retraining" counts the fight and aggression alerts whose clip and outcome make them training
    material (`manage.py export_incident_clips`); crowd alerts are not (None).
    """
    labels = dict(Alert.Kind.choices)
    resolved = Q(status=Alert.Status.RESOLVED)
    false_alarm = Q(outcome=Alert.Outcome.FALSE_ALARM)
    telling = Q(outcome__in=[*INCIDENT_CONFIRMED_OUTCOMES, *INCIDENT_FALSE_OUTCOMES])
    rows = (
        alerts.filter(kind__in=INCIDENT_KINDS)
        .annotate(has_clip=Exists(Evidence.objects.filter(alert=OuterRef("pk"), kind=Evidence.Kind.CLIP)))
        .values(
            "camera", "kind", "camera__venue__name", "camera__name", "camera__sensitivity", "camera__min_duration_s"
        )
        .annotate(
            total=Count("id"),
            false_alarms=Count("id", filter=resolved & false_alarm),
            other=Count("id", filter=resolved & ~false_alarm),
            open=Count("id", filter=~resolved),
            clips=Count("id", filter=resolved & telling & Q(has_clip=True)),
        )
        .order_by("-false_alarms", "camera__name", "camera__venue__name", "kind")
    )
    return [
        [
            r["camera__venue__name"],
            r["camera__name"],
            str(labels.get(r["kind"], r["kind"])),
            r["total"],
            r["false_alarms"],
            r["other"],
            r["open"],
            _share(r["false_alarms"], r["false_alarms"] + r["other"]),
            r["camera__sensitivity"],
            r["camera__min_duration_s"],
            r["clips"] if r["kind"] in INCIDENT_RETRAINED_KINDS else None,
            _detector_hint(r["false_alarms"], r["other"]),
        ]
        for r in rows
    ]


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 2) if whole else None


def _detector_hint(false_alarms: int, other: int) -> str:
    """Tuning advice once enough alerts were resolved to judge the detector."""
    resolved = false_alarms + other
    if resolved < HINT_MIN_RESOLVED:
        return ""
    if false_alarms / resolved >= NOISY_SHARE:
        return str(NOISY_HINT)
    if false_alarms / resolved <= RELIABLE_SHARE:
        return str(RELIABLE_HINT)
    return ""


def build_tables(*, scope: QuerySet[Alert], period: Period, only: str = "") -> list[Table]:
    """The report tables for alerts in scope raised within the period."""
    alerts = in_period(scope, period)
    builders = {
        "venue": lambda: Table(
            "venue",
            _("Alerts by venue"),
            [_("Venue"), _("Alerts"), _("Open")],
            alerts_by_venue(alerts),
            chart_column=1,
        ),
        "kind": lambda: Table(
            "kind",
            _("Alerts by kind"),
            [_("Kind"), _("Alerts")],
            alerts_by_kind(alerts),
            chart_column=1,
        ),
        "hour": lambda: Table(
            "hour",
            _("Alerts by hour of day"),
            [_("Hour"), _("Alerts")],
            alerts_by_hour(alerts),
            chart_column=1,
        ),
        "response": lambda: Table(
            "response",
            _("Response times (seconds)"),
            [_("Step"), _("Alerts"), _("Median"), _("90th percentile")],
            response_times(alerts),
            chart_column=2,
        ),
        "reviews": lambda: Table(
            "reviews",
            _("Face matches per watchlist"),
            [_("Watchlist"), _("Confirmed"), _("Rejected"), _("Awaiting review")],
            face_reviews(alerts),
            chart_column=1,
        ),
        "detectors": lambda: Table(
            "detectors",
            _("Incident detector performance per camera"),
            [
                _("Venue"),
                _("Camera"),
                _("Kind"),
                _("Alerts"),
                _("False alarms"),
                _("Other outcomes"),
                _("Open"),
                _("False-alarm share"),
                _("Sensitivity"),
                _("Minimum duration (s)"),
                _("Clips for retraining"),
                _("Hint"),
            ],
            detector_performance(alerts),
            chart_column=4,
            empty=_("No incident alerts in this period."),
        ),
    }
    tables = [builders[key]() for key in TABLES if not only or key == only]
    for table in tables:
        table.bars = _bar_widths(table)
    return tables


def _bar_widths(table: Table) -> list[float]:
    """Percent widths of the chart column, relative to its largest value."""
    if table.chart_column is None:
        return []
    values = [float(row[table.chart_column] or 0) for row in table.rows]
    top = max(values, default=0.0)
    return [round(100.0 * v / top, 1) if top else 0.0 for v in values]


def csv_response(*, user: User | AnonymousUser, scope: QuerySet[Alert], period: Period, table: str) -> HttpResponse:
    """One table as CSV; the export is audited."""
    if table not in TABLES:
        raise Http404("unknown report table")
    (report,) = build_tables(scope=scope, period=period, only=table)
    access_record(
        user=user,
        action=AccessEvent.Action.EXPORT,
        object_type="alerts.report",
        object_id=table,
        detail={"start": period.start.isoformat(), "end": period.end.isoformat()},
    )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    filename = f"alerts-{table}-{period.start.isoformat()}-{period.end.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(report.columns)
    writer.writerows([[_csv_safe(cell) for cell in row] for row in report.rows])
    return response


def _csv_safe(cell: Any) -> Any:
    """Neutralise spreadsheet formulas in text cells (names typed by admins)."""
    if cell is None:
        return ""
    if isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + cell
    return cell
