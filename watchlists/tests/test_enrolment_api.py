"""Enrolment and photo checks over the API and the commands, on real photos."""

from __future__ import annotations

import csv
import datetime
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
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
    # when the CSV is imported and some rows fail
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(CommandError) as failed:
        call_command("watchlist_import", str(csv_path), watchlist="Missing persons", category="missing")
    # then it exits 1 with a summary line that says exactly what happened, and the per-row JSON is kept
    line = "enrolled 2 of 5 photos into 'Missing persons'; 3 errors: 1 no_face (row 4), 1 photo_missing (row 5), "
    assert (str(failed.value), failed.value.returncode) == (line + "1 bad_subject (row 6)", 1)
    summary = json.loads(capsys.readouterr().out)
    assert (summary["rows"], summary["subjects"], summary["templates"]) == (5, 2, 2)
    assert summary["summary"] == str(failed.value)
    assert [(e["row"], e["code"]) for e in summary["errors"]] == [
        (4, "no_face"),
        (5, "photo_missing"),
        (6, "bad_subject"),
    ]
    assert Watchlist.objects.get(name="Missing persons").category == "missing"
    call_command("identify", str(folder / "img2.jpg"), str(tmp_path / "nothere.jpg"), json=True)
    report = json.loads(capsys.readouterr().out)
    # and identify states the model and the thresholds it used
    assert (report["model"], report["model_name"], report["detector"]) == ("Dlib-onnx", "Dlib", "dlib-hog")
    assert report["thresholds"] == {"Missing persons": 0.94}
    best = report["photos"][0]["faces"][0]["candidates"][0]
    assert (best["subject"], best["watchlist"], best["passes"]) == ("Person One", "Missing persons", True)
    assert (best["threshold"], best["model"]) == (0.94, "Dlib")
    assert report["photos"][1]["code"] == "not_found"


def test_watchlist_import_takes_absolute_and_csv_relative_paths_and_exits_zero(
    tmp_path, admin_user, sample_file, capsys, django_capture_on_commit_callbacks
):
    # given a CSV in one folder naming one photo by absolute path and one relative to the CSV
    folder = sample_file("faces", "deepface")
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "img3.jpg").write_bytes((folder / "img3.jpg").read_bytes())
    csv_path = tmp_path / "subjects.csv"
    csv_path.write_text(f"name,photo\nPerson One,{folder / 'img1.jpg'}\nPerson Three,photos/img3.jpg\n")
    # when it is imported
    with django_capture_on_commit_callbacks(execute=True):
        call_command("watchlist_import", str(csv_path), watchlist="Wanted", category="wanted")
    # then both photos are enrolled and the summary says so
    out, err = capsys.readouterr()
    summary = json.loads(out)
    assert (summary["templates"], summary["errors"]) == (2, [])
    assert "enrolled 2 of 2 photos into 'Wanted'; no errors" in err
    assert FaceTemplate.objects.count() == 2


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
    # each face is shown as a crop of the uploaded photo (never stored) beside the candidate's enrolled photo
    assert body.count('src="data:image/jpeg;base64,') == 1
    template = subject.templates.get()
    assert f'src="/faces/templates/{template.pk}/crop.jpg?purpose=photo+check"' in body
    assert "175, 76" not in body  # no pixel boxes
    client.force_login(dispatcher)
    refused = client.get("/watchlists/check/")
    assert refused.status_code == 403
    assert "Checking a photo against the watchlists is for supervisors and administrators." in refused.content.decode()


def subject_enroll_photo_for_test(subject, sample_file):  # type: ignore[no-untyped-def]
    from watchlists.enrolment import subject_enroll_photo

    data = sample_file("faces", "deepface", "img1.jpg").read_bytes()
    return subject_enroll_photo(subject=subject, data=data, filename="img1.jpg", actor=subject.added_by)
