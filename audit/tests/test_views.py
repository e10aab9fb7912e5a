"""The auditor's workspace: filters, pagination, one object's history, CSV export, verify page."""

from __future__ import annotations

import csv
import io

import pytest

from audit.models import AccessEvent
from audit.services import access_record
from commandcenter.tests.otp import login_verified

pytestmark = pytest.mark.django_db

SUBJECT = "2f1c8a7e-0000-4000-8000-000000000001"


@pytest.fixture
def log(dispatcher, admin_user):  # type: ignore[no-untyped-def]
    access_record(user=dispatcher, action="view", object_type="watchlists.subject", object_id=SUBJECT)
    access_record(user=dispatcher, action="search", object_type="watchlists.subject", detail={"shown": [SUBJECT]})
    access_record(user=admin_user, action="update", object_type="watchlists.subject", object_id=SUBJECT)
    access_record(user=admin_user, action="view", object_type="alerts.evidence", object_id="e1", detail={"alert": "a1"})
    access_record(user=dispatcher, action="alert_action", object_type="alert", object_id="a1")


def _ids(response):  # type: ignore[no-untyped-def]
    return [event.object_id for event in response.context["page"]]


def test_auditor_filters_by_user_and_action(client, auditor, log):
    login_verified(client, auditor)
    response = client.get("/audit/", {"user": "dispatcher1", "action": "view"})
    assert response.status_code == 200
    assert [(e.username, e.action, e.object_id) for e in response.context["page"]] == [("dispatcher1", "view", SUBJECT)]
    search = AccessEvent.objects.filter(username="auditor1", action="search").get()
    assert search.detail == {"filter": {"user": "dispatcher1", "action": "view"}}


def test_time_range_and_pagination(client, auditor, log):
    login_verified(client, auditor)
    for i in range(60):
        access_record(user=auditor, action="view", object_type="x", object_id=f"bulk{i}")
    first = client.get("/audit/", {"object_type": "x"})
    second = client.get("/audit/", {"object_type": "x", "page": 2})
    assert (len(first.context["page"]), len(second.context["page"])) == (50, 10)
    assert _ids(first)[0] == "bulk59"
    assert _ids(second)[-1] == "bulk0"
    empty = client.get("/audit/", {"since": "2001-01-01T00:00", "until": "2001-01-02T00:00"})
    assert _ids(empty) == []
    bad = client.get("/audit/", {"since": "2001-01-02T00:00", "until": "2001-01-01T00:00"})
    assert bad.status_code == 400


def test_one_subjects_history_includes_listings_that_showed_it(client, auditor, log):
    login_verified(client, auditor)
    response = client.get(f"/audit/object/watchlists.subject/{SUBJECT}/")
    assert [(e.username, e.action) for e in response.context["page"]] == [
        ("admin1", "update"),
        ("dispatcher1", "search"),
        ("dispatcher1", "view"),
    ]


def test_one_alerts_history_includes_its_evidence(client, auditor, log):
    login_verified(client, auditor)
    response = client.get("/audit/object/alert/a1/")
    assert [(e.action, e.object_type) for e in response.context["page"]] == [
        ("alert_action", "alert"),
        ("view", "alerts.evidence"),
    ]


def test_csv_export_is_audited_with_its_filter(client, auditor, log):
    login_verified(client, auditor)
    response = client.get("/audit/", {"user": "admin1", "format": "csv", "purpose": "case 99"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:6] == ["id", "at", "user_id", "username", "role", "action"]
    assert [(r[3], r[5]) for r in rows[1:]] == [("admin1", "view"), ("admin1", "update")]
    export = AccessEvent.objects.get(action="export")
    assert (export.username, export.purpose, export.detail) == (
        "auditor1",
        "case 99",
        {"filter": {"user": "admin1"}, "format": "csv"},
    )


@pytest.mark.parametrize(
    "url", ["/audit/", "/audit/?format=csv", "/audit/verify/", f"/audit/object/watchlists.subject/{SUBJECT}/"]
)
def test_dispatcher_is_refused_and_the_refusal_is_logged(client, dispatcher, log, url):
    client.force_login(dispatcher)
    before = AccessEvent.objects.count()
    response = client.get(url)
    assert response.status_code == 403
    denied = AccessEvent.objects.filter(id__gt=0).order_by("-id").first()
    assert (AccessEvent.objects.count(), denied.action, denied.username) == (before + 1, "denied", "dispatcher1")


def test_admin_cannot_export_the_log(client, admin_user, log):
    # admins manage data; reading and exporting the access log is the auditor's job
    login_verified(client, admin_user)
    assert client.get("/audit/", {"format": "csv"}).status_code == 403


def test_verify_page_reports_intact_chain_and_records_the_head(client, auditor, log):
    login_verified(client, auditor)
    response = client.get("/audit/verify/")
    assert response.status_code == 200
    assert response.context["report"].ok
    record = AccessEvent.objects.get(action="verify")
    assert (record.detail["ok"], record.detail["rows"]) == (True, 6)  # the 5 rows + the auditor's login


def test_verify_page_points_at_the_first_broken_row(client, auditor, log):
    from django.db import connection

    login_verified(client, auditor)
    target = AccessEvent.objects.order_by("id")[2]
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_accessevent DISABLE TRIGGER audit_accessevent_no_update_delete")
        cursor.execute("UPDATE audit_accessevent SET username = 'x' WHERE id = %s", [target.id])
        cursor.execute("ALTER TABLE audit_accessevent ENABLE TRIGGER audit_accessevent_no_update_delete")
    response = client.get("/audit/verify/")
    assert response.context["report"].first_broken_id == target.id
    assert f"Chain BROKEN at row {target.id}" in response.content.decode()
