"""The auditor's workspace: filtered log with pagination and CSV export, one object's history,
chain verification. Every page is itself recorded in the log."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from audit import selectors
from audit.forms import EventFilterForm
from audit.services import HASHED_FIELDS

PAGE_SIZE = 50
CSV_COLUMNS = [*HASHED_FIELDS, "prev_hash", "hash"]


def _page(request: HttpRequest, queryset: Any) -> Any:
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def _query_without_page(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


@never_cache
@login_required
@require_GET
def event_list(request: HttpRequest) -> HttpResponseBase:
    """The access log, filtered; `?format=csv` exports the same filter."""
    form = EventFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return render(request, "audit/log.html", {"form": form, "page": None}, status=400)
    filters = form.to_filter() if form.is_bound else selectors.EventFilter()
    purpose = form.cleaned_data.get("purpose", "") if form.is_bound else ""
    if request.GET.get("format") == "csv":
        rows = selectors.events_export(user=request.user, filters=filters, purpose=purpose)
        return _csv_response(rows)
    rows = selectors.events_search(user=request.user, filters=filters, purpose=purpose)
    return render(
        request, "audit/log.html", {"form": form, "page": _page(request, rows), "query": _query_without_page(request)}
    )


@never_cache
@login_required
@require_GET
def object_history(request: HttpRequest, object_type: str, object_id: str) -> HttpResponse:
    """Everything the log says about one subject, alert, evidence file or other object."""
    rows = selectors.object_history(
        user=request.user,
        object_type=object_type[:50],
        object_id=object_id[:64],
        purpose=request.GET.get("purpose", "")[:300],
    )
    return render(
        request,
        "audit/object.html",
        {
            "object_type": object_type,
            "object_id": object_id,
            "page": _page(request, rows),
            "query": _query_without_page(request),
        },
    )


@never_cache
@login_required
@require_GET
def chain_verify_page(request: HttpRequest) -> HttpResponse:
    """Recompute the chain now and point at the first broken row, if any."""
    report, anchors = selectors.chain_check(user=request.user)
    return render(request, "audit/verify.html", {"report": report, "anchors": anchors}, status=200)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_safe(value: Any) -> Any:
    """Keep spreadsheet programs from running cell contents as formulas."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _csv_rows(rows: Any) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for row in rows.iterator(chunk_size=2000):
        values = [getattr(row, column) for column in CSV_COLUMNS]
        values[1] = row.at.isoformat()
        values[11] = json.dumps(row.detail, sort_keys=True, ensure_ascii=False)
        yield writer.writerow([_csv_safe(value) for value in values])


def _csv_response(rows: Any) -> StreamingHttpResponse:
    response = StreamingHttpResponse(_csv_rows(rows), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%dT%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="access-log-{stamp}.csv"'
    response["Cache-Control"] = "private, no-store"
    return response
