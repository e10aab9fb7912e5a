"""A camera's false-alert budget: calibrated on its own recorded scores, stored audited, shown and refused clearly."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from audit.models import AccessEvent
from venues.models import Camera
from venues.services import CalibrationError, camera_calibrate_incidents, camera_clear_incident_calibration
from venues.tests.conftest import record
from vision.incidents.budget import BUDGET_MAX, BUDGET_MIN, THRESHOLD_MAX, THRESHOLD_MIN, poisson_upper

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_live_calibration_stores_the_thresholds_and_audits_them(busy_camera, street_scores, admin_user):
    # given three loops of ordinary street footage in the camera's score history
    record(busy_camera, street_scores, loops=3)
    # when an admin calibrates it on the last 24 hours
    summary = camera_calibrate_incidents(camera=busy_camera, user=admin_user, source="live", hours=24)
    # then thresholds within the budget are stored with the summary
    stored = Camera.objects.get(pk=busy_camera.pk)
    assert (stored.fight_threshold, stored.aggression_threshold) == (
        summary["fight_threshold"],
        summary["aggression_threshold"],
    )
    assert THRESHOLD_MIN <= stored.aggression_threshold <= stored.fight_threshold <= THRESHOLD_MAX
    assert (summary["source"], summary["window"], summary["segments"]) == ("live", "last 24 h", 3)
    alerts = summary["fight_alerts"] + summary["aggression_alerts"]
    assert summary["upper_per_hour"] == pytest.approx(poisson_upper(alerts) / summary["hours"], rel=1e-3)
    assert summary["upper_per_hour"] <= 30.0
    assert stored.incident_calibration["computed_by"] == admin_user.username
    assert stored.incident_calibrated_by == admin_user
    # and the reference recall at those thresholds is reported
    assert summary["recall"]["clips"] > 0
    assert 0.0 <= summary["recall"]["fight"] <= summary["recall"]["any_alert"] <= 1.0
    # and one audit row says who calibrated what
    row = AccessEvent.objects.get(object_type="venues.camera", object_id=str(busy_camera.pk), user_id=admin_user.pk)
    assert row.action == "update"
    assert row.detail["calibrated"]["fight_threshold"] == stored.fight_threshold
    assert row.detail["previous_thresholds"] == [None, None]


def test_too_little_footage_is_refused_and_changes_nothing(busy_camera, street_scores, admin_user):
    # given one loop (139 s) of footage, and the default budget of 1 alert per hour
    record(busy_camera, street_scores, loops=1)
    busy_camera.alert_budget_per_hour = 1.0
    busy_camera.save()
    # when it is calibrated
    with pytest.raises(CalibrationError, match=r"at least 3\.00 h are needed") as caught:
        camera_calibrate_incidents(camera=busy_camera, user=admin_user, source="live", hours=24)
    # then the error carries the measured hours, and the camera and the audit log are untouched
    assert caught.value.summary["status"] == "not_enough_footage"
    seconds = street_scores[-1][0] - street_scores[0][0] + 0.1
    assert caught.value.summary["hours"] == pytest.approx(seconds / 3600, abs=1e-4)
    stored = Camera.objects.get(pk=busy_camera.pk)
    assert (stored.fight_threshold, stored.aggression_threshold, stored.incident_calibration) == (None, None, {})
    assert not AccessEvent.objects.filter(object_type="venues.camera", object_id=str(busy_camera.pk)).exists()


def test_scores_of_other_excluded_areas_do_not_count(busy_camera, street_scores, admin_user):
    from venues.models import Zone

    # given footage recorded before a door was excluded from fight detection
    record(busy_camera, street_scores, loops=3)
    Zone.objects.create(camera=busy_camera, name="Door", polygon=[[0, 0], [0.2, 0], [0.2, 1]], exclude_from_fight=True)
    # when the camera is calibrated now, then none of it is the camera's current footage
    with pytest.raises(CalibrationError) as caught:
        camera_calibrate_incidents(camera=busy_camera, user=admin_user, source="live", hours=24)
    assert (caught.value.summary["hours"], caught.value.summary["segments"]) == (0.0, 0)


def test_clearing_goes_back_to_the_model_and_is_audited(busy_camera, street_scores, admin_user):
    from venues.calibration import operating_point

    record(busy_camera, street_scores, loops=3)
    camera_calibrate_incidents(camera=busy_camera, user=admin_user, source="live", hours=24)
    calibrated = Camera.objects.get(pk=busy_camera.pk)
    previous = [calibrated.fight_threshold, calibrated.aggression_threshold]
    # when the admin goes back to the model's thresholds
    camera_clear_incident_calibration(camera=calibrated, user=admin_user)
    # then nothing calibrated is left, the model's thresholds apply, and both changes are in the log
    stored = Camera.objects.get(pk=busy_camera.pk)
    assert (stored.fight_threshold, stored.aggression_threshold, stored.incident_calibration) == (None, None, {})
    assert operating_point(stored).calibrated is False
    rows = AccessEvent.objects.filter(object_type="venues.camera", object_id=str(busy_camera.pk)).order_by("id")
    assert [sorted(r.detail) for r in rows] == [
        ["calibrated", "previous_thresholds"],
        ["calibration_cleared", "previous_thresholds"],
    ]
    assert rows[1].detail["previous_thresholds"] == previous
    assert None not in previous


def test_database_refuses_thresholds_out_of_bounds_or_out_of_order(camera):
    from django.db import IntegrityError, transaction

    # the model's bounds are the budget maths' bounds
    budget = Camera._meta.get_field("alert_budget_per_hour")
    assert [v.limit_value for v in budget.validators] == [BUDGET_MIN, BUDGET_MAX]
    for fight, aggression in [(0.5, 0.6), (1.2, 0.5), (0.5, None), (0.5, 0.01)]:
        # given thresholds that are out of order, out of range or half set, then the database refuses them
        with pytest.raises(IntegrityError), transaction.atomic():
            Camera.objects.filter(pk=camera.pk).update(fight_threshold=fight, aggression_threshold=aggression)
    with pytest.raises(IntegrityError), transaction.atomic():
        Camera.objects.filter(pk=camera.pk).update(alert_budget_per_hour=0.0)


# --- management command --------------------------------------------------------------------------------


def test_command_calibrates_from_the_live_history_and_prints_json(busy_camera, street_scores):
    record(busy_camera, street_scores, loops=3)
    out = StringIO()
    # when the command runs by "Venue / Camera"
    call_command(
        "calibrate_incidents", f"{busy_camera.venue.name} / {busy_camera.name}", "--hours", "2", "--json", stdout=out
    )
    # then it prints the stored calibration
    summary = json.loads(out.getvalue())
    stored = Camera.objects.get(pk=busy_camera.pk)
    assert (summary["fight_threshold"], summary["window"]) == (stored.fight_threshold, "last 2 h")


def test_command_fails_clearly(busy_camera, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    cases = [
        (["no-such-camera"], "no camera 'no-such-camera'"),
        ([str(busy_camera.pk), "--hours", "24"], "not calibrated: 0.00 h of scored footage"),
        ([str(busy_camera.pk), "--hours", "100000"], "--hours must be more than 0 and at most 168"),
        ([str(busy_camera.pk), "--recording", str(tmp_path / "gone.mp4")], "no such video file"),
        ([str(busy_camera.pk), "--recording", str(broken)], "cannot read"),
    ]
    for args, message in cases:
        # when the command runs with a bad camera, no footage, a bad window or a missing or unreadable file
        with pytest.raises(CommandError, match=message):
            call_command("calibrate_incidents", *args, stdout=StringIO())
    # then nothing was stored
    assert Camera.objects.get(pk=busy_camera.pk).fight_threshold is None


def test_operating_point_reads_in_the_operator_language(busy_camera, street_scores, admin_user):
    from django.utils import translation

    from venues.calibration import describe

    record(busy_camera, street_scores, loops=3)
    camera_calibrate_incidents(camera=busy_camera, user=admin_user, source="live", hours=24)
    stored = Camera.objects.get(pk=busy_camera.pk)
    # when the camera's operating point is described in Russian and in Kazakh
    with translation.override("ru"):
        russian = describe(stored)
    with translation.override("kk"):
        kazakh = describe(stored)
    # then every line is translated, with the same figures
    assert russian[0].startswith(f"Драка {stored.fight_threshold:.2f}, агрессия {stored.aggression_threshold:.2f}")
    assert kazakh[0].startswith(f"Төбелес {stored.fight_threshold:.2f}, агрессия {stored.aggression_threshold:.2f}")
    assert russian[2].startswith("Обнаруживаемые драки:")
    assert kazakh[2].startswith("Анықталатын төбелестер:")
    assert len(russian) == len(kazakh) == 3
