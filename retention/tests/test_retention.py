"""Retention with a fixed clock removes exactly the data past its period (rows and files), nothing else."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
import redis
from django.core import mail
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.utils import timezone

from alerts.models import Alert, Evidence
from audit.models import AccessEvent, ChainAnchor
from audit.services import chain_verify
from retention.services import retention_run, subjects_notify_expiring
from watchlists.models import FaceTemplate, NegativeExemplar, Subject

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture(autouse=True)
def uploads(settings, tmp_path_factory):  # type: ignore[no-untyped-def]
    settings.CC_JOB_UPLOAD_DIR = tmp_path_factory.mktemp("uploads")
    return settings.CC_JOB_UPLOAD_DIR


def _alert(camera, *, days_ago, review="n/a", kind="fight", resolved=True, dispatched=False):  # type: ignore[no-untyped-def]
    raised = NOW - timedelta(days=days_ago)
    return Alert.objects.create(
        kind=kind,
        camera=camera,
        venue=camera.venue,
        severity=2,
        score=0.9,
        review=review,
        status="resolved" if resolved else "new",
        resolved_at=raised if resolved else None,
        raised_at=raised,
        dispatched_at=raised if dispatched else None,
        probe_embedding=[0.1] * 128 if kind == "face_match" else None,
    )


def _evidence(alert, name):  # type: ignore[no-untyped-def]
    evidence = Evidence(alert=alert, kind="snapshot", content_type="image/jpeg", created_at=alert.raised_at)
    evidence.file.save(f"{name}.jpg", ContentFile(b"\xff\xd8\xff" + name.encode()), save=False)
    evidence.save()
    return evidence


def _subject(watchlist, admin_user, *, expires_in_days, name="Subject"):  # type: ignore[no-untyped-def]
    subject = Subject.objects.create(
        watchlist=watchlist,
        display_name=name,
        legal_basis_reference="Case 7",
        added_by=admin_user,
        expires_at=NOW + timedelta(days=expires_in_days),
    )
    template = FaceTemplate(subject=subject, quality_score=0.8)
    template.source_photo.save(f"{name}-src.jpg", ContentFile(b"src"), save=False)
    template.face_crop.save(f"{name}-crop.jpg", ContentFile(b"crop"), save=False)
    template.save()
    template.embeddings.create(model_name="Dlib", embedding=[0.2] * 128)
    NegativeExemplar.objects.create(subject=subject, embedding=[0.3] * 128, model_name="Dlib", created_by=admin_user)
    return subject, template


@pytest.fixture
def world(camera, watchlist, admin_user):  # type: ignore[no-untyped-def]
    """One item on each side of every retention boundary."""
    unconfirmed_old = _alert(camera, days_ago=31, kind="face_match", review="rejected")
    unconfirmed_new = _alert(camera, days_ago=29)
    unconfirmed_open = _alert(camera, days_ago=90, resolved=False)
    confirmed_mid = _alert(camera, days_ago=200, kind="face_match", review="confirmed")
    confirmed_old = _alert(camera, days_ago=366, dispatched=True)
    evidence = {
        name: _evidence(alert, name)
        for name, alert in [
            ("unconfirmed_old", unconfirmed_old),
            ("unconfirmed_new", unconfirmed_new),
            ("unconfirmed_open", unconfirmed_open),
            ("confirmed_mid", confirmed_mid),
            ("confirmed_old", confirmed_old),
        ]
    }
    past_grace, past_grace_template = _subject(watchlist, admin_user, expires_in_days=-8, name="past_grace")
    in_grace, in_grace_template = _subject(watchlist, admin_user, expires_in_days=-1, name="in_grace")
    current, current_template = _subject(watchlist, admin_user, expires_in_days=30, name="current")
    return {
        "alerts": {"unconfirmed_old": unconfirmed_old, "confirmed_mid": confirmed_mid},
        "evidence": evidence,
        "subjects": {"past_grace": past_grace, "in_grace": in_grace, "current": current},
        "templates": {"past_grace": past_grace_template, "in_grace": in_grace_template, "current": current_template},
    }


def _files(media):  # type: ignore[no-untyped-def]
    return sorted(p.name for p in media.rglob("*") if p.is_file())


def test_dry_run_reports_exactly_what_is_due_and_changes_nothing(world, media):
    # given the world, and its files on disk
    files_before = _files(media)
    events_before = AccessEvent.objects.count()
    # when
    report = retention_run(now=NOW, dry_run=True)
    # then
    assert report.purged["evidence_unconfirmed"] == [str(world["evidence"]["unconfirmed_old"].pk)]
    assert report.purged["evidence_confirmed"] == [str(world["evidence"]["confirmed_old"].pk)]
    assert report.purged["probe_embeddings"] == [str(world["alerts"]["unconfirmed_old"].pk)]
    assert sorted(report.purged["subjects_deactivated"]) == sorted(
        [str(world["subjects"]["past_grace"].pk), str(world["subjects"]["in_grace"].pk)]
    )
    assert report.purged["subject_templates"] == [str(world["templates"]["past_grace"].pk)]
    assert len(report.purged["negative_exemplars"]) == 1
    assert report.purged["audit_records"] == []
    assert (_files(media), AccessEvent.objects.count(), Evidence.objects.count()) == (files_before, events_before, 5)


def test_run_removes_rows_and_files_past_their_period_and_nothing_else(
    world, media, django_capture_on_commit_callbacks
):
    # given
    kept_evidence = {k: v for k, v in world["evidence"].items() if k not in ("unconfirmed_old", "confirmed_old")}
    # when
    with django_capture_on_commit_callbacks(execute=True):
        report = retention_run(now=NOW, dry_run=False)
    # then: exactly the due rows are gone
    assert set(Evidence.objects.values_list("pk", flat=True)) == {e.pk for e in kept_evidence.values()}
    assert set(FaceTemplate.objects.values_list("pk", flat=True)) == {
        world["templates"]["in_grace"].pk,
        world["templates"]["current"].pk,
    }
    assert NegativeExemplar.objects.filter(subject=world["subjects"]["past_grace"]).count() == 0
    assert NegativeExemplar.objects.count() == 2
    statuses = dict(Subject.objects.values_list("display_name", "status"))
    assert statuses == {"past_grace": "inactive", "in_grace": "inactive", "current": "active"}
    assert Alert.objects.get(pk=world["alerts"]["unconfirmed_old"].pk).probe_embedding is None
    assert Alert.objects.get(pk=world["alerts"]["confirmed_mid"].pk).probe_embedding is not None
    # and exactly their files left the disk
    assert _files(media) == sorted(
        [f"{name}.jpg" for name in kept_evidence]
        + ["in_grace-src.jpg", "in_grace-crop.jpg", "current-src.jpg", "current-crop.jpg"]
    )
    assert len(report.files) == 4
    # and every purge is in the log, chained
    purges = dict(AccessEvent.objects.filter(action="purge").values_list("object_type", "detail__count"))
    assert purges == {
        "evidence_unconfirmed": 1,
        "evidence_confirmed": 1,
        "alerts.alert.probe_embedding": 1,
        "watchlists.negativeexemplar": 1,
    }
    assert (
        AccessEvent.objects.filter(
            action="delete", object_type="watchlists.facetemplate", object_id=str(world["templates"]["past_grace"].pk)
        ).count()
        == 1
    )
    assert chain_verify().ok


def test_a_second_run_finds_nothing(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        retention_run(now=NOW)
    report = retention_run(now=NOW)
    assert {kind: n for kind, n in report.counts().items() if n} == {}


def test_audit_rows_past_five_years_are_purged_behind_an_anchor(admin_user, settings):
    # given rows written "six years ago" and today (the clock is moved for the old ones)
    from unittest import mock

    from audit.services import access_record

    with mock.patch("audit.services.timezone.now", return_value=NOW - timedelta(days=6 * 365)):
        old = [access_record(user=admin_user, action="view", object_id=f"old{i}") for i in range(3)]
    recent = access_record(user=admin_user, action="view", object_id="recent")
    # when
    report = retention_run(now=NOW)
    # then the old prefix is gone, an anchor vouches for it, and the chain verifies from there
    assert report.purged["audit_records"] == [f"{old[0].id}..{old[-1].id}"]
    assert not AccessEvent.objects.filter(pk__in=[r.id for r in old]).exists()
    assert AccessEvent.objects.filter(pk=recent.id).exists()
    assert ChainAnchor.objects.get().last_purged_hash == old[-1].hash
    assert chain_verify().ok


def test_footage_left_by_a_job_that_never_ended_is_deleted(uploads, django_capture_on_commit_callbacks):
    # given an upload older than any job may run, and one of a job still running
    stale, running = uploads / "stale.mp4", uploads / "running.mp4"
    for path, age in ((stale, timedelta(hours=3)), (running, timedelta(minutes=10))):
        path.write_bytes(b"video")
        os.utime(path, ((NOW - age).timestamp(),) * 2)
    # when a dry run, then a real run, happen
    dry = retention_run(now=NOW, dry_run=True)
    assert (dry.purged["uploaded_footage"], stale.exists()) == (["stale.mp4"], True)
    with django_capture_on_commit_callbacks(execute=False) as removals:
        report = retention_run(now=NOW)
    assert stale.exists()  # files go only after the audited purge commits
    for removal in removals:
        removal()
    # then only the stale upload is gone, and its removal is in the log
    assert (stale.exists(), running.exists()) == (False, True)
    assert report.files == [str(stale)]
    purge = AccessEvent.objects.get(action="purge", object_type="recording_upload")
    assert purge.detail["ids"] == ["stale.mp4"]


def test_previews_without_ttl_get_one(settings):
    client = redis.Redis.from_url(settings.REDIS_URL)
    key = "cc:preview:retention-test-camera"
    client.set(key, b"jpeg")
    try:
        report = retention_run(now=NOW)
        assert key in report.purged["previews_without_ttl"]
        assert 0 < client.ttl(key) <= settings.CC_PREVIEW_TTL_S
    finally:
        client.delete(key)


def test_command_dry_run_prints_counts_and_ids(world, capsys):
    call_command("retention", "--dry-run", "--now", NOW.isoformat())
    out = capsys.readouterr().out
    assert f"evidence_unconfirmed: would purge 1 [{world['evidence']['unconfirmed_old'].pk}]" in out
    assert Evidence.objects.count() == 5


def test_owners_are_told_once_before_expiry(watchlist, admin_user):
    # given an entry expiring in 10 days (notice period 14) and one in 30
    admin_user.email = "owner@example.org"
    admin_user.save()
    soon, _ = _subject(watchlist, admin_user, expires_in_days=10, name="soon")
    _subject(watchlist, admin_user, expires_in_days=30, name="later")
    # when the job runs twice
    first = subjects_notify_expiring(now=NOW)
    second = subjects_notify_expiring(now=NOW)
    # then one e-mail, without the person's name, and one audit record
    assert (first, second) == ([str(soon.pk)], [])
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["owner@example.org"]
    assert str(soon.pk) in mail.outbox[0].subject
    assert "soon" not in mail.outbox[0].body
    record = AccessEvent.objects.get(action="notify")
    assert (record.object_id, record.detail["recipients"]) == (str(soon.pk), ["owner@example.org"])
