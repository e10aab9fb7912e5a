"""The false-alert budget in the camera admin and the API: shown, recalibrated, from a recording, refused."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audit.models import AccessEvent
from commandcenter.tests.otp import login_verified
from core.redis import redis_client
from venues.models import Camera
from venues.scores import score_log_clear
from venues.tests.conftest import record

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture(autouse=True)
def _eager_jobs(settings, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    from commandcenter.celery import app

    settings.CC_JOB_UPLOAD_DIR = tmp_path / "uploads"
    monkeypatch.setattr(app.conf, "task_always_eager", True)


@pytest.fixture
def admin_client(client, admin_user):  # type: ignore[no-untyped-def]
    login_verified(client, admin_user)
    return client


def test_change_page_shows_the_operating_point_and_its_footage(admin_client, busy_camera, street_scores):
    # given a camera with a little live history and no calibration
    record(busy_camera, street_scores, loops=1)
    # when its change page opens
    page = admin_client.get(reverse("admin:venues_camera_change", args=[busy_camera.pk])).content.decode()
    # then it shows the model's thresholds, what they gave on the camera's own footage, and the reference recall
    assert "the model&#x27;s thresholds shifted by the sensitivity" in page
    assert "On this camera&#x27;s last 24 h (0.0 h scored) these thresholds gave" in page
    assert "labelled reference fights raise a fight alert" in page
    assert reverse("admin:venues_camera_calibrate", args=[busy_camera.pk]) in page


def test_admin_recalibrates_from_the_last_hours(admin_client, admin_user, busy_camera, street_scores):
    record(busy_camera, street_scores, loops=3)
    url = reverse("admin:venues_camera_calibrate", args=[busy_camera.pk])
    # when the admin asks for the last 24 hours
    response = admin_client.post(url, {"hours": "24"}, follow=True)
    # then the camera is calibrated and its page says so
    stored = Camera.objects.get(pk=busy_camera.pk)
    assert stored.fight_threshold is not None
    page = response.content.decode()
    assert "Calibrated: the new thresholds apply within a few seconds." in page
    assert f"Fight {stored.fight_threshold:.2f}, aggression {stored.aggression_threshold:.2f}: calibrated" in page


def test_admin_sees_why_a_calibration_was_refused(admin_client, busy_camera):  # type: ignore[no-untyped-def]
    # given a camera without any live history
    score_log_clear(redis_client(), busy_camera.pk)
    url = reverse("admin:venues_camera_calibrate", args=[busy_camera.pk])
    # when the admin asks for a calibration, and for more hours than are kept
    refused = admin_client.post(url, {"hours": "24"}, follow=True).content.decode()
    too_long = admin_client.post(url, {"hours": "1000"}).content.decode()
    # then the page says why and nothing changed
    assert "Not calibrated: 0.00 h of scored footage; at least 0.10 h are needed" in refused
    assert "At most 168 hours are kept" in too_long
    assert Camera.objects.get(pk=busy_camera.pk).fight_threshold is None


def test_admin_calibrates_from_a_recording_with_progress(admin_client, busy_camera, sample_file, settings):  # type: ignore[no-untyped-def]
    # given a recording of ordinary footage too short for the budget (a 9 s clip of people on a stage)
    clip = sample_file("faces", "face_recognition", "examples", "short_hamilton_clip.mp4")
    url = reverse("admin:venues_camera_calibrate", args=[busy_camera.pk])
    # when the admin uploads it
    response = admin_client.post(url, {"hours": "", "video": SimpleUploadedFile(clip.name, clip.read_bytes())})
    # then the job ran, its progress page polls a status that explains the refusal, and the upload is gone
    assert response.status_code == 302
    job = response["Location"].split("job=")[1]
    state = admin_client.get(reverse("admin:venues_camera_calibration_status", args=[job])).json()
    assert (state["state"], state["result"]["window"], state["result"]["status"]) == (
        "failed",
        clip.name,
        "not_enough_footage",
    )
    from workers.recordings import video_duration_s

    assert 0 < state["result"]["hours"] * 3600 <= video_duration_s(str(clip)) + 0.1
    assert state["result"]["minimum_hours"] == 0.1
    assert list(settings.CC_JOB_UPLOAD_DIR.iterdir()) == []
    assert "calibration-progress.js" in admin_client.get(response["Location"]).content.decode()


def test_reset_goes_back_to_the_model(admin_client, busy_camera, street_scores):
    record(busy_camera, street_scores, loops=3)
    url = reverse("admin:venues_camera_calibrate", args=[busy_camera.pk])
    admin_client.post(url, {"hours": "24"})
    # when the admin chooses the model's thresholds
    admin_client.post(url, {"hours": "", "reset": "1"})
    # then the calibration is gone
    assert Camera.objects.get(pk=busy_camera.pk).fight_threshold is None


# --- API -------------------------------------------------------------------------------------------------


def test_api_calibrates_and_refuses_with_the_reason(api_client, admin_user, busy_camera, street_scores):
    api_client.force_authenticate(admin_user)
    url = f"/api/cameras/{busy_camera.pk}/calibrate/"
    # given no live history: 409 with the measured footage
    refused = api_client.post(url, {"hours": 24}, format="json")
    assert refused.status_code == 409
    assert refused.json()["calibration"]["status"] == "not_enough_footage"
    # given three loops of street footage: 200 with the summary, and the camera serialises its thresholds
    record(busy_camera, street_scores, loops=3)
    done = api_client.post(url, {"hours": 24}, format="json")
    assert done.status_code == 200, done.content
    shown = api_client.get(f"/api/cameras/{busy_camera.pk}/").json()
    assert (shown["fight_threshold"], shown["incident_calibration"]["window"]) == (
        done.json()["fight_threshold"],
        "last 24 h",
    )
    # and the thresholds cannot be written directly
    api_client.patch(f"/api/cameras/{busy_camera.pk}/", {"fight_threshold": 0.2}, format="json")
    assert Camera.objects.get(pk=busy_camera.pk).fight_threshold == done.json()["fight_threshold"]


def test_api_recording_job_is_only_visible_to_who_started_it(api_client, admin_user, busy_camera, sample_file):  # type: ignore[no-untyped-def]
    from django.contrib.auth.models import Group, User

    clip = sample_file("fights", "violence_clips", "non_violence_1.mp4")
    api_client.force_authenticate(admin_user)
    started = api_client.post(
        f"/api/cameras/{busy_camera.pk}/calibrate/",
        {"video": SimpleUploadedFile(clip.name, clip.read_bytes())},
        format="multipart",
    )
    assert started.status_code == 202, started.content
    status_url = started.json()["status_url"]
    assert api_client.get(status_url).json()["state"] == "failed"  # a few seconds: not enough footage
    # when another admin asks for the same job, then it does not exist for them
    other = User.objects.create_user("admin2")
    other.groups.add(Group.objects.get(name="admin"))
    api_client.force_authenticate(other)
    assert api_client.get(status_url).status_code == 404


def test_dispatcher_cannot_calibrate_and_the_attempt_is_logged(api_client, dispatcher, busy_camera):  # type: ignore[no-untyped-def]
    api_client.force_authenticate(dispatcher)
    # when a dispatcher posts a calibration
    response = api_client.post(f"/api/cameras/{busy_camera.pk}/calibrate/", {"hours": 24}, format="json")
    # then it is refused, logged, and nothing changed
    assert response.status_code == 403
    assert AccessEvent.objects.filter(user_id=dispatcher.pk, action="denied").exists()
    assert Camera.objects.get(pk=busy_camera.pk).incident_calibration == {}
