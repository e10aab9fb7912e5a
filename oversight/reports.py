"""The transparency report: per deployment and month, what live face matching did.

Faces analysed and alerts raised come from the counters the stream workers write in the same transaction
as the alerts (``DeploymentMonth``); the outcomes come from the alerts linked to the deployment. No row of
the report holds biometric data. Counts from 1 to ``CC_REPORT_MIN_COUNT - 1`` are published as "<N".
"""

from __future__ import annotations

import csv
import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from alerts.models import Alert
from oversight.models import Deployment, DeploymentMonth
from watchlists.models import Subject, Watchlist

UNREVIEWED = (Alert.Review.PENDING, Alert.Review.PARTLY_CONFIRMED)


@dataclass
class ReportRow:
    """One deployment in one month (raw figures; `cell` applies the small-count rule)."""

    deployment: Deployment
    month: date
    faces_analysed: int = 0
    alerts_raised: int = 0
    alerts_linked: int = 0
    confirmed: int = 0
    rejected: int = 0
    expired_unreviewed: int = 0
    awaiting_review: int = 0
    hours_live: float = 0.0
    model_name: str = ""
    thresholds: list[float] = field(default_factory=list)
    watchlist_sizes: dict[str, int] = field(default_factory=dict)

    @property
    def reviewed(self) -> int:
        return self.confirmed + self.rejected

    @property
    def false_alert_rate(self) -> float | None:
        """Rejected among reviewed candidates (None when nothing was reviewed)."""
        return self.rejected / self.reviewed if self.reviewed else None


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """The local month as [start, end) aware datetimes."""
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    start = datetime(month.year, month.month, 1, tzinfo=zone)
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return start, datetime(following.year, following.month, 1, tzinfo=zone)


def month_from(text: str | None, today: date | None = None) -> date:
    """``YYYY-MM`` (the current local month when empty or malformed)."""
    if text:
        try:
            parsed = datetime.strptime(text, "%Y-%m").date()
        except ValueError:
            parsed = None
        if parsed is not None:
            return parsed.replace(day=1)
    return (today or timezone.localdate()).replace(day=1)


def live_span(deployment: Deployment, now: datetime) -> tuple[datetime, datetime] | None:
    """When face matching could run under the deployment (None: it never could)."""
    if deployment.status == Deployment.Status.REQUESTED:
        return None
    if deployment.status == Deployment.Status.REFUSED and not deployment.urgent_reason:
        return None
    end = deployment.ends_at
    if deployment.status == Deployment.Status.URGENT_PENDING and deployment.urgent_deadline:
        end = min(end, deployment.urgent_deadline)
    if deployment.status == Deployment.Status.REFUSED and deployment.decided_at:
        end = min(end, deployment.decided_at)  # an urgent one refused or lapsed: live until then
    if deployment.ended_at:
        end = min(end, deployment.ended_at)
    end = min(end, now)
    return (deployment.starts_at, end) if end > deployment.starts_at else None


def hours_live(deployment: Deployment, month: date, now: datetime) -> float:
    """Hours the deployment was live inside the month."""
    span = live_span(deployment, now)
    if span is None:
        return 0.0
    start, end = month_bounds(month)
    overlap = min(span[1], end) - max(span[0], start)
    return max(0.0, overlap.total_seconds() / 3600)


def deployments_in_month(scope: QuerySet[Deployment], month: date) -> QuerySet[Deployment]:
    """Deployments whose window touches the month and that ever ran (or counted something)."""
    start, end = month_bounds(month)
    counted = DeploymentMonth.objects.filter(month=month).values("deployment")
    touching = Q(starts_at__lt=end, ends_at__gt=start) & ~Q(status=Deployment.Status.REQUESTED)
    return scope.filter(touching | Q(pk__in=counted)).order_by("starts_at", "title").prefetch_related("watchlists")


def build_rows(scope: QuerySet[Deployment], month: date, now: datetime | None = None) -> list[ReportRow]:
    """The report's rows for the month (raw figures)."""
    now = now or timezone.now()
    rows = []
    for deployment in deployments_in_month(scope, month):
        row = ReportRow(deployment=deployment, month=month, hours_live=round(hours_live(deployment, month, now), 1))
        counters = DeploymentMonth.objects.filter(deployment=deployment, month=month).first()
        if counters is not None:
            row.faces_analysed, row.alerts_raised = counters.faces_analysed, counters.alerts_raised
            row.model_name = counters.model_name
        _outcomes(row)
        watchlists = list(deployment.watchlists.all())
        row.thresholds = sorted({w.match_threshold for w in watchlists})
        row.watchlist_sizes = _sizes(watchlists, now)
        rows.append(row)
    return rows


