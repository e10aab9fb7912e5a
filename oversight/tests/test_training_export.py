"""The city's own labelled incident footage: reviewed fight alerts' clips exported as a training set (audited,
unmasked-export permission, a purpose), and the fight model retrained with them (`tools.train_fight --extra`)."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command

from alerts.models import Alert, Evidence
from alerts.services import alert_resolve
from audit.models import AccessEvent
from oversight.training import incident_clips_export, source_of

pytestmark = [pytest.mark.django_db]

FIGHT_CLIPS = ("violence_1.mp4", "violence_2.mp4")  # fights/violence_clips: real CCTV-style fights
NO_FIGHT_CLIPS = ("non_violence_1.mp4",)


def _alert(camera, kind: str, outcome: str, clip: Path | None, by=None) -> Alert:  # type: ignore[no-untyped-def]
    """An alert with a real clip, resolved by `by` with the outcome (left open without one)."""
    alert = Alert.objects.create(kind=kind, camera=camera, venue=camera.venue, severity=3, score=0.8)
    if clip is not None:
        evidence = Evidence(alert=alert, kind="clip", content_type="video/mp4", size_bytes=clip.stat().st_size)
        evidence.file.save(clip.name, ContentFile(clip.read_bytes()))
    if by is not None:
        alert = alert_resolve(alert_id=alert.pk, actor=by, outcome=outcome)
    return alert


@pytest.fixture
def reviewed(camera, sample_file, supervisor, settings, tmp_path):  # type: ignore[no-untyped-def]
    """Alerts a dispatcher resolved: two real fights (arrest, handled), a false alarm, and ones that do not count."""
    settings.MEDIA_ROOT = tmp_path / "media"
    clips = {name: sample_file("fights", "violence_clips", name) for name in (*FIGHT_CLIPS, *NO_FIGHT_CLIPS)}
    return {
        "arrest": _alert(camera, "fight", "arrest", clips["violence_1.mp4"], supervisor),
        "handled": _alert(camera, "aggression", "handled", clips["violence_2.mp4"], supervisor),
        "false_alarm": _alert(camera, "fight", "false_alarm", clips["non_violence_1.mp4"], supervisor),
        # not exported: an outcome that says nothing about a fight, still open, not an incident, no clip
        "other_outcome": _alert(camera, "fight", "person_found", clips["violence_1.mp4"], supervisor),
        "open": _alert(camera, "fight", "", clips["violence_1.mp4"]),
        "crowd": _alert(camera, "crowd", "false_alarm", clips["violence_1.mp4"], supervisor),
        "no_clip": _alert(camera, "fight", "false_alarm", None, supervisor),
        "sources": clips,
        "by": supervisor,
    }


def test_reviewed_incident_clips_are_written_with_labels_and_the_export_is_audited(reviewed, auditor, tmp_path):
    # given alerts a dispatcher resolved, one of whose clip files retention has since removed
    gone = _alert(reviewed["arrest"].camera, "fight", "arrest", reviewed["sources"]["violence_1.mp4"], reviewed["by"])
    Path(gone.evidence.get().file.path).unlink()
    folder = tmp_path / "city-clips"
    # when an auditor exports them for retraining
    result = incident_clips_export(actor=auditor, folder=folder, purpose="Fight model retraining RT-12")
    # then the two confirmed incidents are fights, the false alarm is not, and nothing else is exported
    assert (result.fight, result.no_fight, result.cameras) == (2, 1, 1)
    assert result.missing_clip == [str(gone.pk)]
    with (folder / "labels.csv").open(newline="") as handle:
        rows = {row["alert"]: row for row in csv.DictReader(handle)}
    assert {rows[str(reviewed[key].pk)]["label"] for key in ("arrest", "handled")} == {"fight"}
    assert rows[str(reviewed["false_alarm"].pk)]["label"] == "noFight"
    assert len(rows) == 3
    # every clip is the evidence file byte for byte, grouped by its camera for cross-validation
    for row in rows.values():
        data = (folder / row["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row["sha256"]
        assert row["source_video"] == source_of(reviewed["arrest"].camera_id)
    # and one audit row names the purpose and every exported clip's hash
    event = AccessEvent.objects.get(action="export", object_type="training_set")
    assert event.purpose == "Fight model retraining RT-12"
    assert event.detail["sha256"] == {row["alert"]: row["sha256"] for row in rows.values()}
    assert event.detail["missing_clip"] == [str(gone.pk)]


def test_the_export_needs_the_unmasked_permission_a_purpose_and_a_new_folder(reviewed, supervisor, auditor, tmp_path):
    # a supervisor may export masked evidence, not unmasked training clips: refused and audited as denied
    with pytest.raises(PermissionDenied):
        incident_clips_export(actor=supervisor, folder=tmp_path / "a", purpose="retraining")
    denied = AccessEvent.objects.get(action="denied", object_type="training_set", username=supervisor.username)
    assert denied.detail == {"permission": "oversight.export_unmasked"}
    assert not (tmp_path / "a").exists()
    with pytest.raises(ValidationError, match="purpose"):
        incident_clips_export(actor=auditor, folder=tmp_path / "b", purpose="  ")
    # an existing export is never overwritten or mixed with a new one
    incident_clips_export(actor=auditor, folder=tmp_path / "c", purpose="retraining")
    before = sorted(p.name for p in (tmp_path / "c").rglob("*"))
    with pytest.raises(ValidationError, match="not an empty folder"):
        incident_clips_export(actor=auditor, folder=tmp_path / "c", purpose="retraining")
    assert sorted(p.name for p in (tmp_path / "c").rglob("*")) == before
    assert AccessEvent.objects.filter(action="export", object_type="training_set").count() == 1


def test_nothing_to_export_says_why_and_writes_nothing(camera, auditor, supervisor, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    _alert(camera, "fight", "false_alarm", None, supervisor)
    with pytest.raises(ValidationError, match="No reviewed fight or aggression alert with a clip"):
        incident_clips_export(actor=auditor, folder=tmp_path / "out", purpose="retraining")
    assert not (tmp_path / "out").exists()
    assert not AccessEvent.objects.filter(action="export", object_type="training_set").exists()


def test_the_command_names_the_user_and_fails_clearly(reviewed, auditor, tmp_path, capsys):
    folder = tmp_path / "out"
    with pytest.raises(CommandError, match="no active user 'nobody'"):
        call_command("export_incident_clips", str(folder), "--user", "nobody", "--purpose", "retraining")
    with pytest.raises(CommandError, match="not a date"):
        call_command(
            "export_incident_clips", str(folder), "--user", auditor.username, "--purpose", "x", "--since", "May"
        )
    call_command(
        "export_incident_clips",
        str(folder),
        "--user",
        auditor.username,
        "--purpose",
        "retraining",
        "--since",
        "2020-01-01",
    )
    out = capsys.readouterr().out
    assert "3 clips (2 fight, 1 noFight) from 1 camera(s) written to" in out
    with pytest.raises(CommandError, match="is not a valid UUID"):
        call_command(
            "export_incident_clips", str(tmp_path / "o2"), "--user", auditor.username, "--purpose", "x", "--camera", "7"
        )


@pytest.mark.slow
def test_the_fight_model_retrains_with_the_exported_clips(reviewed, auditor, sample_file, tmp_path):
    from tools import train_fight
    from vision.incidents.fight import FightModel, load_model

    # given the city's reviewed clips exported as a training folder
    sample_file("fights", "surveillance", "labels.csv")
    folder = tmp_path / "city-clips"
    incident_clips_export(actor=auditor, folder=folder, purpose="retraining")
    out = tmp_path / "city-model.json"
    # when the model is trained on three reference sources plus the city's clips
    assert train_fight.main(["--sources", "3", "--extra", str(folder), "--out", str(out)]) == 0
    # then the site model counts them, grouped as their own source, and loads like the shipped one
    model = load_model(out)
    assert model.meta["clips"] == 24 + 3
    assert model.meta["extra_clips"] == {"fight": 2, "noFight": 1, "sources": 1}
    assert model.meta["sources"] == 3 + 1
    assert isinstance(model, FightModel)
    assert 0 < model.threshold_fight < 1
    # and the shipped model can never be overwritten by a site training run
    assert train_fight.main(["--extra", str(folder)]) == 2


def test_a_broken_extra_folder_is_refused_by_name(tmp_path):
    from tools.train_fight import ExtraFolderError, extra_rows

    with pytest.raises(ExtraFolderError, match=r"no labels\.csv"):
        extra_rows(tmp_path)
    (tmp_path / "labels.csv").write_text("file,label,source_video\nfight/a.mp4,fight,camera-1\n")
    with pytest.raises(ExtraFolderError, match=r"line 2: fight/a\.mp4 not found"):
        extra_rows(tmp_path)
    (tmp_path / "labels.csv").write_text("file,label,source_video\nfight/a.mp4,brawl,camera-1\n")
    with pytest.raises(ExtraFolderError, match="label must be fight or noFight"):
        extra_rows(tmp_path)
