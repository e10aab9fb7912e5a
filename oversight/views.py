"""Pages of the oversight app: deployments (list, request, decide)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from alerts.models import Alert
from alerts.selectors import alerts_for
from audit.models import AccessEvent
from audit.services import access_record
from core.api import acting_user
from oversight import reports, services
from oversight.exports import ExportResult, evidence_export
from oversight.forms import DecisionForm, DeploymentRequestForm, EventSearchForm, ExportForm
from oversight.models import Deployment
from oversight.search import SearchQuery, event_search
from oversight.selectors import deployments_for

PAGE_SIZE = 50
DECIDED = {
    "authorise": gettext_lazy("%(status)s: face matching may run on what it covers, against its watchlists."),
    "refuse": gettext_lazy("%(status)s: face matching does not run under it."),
    "end": gettext_lazy("%(status)s: face matching under it has stopped."),
}


def _require(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied(perm)


@login_required
@require_http_methods(["GET", "POST"])
def deployment_list(request: HttpRequest) -> HttpResponse:
    """Deployments in scope, newest first, with the request form for those who may request."""
    _require(request, "oversight.view_deployment")
    form = None
    if request.user.has_perm("oversight.request_deployment"):
        form = DeploymentRequestForm(request.POST or None, user=request.user)
        if request.method == "POST" and form.is_valid():
            created = _request(request, form)
            if created is not None:
                return HttpResponseRedirect(reverse("oversight-deployment", args=[created.pk]))
    elif request.method == "POST":
        raise PermissionDenied("oversight.request_deployment")
    status = request.GET.get("status", "")
    rows = deployments_for(request.user).select_related("requested_by", "decided_by")
    if status in Deployment.Status.values:
        rows = rows.filter(status=status)
    context = {
        "deployments": list(rows.prefetch_related("venues", "cameras", "watchlists")[:PAGE_SIZE]),
        "form": form,
        "statuses": Deployment.Status.choices,
        "status": status,
        "now": timezone.now(),
    }
    return render(request, "oversight/deployments.html", context)


def _request(request: HttpRequest, form: DeploymentRequestForm) -> Deployment | None:
    data = form.cleaned_data
    plan = services.DeploymentPlan(
        title=data["title"],
        purpose=data["purpose"],
        legal_basis=data["legal_basis"],
        starts_at=data["starts_at"],
        ends_at=data["ends_at"],
        venues=tuple(data["venues"]),
        cameras=tuple(data["cameras"]),
        watchlists=tuple(data["watchlists"]),
    )
    actor = acting_user(request)
    try:
        if data["urgent_reason"].strip():
            deployment = services.deployment_start_urgent(actor=actor, plan=plan, reason=data["urgent_reason"])
            messages.warning(request, _("Urgent deployment started: it must be authorised in time."))
        else:
            deployment = services.deployment_request(actor=actor, plan=plan)
            messages.success(request, _("Deployment requested: face matching starts once it is authorised."))
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
        return None
    return deployment


def _deployment(request: HttpRequest, deployment_id: uuid.UUID) -> Deployment:
    deployment = deployments_for(request.user).filter(pk=deployment_id).first()
    if deployment is None:
        raise Http404(_("No such deployment."))
    return deployment


@login_required
def deployment_detail(request: HttpRequest, deployment_id: uuid.UUID) -> HttpResponse:
    """One deployment: what, where, why, who asked and who decided; the decision buttons for those allowed."""
    _require(request, "oversight.view_deployment")
    deployment = _deployment(request, deployment_id)
    user = request.user
    may_decide = (
        user.has_perm("oversight.authorise_deployment")
        and deployment.requested_by_id != user.pk
        and deployment.status in (Deployment.Status.REQUESTED, Deployment.Status.URGENT_PENDING)
    )
    may_end = deployment.status in (Deployment.Status.AUTHORISED, Deployment.Status.URGENT_PENDING) and (
        user.has_perm("oversight.authorise_deployment") or user.has_perm("oversight.request_deployment")
    )
    context: dict[str, Any] = {
        "deployment": deployment,
        "may_decide": may_decide,
        "own_request": deployment.requested_by_id == user.pk,
        "may_end": may_end,
        "form": DecisionForm(),
        "now": timezone.now(),
        "months": list(deployment.months.order_by("month")),
        "matching_until": _matching_until(deployment),
    }
    return render(request, "oversight/deployment.html", context)


@login_required
@require_POST
def deployment_decide(request: HttpRequest, deployment_id: uuid.UUID, decision: str) -> HttpResponse:
    """Authorise, refuse or end (the service checks who may, compare-and-set, audits)."""
    _require(request, "oversight.view_deployment")
    deployment = _deployment(request, deployment_id)
    decisions: dict[str, Callable[..., Deployment]] = {
        "authorise": services.deployment_authorise,
        "refuse": services.deployment_refuse,
        "end": services.deployment_end,
    }
    service = decisions.get(decision)
    if service is None:
        raise Http404(decision)
    form = DecisionForm(request.POST)
    note = form.data.get("note", "") if form.is_valid() else ""
    try:
        done = service(deployment_id=deployment.pk, actor=acting_user(request), note=note)
        messages.success(request, DECIDED.get(decision, "") % {"status": done.get_status_display()})
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except services.DeploymentConflict as exc:
        messages.error(request, exc.message)
    return HttpResponseRedirect(reverse("oversight-deployment", args=[deployment.pk]))


@login_required
@require_GET
def transparency(request: HttpRequest) -> HttpResponse:
    """The transparency report for a month: page, printable view (`?format=print`) or CSV (`?format=csv`)."""
    _require(request, "oversight.view_transparency")
    month = reports.month_from(request.GET.get("month"))
    scope = deployments_for(request.user)
    wanted = request.GET.get("deployment", "")
    if wanted:
        try:
            scope = scope.filter(pk=uuid.UUID(wanted))
        except ValueError:
            scope = scope.none()
    rows = reports.build_rows(scope, month)
    output = request.GET.get("format", "")
    access_record(
        user=request.user,
        action=AccessEvent.Action.EXPORT if output == "csv" else AccessEvent.Action.VIEW,
        object_type="transparency_report",
        object_id=f"{month:%Y-%m}",
        detail={"format": output or "html", "deployment": wanted, "rows": len(rows)},
    )
    if output == "csv":
        return reports.csv_response(rows, month)
    context = {
        "month": month,
        "months": reports.previous_months(reports.month_from(None)),
        "columns": reports.columns(),
        "rows": [reports.cells(row) for row in rows],
        "deployment": wanted,
        "minimum": settings.CC_REPORT_MIN_COUNT,
        "generated_at": timezone.now(),
    }
    template = "oversight/transparency_print.html" if output == "print" else "oversight/transparency.html"
    return render(request, template, context)


@login_required
@require_http_methods(["GET", "POST"])
def alert_export(request: HttpRequest, alert_id: uuid.UUID) -> HttpResponse:
    """Export one alert's evidence as a zip (purpose required; bystanders' faces blurred unless unmasked)."""
    if not request.user.has_perm("oversight.export_evidence"):
        raise PermissionDenied("oversight.export_evidence")
    alert = alerts_for(request.user).filter(pk=alert_id).first()
    if alert is None:
        raise Http404(_("No such alert."))
    incident = alert.kind != Alert.Kind.FACE_MATCH
    may_unmask = request.user.has_perm("oversight.export_unmasked")
    form = ExportForm(request.POST or None, may_unmask=may_unmask, incident=incident)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result = evidence_export(
                actor=acting_user(request),
                alert_ids=[alert.pk],
                purpose=data["purpose"],
                unmasked=bool(data.get("unmasked")),
                involved=data.get("involved", []) if data.get("mask_people") else None,
            )
        except ValidationError as exc:
            form.add_error(None, " ".join(exc.messages))
        else:
            return zip_response(result)
    preview = _people_preview(request, alert) if incident else ""
    return render(request, "oversight/export.html", {"alert": alert, "form": form, "preview": preview})


def _people_preview(request: HttpRequest, alert: Alert) -> str:
    """The snapshot with faces blurred and people numbered (to choose the involved ones), as a data URL."""
    import base64

    import cv2

    from oversight.exports import Masker

    evidence = alert.evidence.filter(kind="snapshot").order_by("created_at").first()
    if evidence is None:
        return ""
    access_record(
        user=request.user,
        action=AccessEvent.Action.VIEW,
        object_type="alerts.evidence",
        object_id=evidence.pk,
        purpose="export: choose the involved people",
        detail={"alert": str(alert.pk)},
    )
    with evidence.file.open("rb") as handle:
        image = cv2.imdecode(np.frombuffer(handle.read(), np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        return ""
    masker = Masker()
    masked, _blurred, _kept = masker.mask(image, None)
    for number, (x, y, w, h) in enumerate(masker.people(image), start=1):
        cv2.rectangle(masked, (int(x), int(y)), (int(x + w), int(y + h)), (0, 200, 255), 2)
        cv2.putText(masked, str(number), (int(x) + 4, int(y) + 24), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (0, 200, 255), 2)
    ok, buffer = cv2.imencode(".jpg", masked, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return "data:image/jpeg;base64," + base64.b64encode(buffer.tobytes()).decode() if ok else ""


def zip_response(result: ExportResult) -> HttpResponse:
    """The export as a download."""
    response = HttpResponse(result.data, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{result.filename}"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def event_search_page(request: HttpRequest) -> HttpResponse:
    """Search past alerts with a purpose; results open in the alert detail. Each search is audited."""
    if not request.user.has_perm("oversight.search_events"):
        raise PermissionDenied("oversight.search_events")
    form = EventSearchForm(request.POST or None, request.FILES or None, user=request.user)
    result = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        photo = data["photo"].read() if data.get("photo") else None
        query = SearchQuery(
            purpose=data["purpose"],
            start=data["start"],
            end=data["end"],
            venue=data["venue"],
            camera=data["camera"],
            kind=data["kind"],
            status=data["status"],
            review=data["review"],
            subject=data["subject"],
            watchlist=data["watchlist"],
            photo=photo,
        )
        try:
            result = event_search(user=acting_user(request), query=query)
        except ValidationError as exc:
            form.add_error(None, " ".join(exc.messages))
    rows = []
    if result is not None:
        rows = [(alert, result.similarity.get(alert.pk)) for alert in result.alerts]
    return render(request, "oversight/search.html", {"form": form, "result": result, "rows": rows})


def _matching_until(deployment: Deployment) -> Any:
    """When face matching under the deployment stops, if it may run now (None: it does not run now)."""
    now = timezone.now()
    until = deployment.matching_until()
    return until if until is not None and deployment.starts_at <= now < until else None