def _outcomes(row: ReportRow) -> None:
    alerts = Alert.objects.filter(
        deployment_link__deployment=row.deployment, deployment_link__month=row.month, kind=Alert.Kind.FACE_MATCH
    )
    figures = alerts.aggregate(
        linked=Count("pk"),
        confirmed=Count("pk", filter=Q(review=Alert.Review.CONFIRMED)),
        rejected=Count("pk", filter=Q(review=Alert.Review.REJECTED)),
        expired=Count("pk", filter=Q(review__in=UNREVIEWED, status=Alert.Status.RESOLVED)),
        awaiting=Count("pk", filter=Q(review__in=UNREVIEWED) & ~Q(status=Alert.Status.RESOLVED)),
    )
    row.alerts_linked = figures["linked"]
    row.confirmed, row.rejected = figures["confirmed"], figures["rejected"]
    row.expired_unreviewed, row.awaiting_review = figures["expired"], figures["awaiting"]


def _sizes(watchlists: list[Any], now: datetime) -> dict[str, int]:
    """Matchable subjects on the deployment's watchlists by category (today)."""
    subjects = Subject.objects.matchable(now).filter(watchlist__in=watchlists)
    counts = subjects.values_list("watchlist__category").annotate(n=Count("pk"))
    return {str(category): int(n) for category, n in counts}


def small(value: int, minimum: int | None = None) -> str:
    """A count as published: 0, "<N" below the minimum, else the number."""
    minimum = settings.CC_REPORT_MIN_COUNT if minimum is None else minimum
    if 0 < value < minimum:
        return f"<{minimum}"
    return str(value)


def rate_text(row: ReportRow) -> str:
    """The false-alert rate, or why it is not published (too few reviewed to publish without disclosure)."""
    rate = row.false_alert_rate
    if rate is None:
        return "—"
    if row.reviewed < settings.CC_REPORT_MIN_COUNT:
        return _("not published (fewer than %(n)d reviewed)") % {"n": settings.CC_REPORT_MIN_COUNT}
    return f"{rate * 100:.1f}%"


def columns() -> list[str]:
    """Column titles of the page, the print view and the CSV (same order)."""
    return [
        _("Deployment"),
        _("Month"),
        _("Status"),
        _("Hours live"),
        _("Faces analysed"),
        _("Alerts raised"),
        _("Confirmed"),
        _("Rejected"),
        _("Expired unreviewed"),
        _("Awaiting review"),
        _("False-alert rate"),
        _("Threshold"),
        _("Model"),
        _("Watchlist sizes"),
    ]


def cells(row: ReportRow) -> list[str]:
    """A row as published (small counts masked)."""
    sizes = ", ".join(f"{_category(c)}: {small(n)}" for c, n in sorted(row.watchlist_sizes.items())) or "—"
    return [
        row.deployment.title,
        f"{row.month:%Y-%m}",
        row.deployment.get_status_display(),
        f"{row.hours_live:.1f}",
        small(row.faces_analysed),
        small(row.alerts_raised),
        small(row.confirmed),
        small(row.rejected),
        small(row.expired_unreviewed),
        small(row.awaiting_review),
        rate_text(row),
        ", ".join(f"{t:.2f}" for t in row.thresholds) or "—",
        row.model_name or "—",
        sizes,
    ]


def _category(value: str) -> str:
    return str(Watchlist.Category(value).label) if value in Watchlist.Category.values else value


def csv_response(rows: list[ReportRow], month: date) -> HttpResponse:
    """The report as CSV (the same masked cells as the page)."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="transparency-{month:%Y-%m}.csv"'
    writer = csv.writer(response)
    writer.writerow(columns())
    for row in rows:
        writer.writerow(cells(row))
    return response


def previous_months(month: date, count: int = 12) -> list[date]:
    """The month and the ones before it (for the month picker)."""
    found, current = [], month
    for _index in range(count):
        found.append(current)
        current = (current - timedelta(days=1)).replace(day=1)
    return found
