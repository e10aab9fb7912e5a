"""Recorded footage over the API: a background job with progress; bad files get a clear 400."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audit.models import AccessEvent
from core.jobs import job_status

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture(autouse=True)
def _eager_jobs(settings, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    from commandcenter.celery import app

    settings.CC_JOB_UPLOAD_DIR = tmp_path / "uploads"
    monkeypatch.setattr(app.conf, "task_always_eager", True)


def test_supervisor_analyses_a_clip_and_polls_the_result(api_client, supervisor, sample_file, settings):
    clip = sample_file("fights", "violence_clips", "violence_1.mp4")
    api_client.force_authenticate(supervisor)
    response = api_client.post(
        "/api/recordings/",
        {"video": SimpleUploadedFile(clip.name, clip.read_bytes()), "purpose": "case 2026/91", "fps": 5},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    job = response.json()["job"]
    state = api_client.get(f"/api/recordings/{job}/").json()
    assert (state["state"], state["progress"]) == ("done", 1.0)
    result = state["result"]
    assert result["frames_analysed"] > 0
    assert {"t", "people", "fight_score"} <= set(result["timeline"][0])
    search = AccessEvent.objects.get(user_id=supervisor.pk, action="search", object_type="recording")
    assert (search.object_id, search.purpose) == (job, "case 2026/91")
    # and the uploaded footage is not kept once the job has ended
    assert list(settings.CC_JOB_UPLOAD_DIR.iterdir()) == []


def test_failed_job_reports_the_error_and_deletes_the_upload(settings, monkeypatch):
    from workers import tasks

    # given an uploaded file that the analysis cannot finish
    upload = settings.CC_JOB_UPLOAD_DIR / "broken.mp4"
    upload.parent.mkdir(parents=True)
    upload.write_bytes(b"not a video at all")

    def explode(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("decoder gave up at frame 12")

    monkeypatch.setattr(tasks, "analyse_file", explode)
    # when the job runs
    tasks.analyze_video_job.apply(("job-1", str(upload), 5.0, None))
    # then its status says why, and the footage is gone
    state = job_status("job-1")
    assert (state["state"], state["error"]) == ("failed", "decoder gave up at frame 12")
    assert not upload.exists()


def test_another_user_cannot_read_the_job(api_client, supervisor, dispatcher, sample_file):
    clip = sample_file("fights", "violence_clips", "non_violence_1.mp4")
    api_client.force_authenticate(supervisor)
    job = api_client.post(
        "/api/recordings/",
        {"video": SimpleUploadedFile(clip.name, clip.read_bytes()), "purpose": "p"},
        format="multipart",
    ).json()["job"]
    api_client.force_authenticate(dispatcher)
    assert api_client.get(f"/api/recordings/{job}/").status_code == 404


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("clip.mp4", b"\x00\x00\x00\x18ftypmp42 broken", "cannot be decoded as video"),
        ("notes.txt", b"hello", "are not videos we read"),
    ],
)
def test_bad_files_are_rejected_with_a_reason(api_client, supervisor, name, content, message):
    api_client.force_authenticate(supervisor)
    response = api_client.post(
        "/api/recordings/", {"video": SimpleUploadedFile(name, content), "purpose": "p"}, format="multipart"
    )
    assert response.status_code == 400
    assert message in response.json()["video"][0]


def test_auditor_cannot_start_an_analysis(api_client, auditor):
    api_client.force_authenticate(auditor)
    response = api_client.post(
        "/api/recordings/", {"video": SimpleUploadedFile("a.mp4", b"x"), "purpose": "p"}, format="multipart"
    )
    assert response.status_code == 403
    assert AccessEvent.objects.filter(user_id=auditor.pk, action="denied", object_type="recording").exists()
