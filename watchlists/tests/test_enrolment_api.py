"""Enrolment and photo checks over the API and the commands, on real photos."""

from __future__ import annotations

import csv
import datetime
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from audit.models import AccessEvent
from watchlists.matching import reset_cache
from watchlists.models import FaceTemplate, Subject, Watchlist

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"
    monkeypatch.setattr("watchlists.matching.VERSION_CHECK_INTERVAL_S", 0.0)
    reset_cache()


@pytest.fixture
def subject(watchlist, admin_user):  # type: ignore[no-untyped-def]
    return Subject.objects.create(
        watchlist=watchlist,
        display_name="Person 01",
        legal_basis_reference="W-1",
        added_by=admin_user,
        expires_at=timezone.now() + datetime.timedelta(days=30),
    )


def _upload(sample_file, *parts, name=None):  # type: ignore[no-untyped-def]
    path = sample_file(*parts)
    return SimpleUploadedFile(name or path.name, path.read_bytes())


def test_admin_enrols_a_photo_through_the_api(api_client, admin_user, subject, sample_file):
    api_client.force_authenticate(admin_user)
    response = api_client.post(
        f"/api/subjects/{subject.pk}/photos/",
        {"photo": _upload(sample_file, "faces", "deepface", "img1.jpg")},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert FaceTemplate.objects.get(subject=subject).pk.hex == response.json()["id"].replace("-", "")


@pytest.mark.parametrize(
    ("parts", "code"),
    [
        (("faces", "dlib_detection", "dogs.jpg"), "no_face"),
        (("faces", "deepface", "couple.jpg"), "several_faces"),
    ],
)
def test_enrolment_errors_are_precise_and_store_nothing(api_client, admin_user, subject, sample_file, parts, code):
    api_client.force_authenticate(admin_user)
    response = api_client.post(
        f"/api/subjects/{subject.pk}/photos/", {"photo": _upload(sample_file, *parts)}, format="multipart"
    )
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert not FaceTemplate.objects.exists()


def test_several_faces_lets_the_admin_choose_one(api_client, admin_user, subject, sample_file):
    api_client.force_authenticate(admin_user)
    upload = _upload(sample_file, "faces", "deepface", "couple.jpg")
    faces = api_client.post(f"/api/subjects/{subject.pk}/photos/", {"photo": upload}, format="multipart").json()
    assert len(faces["faces"]) >= 2
    upload = _upload(sample_file, "faces", "deepface", "couple.jpg")
    response = api_client.post(
        f"/api/subjects/{subject.pk}/photos/", {"photo": upload, "choose": 1}, format="multipart"
    )
    assert response.status_code == 201
    assert FaceTemplate.objects.filter(subject=subject).count() == 1


def test_fake_extension_and_text_files_are_rejected(api_client, admin_user, subject):
    api_client.force_authenticate(admin_user)
    fake = SimpleUploadedFile("photo.jpg", b"this is not an image at all")
    response = api_client.post(f"/api/subjects/{subject.pk}/photos/", {"photo": fake}, format="multipart")
    assert (response.status_code, response.json()["code"]) == (400, "unsupported_format")
    exe = SimpleUploadedFile("photo.exe", b"MZ....")
    response = api_client.post(f"/api/subjects/{subject.pk}/photos/", {"photo": exe}, format="multipart")
    assert response.json()["code"] == "unsupported_format"


def test_dispatcher_cannot_enrol_and_the_attempt_is_logged(api_client, dispatcher, subject, sample_file):
    api_client.force_authenticate(dispatcher)
    response = api_client.post(
        f"/api/subjects/{subject.pk}/photos/",
        {"photo": _upload(sample_file, "faces", "deepface", "img1.jpg")},
        format="multipart",
    )
    assert response.status_code == 403
    assert not FaceTemplate.objects.exists()
    assert AccessEvent.objects.filter(user_id=dispatcher.pk, action="denied").exists()


def test_photo_check_needs_a_purpose_and_is_audited(
    api_client, supervisor, admin_user, subject, sample_file, django_capture_on_commit_callbacks
):
    api_client.force_authenticate(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        api_client.post(
            f"/api/subjects/{subject.pk}/photos/",
            {"photo": _upload(sample_file, "faces", "deepface", "img1.jpg")},
            format="multipart",
        )
    api_client.force_authenticate(supervisor)
    missing = api_client.post(
        "/api/photo-checks/", {"photo": _upload(sample_file, "faces", "deepface", "img2.jpg")}, format="multipart"
    )
    assert missing.status_code == 400
    response = api_client.post(
        "/api/photo-checks/",
        {"photo": _upload(sample_file, "faces", "deepface", "img2.jpg"), "purpose": "case 2026/77"},
        format="multipart",
    )
    assert response.status_code == 200, response.content
    best = response.json()["faces"][0]["candidates"][0]
    assert (best["subject"], best["passes"]) == ("Person 01", True)
    event = AccessEvent.objects.get(user_id=supervisor.pk, action="search")
    assert (event.purpose, event.detail["candidates"]) == ("case 2026/77", [str(subject.pk)])


def test_watchlist_import_and_identify_commands(
    tmp_path, admin_user, sample_file, capsys, django_capture_on_commit_callbacks
):
    folder = sample_file("faces", "deepface")
    csv_path = tmp_path / "subjects.csv"
    (tmp_path / "img1.jpg").write_bytes((folder / "img1.jpg").read_bytes())
    (tmp_path / "img3.jpg").write_bytes((folder / "img3.jpg").read_bytes())
    (tmp_path / "dogs.jpg").write_bytes(sample_file("faces", "dlib_detection", "dogs.jpg").read_bytes())
    with csv_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerows(
            [
                ["name", "photo", "reference", "expires_at"],
                ["Person One", "img1.jpg", "R1", ""],
                ["Person Three", "img3.jpg", "R3", "2027-06-01"],
                ["Nobody", "dogs.jpg", "", ""],
                ["Missing", "nothere.jpg", "", ""],
                ["Too Long", "img3.jpg", "R9", "2099-01-01"],
            ]
        )
    with django_capture_on_commit_callbacks(execute=True):
        call_command("watchlist_import", str(csv_path), watchlist="Missing persons", category="missing")
    summary = json.loads(capsys.readouterr().out)
    assert (summary["rows"], summary["subjects"], summary["templates"]) == (5, 2, 2)
    assert [(e["row"], e["code"]) for e in summary["errors"]] == [
        (4, "no_face"),
        (5, "photo_missing"),
        (6, "bad_subject"),
    ]
    assert Watchlist.objects.get(name="Missing persons").category == "missing"
    call_command("identify", str(folder / "img2.jpg"), str(tmp_path / "nothere.jpg"), json=True)
    report = json.loads(capsys.readouterr().out)
    best = report[0]["faces"][0]["candidates"][0]
    assert (best["subject"], best["watchlist"], best["passes"]) == ("Person One", "Missing persons", True)
    assert report[1]["code"] == "not_found"


def test_photo_check_page_shows_candidates_and_needs_the_permission(
    client, supervisor, dispatcher, subject, sample_file, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        subject_enroll_photo_for_test(subject, sample_file)
    client.force_login(supervisor)
    photo = _upload(sample_file, "faces", "deepface", "img2.jpg")
    page = client.post("/watchlists/check/", {"photo": photo, "purpose": "case 5"})
    body = page.content.decode()
    assert page.status_code == 200
    assert "Person 01" in body
    assert "candidate match" in body
    client.force_login(dispatcher)
    assert client.get("/watchlists/check/").status_code == 403


def subject_enroll_photo_for_test(subject, sample_file):  # type: ignore[no-untyped-def]
    from watchlists.enrolment import subject_enroll_photo

    data = sample_file("faces", "deepface", "img1.jpg").read_bytes()
    return subject_enroll_photo(subject=subject, data=data, filename="img1.jpg", actor=subject.added_by)
