"""Admin enrolment: single photo (with face choice) and a bulk zip job with progress."""

from __future__ import annotations

import datetime
import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from commandcenter.tests.otp import login_verified
from watchlists.models import FaceTemplate, Subject

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"


def test_admin_enrols_a_photo_and_is_asked_to_pick_a_face(client, admin_user, watchlist, sample_file, tmp_path):
    subject = Subject.objects.create(
        watchlist=watchlist,
        display_name="P",
        legal_basis_reference="W",
        added_by=admin_user,
        expires_at=timezone.now() + datetime.timedelta(days=9),
    )
    login_verified(client, admin_user)
    url = f"/admin/watchlists/subject/{subject.pk}/enrol/"
    couple = sample_file("faces", "deepface", "couple.jpg").read_bytes()
    # when a photo of two people of similar size is uploaded
    page = client.post(url, {"photo": SimpleUploadedFile("couple.jpg", couple)})
    # then each face is shown as a clickable thumbnail and the upload is kept for the choice
    body = page.content.decode()
    assert "Several faces were found" in body
    assert body.count('name="choose"') == 2
    assert body.count('src="data:image/jpeg;base64,') == 2
    token = page.context["pending"]
    kept = tmp_path / "media" / "enrol-pending" / token
    assert kept.read_bytes() == couple
    assert not FaceTemplate.objects.exists()
    # when the admin clicks the second face (no second upload)
    done = client.post(url, {"pending": token, "choose": "1"})
    # then that face is enrolled and the kept upload is gone
    assert done.status_code == 302
    template = FaceTemplate.objects.get(subject=subject)
    assert template.box == dict(zip("xywh", page.context["faces"][1]["box"], strict=True))
    assert not kept.exists()


def test_bulk_zip_enrols_and_reports_progress(client, admin_user, watchlist, sample_file, monkeypatch):
    from watchlists import tasks

    monkeypatch.setattr(tasks.watchlist_import_job, "delay", lambda *a: tasks.watchlist_import_job.apply(a))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("subjects.csv", "name,photo,reference\nPerson One,p/img1.jpg,R1\nNo Face,p/dogs.jpg,R2\n")
        archive.writestr("p/img1.jpg", sample_file("faces", "deepface", "img1.jpg").read_bytes())
        archive.writestr("p/dogs.jpg", sample_file("faces", "dlib_detection", "dogs.jpg").read_bytes())
    login_verified(client, admin_user)
    response = client.post(
        f"/admin/watchlists/watchlist/{watchlist.pk}/import/",
        {"archive": SimpleUploadedFile("batch.zip", buffer.getvalue())},
    )
    assert response.status_code == 302
    job_id = response["Location"].split("job=")[1]
    status = client.get(f"/admin/watchlists/watchlist/import-status/{job_id}/").json()
    assert (status["state"], status["done"], status["total"]) == ("done", 2, 2)
    assert [(e["row"], e["code"]) for e in status["summary"]["errors"]] == [(3, "no_face")]
    assert FaceTemplate.objects.filter(subject__watchlist=watchlist).count() == 1


def test_bulk_import_refuses_a_non_zip(client, admin_user, watchlist):
    login_verified(client, admin_user)
    response = client.post(
        f"/admin/watchlists/watchlist/{watchlist.pk}/import/",
        {"archive": SimpleUploadedFile("batch.zip", b"not a zip")},
    )
    assert "This is not a ZIP archive." in response.content.decode()
