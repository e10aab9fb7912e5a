"""The transparency report reconciles with the alerts table; small counts are masked; page, CSV, print."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from alerts.models import Alert
from alerts.services import alert_confirm_match, alert_raise, alert_reject_match, alert_resolve
from audit.models import AccessEvent
from oversight.models import Deployment, DeploymentMonth
from oversight.reports import build_rows, cells, hours_live, small
from oversight.services import deployment_alert_raised, deployment_count_faces, month_of
from tests.support.oversight import authorised_deployment

pytestmark = pytest.mark.django_db


@pytest.fixture
def missing_list(admin_user):  # type: ignore[no-untyped-def]
    from watchlists.models import Watchlist

    return Watchlist.objects.create(
        name="Missing persons",
        category="missing",
        legal_basis="Family reports",
        owner=admin_user,
        match_threshold=0.94,
        requires_second_confirmation=False,
    )


def _subjects(watchlist, admin_user, n):  # type: ignore[no-untyped-def]
    from watchlists.models import Subject

    return [
        Subject.objects.create(
            watchlist=watchlist,
            display_name=f"Person {i}",
            legal_basis_reference="Case 2/26",
            added_by=admin_user,
            expires_at=timezone.now() + timedelta(days=30),
        )
        for i in range(n)
    ]


def _raise(camera, subject, deployment, track):  # type: ignore[no-untyped-def]
    """As the stream worker does: the alert and the deployment's counters in one transaction."""
    with transaction.atomic():
        result = alert_raise(
            kind="face_match",
            camera=camera,
            severity=2,
            score=0.96,
            subject=subject,
            track_key=f"{subject.pk}:{track}",
            probe_embedding=[0.1] * 128,
        )
        assert result.created
        deployment_alert_raised(deployment_id=deployment.pk, alert=result.alert, faces=4, model_name="Dlib")
    return result.alert


def test_report_figures_reconcile_with_the_alerts_table(camera, missing_list, admin_user, dispatcher):
    # given a deployment under which 8 candidates were raised and reviewed in different ways
    deployment = authorised_deployment(cameras=[camera], watchlists=[missing_list])
    subjects = _subjects(missing_list, admin_user, 8)
    alerts = [_raise(camera, subject, deployment, i) for i, subject in enumerate(subjects)]
    for alert in alerts[:3]:
        alert_confirm_match(alert_id=alert.pk, actor=dispatcher)
    for alert in alerts[3:6]:
        alert_reject_match(alert_id=alert.pk, actor=dispatcher)
    alert_resolve(alert_id=alerts[6].pk, actor=dispatcher, outcome="no_action")  # closed, never reviewed
    deployment_count_faces(deployment_id=deployment.pk, faces=100, at=timezone.now())
    month = month_of(timezone.now())

    # when the month's report is built
    (row,) = build_rows(Deployment.objects.all(), month)

    # then every figure equals what the alerts table says
    linked = Alert.objects.filter(deployment_link__deployment=deployment, kind="face_match")
    assert row.alerts_raised == linked.count() == row.alerts_linked == 8
    assert row.confirmed == linked.filter(review="confirmed").count() == 3
    assert row.rejected == linked.filter(review="rejected").count() == 3
    assert row.expired_unreviewed == linked.filter(review="pending", status="resolved").count() == 1
    assert row.awaiting_review == linked.filter(review="pending").exclude(status="resolved").count() == 1
    assert row.faces_analysed == 8 * 4 + 100 == DeploymentMonth.objects.get().faces_analysed
    assert row.false_alert_rate == pytest.approx(3 / 6)
    assert row.thresholds == [0.94]
    assert row.model_name == "Dlib"
    assert row.watchlist_sizes == {"missing": 8}
    assert row.hours_live == 0.0  # started seconds ago (rounded to a tenth of an hour)
    # and the published cells mask counts below the minimum (5)
    published = dict(
        zip(
            [
                "title",
                "month",
                "status",
                "hours",
                "faces",
                "raised",
                "confirmed",
                "rejected",
                "expired",
                "awaiting",
                "rate",
            ],
            cells(row),
            strict=False,
        )
    )
    assert (published["faces"], published["raised"], published["confirmed"]) == ("132", "8", "<5")
    assert (published["expired"], published["rate"]) == ("<5", "50.0%")


def test_small_counts_and_hours(camera, missing_list):
    assert [small(0), small(1), small(4), small(5), small(17)] == ["0", "<5", "<5", "5", "17"]
    deployment = authorised_deployment(cameras=[camera], watchlists=[missing_list], hours=10)
    month = month_of(deployment.starts_at)
    later = deployment.starts_at + timedelta(hours=3)
    assert hours_live(deployment, month, later) == pytest.approx(3.0, abs=0.01) or month_of(later) != month


def test_page_csv_and_print_for_supervisors_and_auditors_only(client, camera, missing_list, supervisor, dispatcher):
    deployment = authorised_deployment(cameras=[camera], watchlists=[missing_list])
    client.force_login(supervisor)
    page = client.get("/oversight/transparency/")
    assert page.status_code == 200
    assert deployment.title in page.content.decode()
    export = client.get("/oversight/transparency/?format=csv")
    assert export.status_code == 200
    rows = list(csv.reader(io.StringIO(export.content.decode())))
    assert rows[0][0] == "Deployment"
    assert rows[1][0] == deployment.title
    printable = client.get("/oversight/transparency/?format=print")
    assert printable.status_code == 200
    assert b"print-report.css" in printable.content
    assert AccessEvent.objects.filter(object_type="transparency_report", action="export").count() == 1
    client.force_login(dispatcher)
    assert client.get("/oversight/transparency/").status_code == 403
