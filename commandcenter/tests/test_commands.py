"""First users, fleet import and the demo venue, through their management commands."""

from __future__ import annotations

import json

import cv2
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from venues.models import Camera, Venue

pytestmark = pytest.mark.django_db


def test_create_users_from_environment(monkeypatch, capsys):
    monkeypatch.setenv("CC_ADMIN_USERNAME", "chief")
    monkeypatch.setenv("CC_ADMIN_PASSWORD", "a-very-long-password")
    monkeypatch.setenv("CC_AUDITOR_USERNAME", "inspector")
    monkeypatch.setenv("CC_AUDITOR_PASSWORD", "another-long-password")
    call_command("create_users")
    chief = get_user_model().objects.get(username="chief")
    assert (chief.is_staff, [g.name for g in chief.groups.all()]) == (True, ["admin"])
    assert chief.check_password("a-very-long-password")
    assert [g.name for g in get_user_model().objects.get(username="inspector").groups.all()] == ["auditor"]


def test_create_users_refuses_short_passwords(monkeypatch):
    monkeypatch.setenv("CC_DISPATCHER_USERNAME", "d")
    monkeypatch.setenv("CC_DISPATCHER_PASSWORD", "short")
    with pytest.raises(CommandError, match="at least 10 characters"):
        call_command("create_users")


def test_demo_users_keep_their_generated_passwords(settings, tmp_path, capsys):
    settings.VAR_DIR = tmp_path
    call_command("create_users", demo=True)
    first = (tmp_path / "demo_credentials.txt").read_text()
    call_command("create_users", demo=True)
    assert (tmp_path / "demo_credentials.txt").read_text() == first
    assert sorted(u.username for u in get_user_model().objects.all()) == [
        "admin",
        "auditor",
        "authoriser",
        "dispatcher",
        "supervisor",
    ]


FLEET = """venue,kind,district,latitude,longitude,capacity,camera,stream_url,analysis_fps
Green Market,market,Almaly,43.26,76.94,2000,North gate,rtsp://10.2.0.1/main,2
Green Market,market,Almaly,43.26,76.94,2000,South gate,rtsp://10.2.0.2/main,
Mega Mall,mall,Bostandyk,43.20,76.89,-5,Atrium,rtsp://10.3.0.1/main,
Arena,stadium,Medeu,,,,Gate A,ftp://10.4.0.1/x,
Arena,stadium,Medeu,,,,Gate B,rtsp://10.4.0.2/x,99
"""


def test_fleet_import_reports_each_row(tmp_path, capsys):
    path = tmp_path / "fleet.csv"
    path.write_text(FLEET)
    call_command("import_fleet", str(path), json=True)
    report = json.loads(capsys.readouterr().out)
    assert report["counts"] == {
        "venues_created": 1,
        "venues_updated": 0,
        "cameras_created": 2,
        "cameras_updated": 0,
        "rows_rejected": 3,
    }
    rejected = {row["row"]: row["errors"] for row in report["rows"] if row["errors"]}
    assert "greater than or equal to 0" in rejected[4]["capacity"][0]
    assert "Unsupported stream URL scheme 'ftp'" in rejected[5]["stream_url"][0]
    assert "less than or equal to 15.0" in rejected[6]["analysis_fps"][0]
    assert sorted(Camera.objects.values_list("name", flat=True)) == ["North gate", "South gate"]
    assert not Venue.objects.filter(name__in=["Mega Mall", "Arena"]).exists()
    path.write_text(FLEET.replace("10.2.0.2", "10.2.0.9"))
    call_command("import_fleet", str(path), json=True)
    again = json.loads(capsys.readouterr().out)["counts"]
    assert (again["cameras_created"], again["cameras_updated"]) == (0, 1)


def test_fleet_import_rejects_a_file_without_the_required_columns(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("name,url\nx,y\n")
    with pytest.raises(CommandError, match="Missing columns: camera, stream_url, venue"):
        call_command("import_fleet", str(path))


def test_demo_without_sample_data_or_opencv_doc_plays_a_generated_clip(settings, tmp_path, admin_user):
    settings.CC_SAMPLE_DATA = str(tmp_path / "absent")
    settings.CC_OPENCV_DOC = str(tmp_path / "no-opencv-doc")
    settings.VAR_DIR = tmp_path
    call_command("demo_setup")
    urls = set(Camera.objects.values_list("stream_url", flat=True))
    assert urls == {f"file://{tmp_path}/demo/generated.mp4"}
    capture = cv2.VideoCapture(str(tmp_path / "demo" / "generated.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 100


def test_provision_models_prints_each_verified_onnx_model(capsys):
    # given the committed models and manifest
    from vision.models import manifest

    # when the start-up provisioning runs
    call_command("provision_models", "--skip-verify")

    # then one line per model with its digest and size
    out = capsys.readouterr().out
    for name, info in manifest().items():
        assert f"verified: {name} (sha256 {info.sha256[:12]}..., {info.size / 1e6:.1f} MB)" in out


def test_provision_models_stops_on_an_altered_onnx_file(tmp_path):
    # given a models folder where one file lost its last byte
    import shutil

    from vision.models import MODELS_DIR

    folder = tmp_path / "models"
    shutil.copytree(MODELS_DIR, folder)
    damaged = folder / "movenet-multipose.onnx"
    damaged.write_bytes(damaged.read_bytes()[:-1])

    # when provisioning checks that folder, then it stops with the file and the rebuild command
    with pytest.raises(CommandError, match=r"movenet-multipose\.onnx is not the committed one.*") as error:
        call_command("provision_models", "--skip-verify", "--models-dir", str(folder))
    assert "python -m tools.models.build movenet-multipose" in str(error.value)
