"""Switching the face model: kept photos re-embedded in a background job with progress, audited, then active."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from audit.models import AccessEvent
from watchlists.enrolment import analyse_photo, subject_enroll_photo
from watchlists.matching import active_face_model, match_faces, reset_cache
from watchlists.models import FaceEmbedding, FaceModelSwitch, FaceTemplate, Subject
from watchlists.services import face_model_switch

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
FUSED = "Dlib+MobileFaceNet"


@pytest.fixture(autouse=True)
def _fresh(settings, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    from commandcenter.celery import app

    settings.MEDIA_ROOT = tmp_path / "media"
    monkeypatch.setattr(app.conf, "task_always_eager", True)  # the re-embedding job runs here, on commit
    monkeypatch.setattr("watchlists.matching.VERSION_CHECK_INTERVAL_S", 0.0)
    reset_cache()
    yield
    reset_cache()


def _enrol(watchlist, admin_user, sample_file, name, photo):  # type: ignore[no-untyped-def]
    subject = Subject.objects.create(
        watchlist=watchlist,
        display_name=name,
        legal_basis_reference="W-1",
        added_by=admin_user,
        expires_at=timezone.now() + datetime.timedelta(days=30),
    )
    data = sample_file("faces", "deepface", photo).read_bytes()
    return subject_enroll_photo(subject=subject, data=data, filename=photo, actor=admin_user)


def test_switching_the_model_re_embeds_kept_photos_then_activates_it(
    watchlist, admin_user, sample_file, django_capture_on_commit_callbacks
):
    # given two people enrolled under today's default (Dlib only)
    templates = [
        _enrol(watchlist, admin_user, sample_file, "Person 01", "img1.jpg"),
        _enrol(watchlist, admin_user, sample_file, "Person 02", "img3.jpg"),
    ]
    assert active_face_model() == "Dlib-onnx"
    assert set(FaceEmbedding.objects.values_list("model_name", flat=True)) == {"Dlib"}
    photos = {t.pk: t.source_photo.read() for t in FaceTemplate.objects.all()}

    # when an admin switches to the fusion (the job runs on commit)
    with django_capture_on_commit_callbacks(execute=True):
        switch = face_model_switch(actor=admin_user, model_name=FUSED)

    # then every template gained a MobileFaceNet embedding from its kept photo, and the fusion is active
    switch.refresh_from_db()
    assert (switch.state, switch.done, switch.total, switch.failed) == ("done", 2, 2, [])
    assert (switch.previous_model, switch.finished_at is not None) == ("Dlib-onnx", True)
    for template in templates:
        assert sorted(template.embeddings.values_list("model_name", flat=True)) == ["Dlib", "MobileFaceNet"]
        assert len(template.embeddings.get(model_name="MobileFaceNet").embedding) == 192
    assert {t.pk: t.source_photo.read() for t in FaceTemplate.objects.all()} == photos
    assert active_face_model() == FUSED
    # and the switch was audited when asked for and when it finished
    events = AccessEvent.objects.filter(object_type="watchlists.facemodelswitch", object_id=str(switch.pk))
    assert [(e.username or e.user.username, e.detail.get("to")) for e in events.order_by("id")] == [
        ("admin1", FUSED),
        ("system", FUSED),
    ]
    # and another photo of Person 01 matches through the fused gallery, on the calibrated scale
    probe = analyse_photo(sample_file("faces", "deepface", "img2.jpg").read_bytes())
    best = match_faces(_fused(probe), model_name=FUSED)[0][0]
    assert (best.display_name, best.passes, best.model_name) == ("Person 01", True, FUSED)


def _fused(face):  # type: ignore[no-untyped-def]
    from vision.faces.embedders import build_embedder

    embedder = build_embedder(FUSED)
    return embedder.combine(face.embeddings)[0]


def test_switch_with_an_unreadable_photo_fails_and_keeps_the_previous_model(
    watchlist, admin_user, sample_file, django_capture_on_commit_callbacks
):
    # given one template whose kept photo was lost
    template = _enrol(watchlist, admin_user, sample_file, "Person 01", "img1.jpg")
    template.source_photo.storage.delete(template.source_photo.name)

    # when the model is switched
    with django_capture_on_commit_callbacks(execute=True):
        switch = face_model_switch(actor=admin_user, model_name="MobileFaceNet")

    # then the switch failed naming the template, and matching stays on the previous model
    switch.refresh_from_db()
    assert switch.state == "failed"
    assert [f["template"] for f in switch.failed] == [str(template.pk)]
    assert "1 template(s) could not be re-embedded" in switch.error
    assert active_face_model() == "Dlib-onnx"


def test_switch_refuses_unknown_current_and_concurrent_models(admin_user):
    with pytest.raises(ValidationError, match="Unknown face model"):
        face_model_switch(actor=admin_user, model_name="NoSuchNet")
    with pytest.raises(ValidationError, match="already the active face model"):
        face_model_switch(actor=admin_user, model_name="Dlib-onnx")
    FaceModelSwitch.objects.create(model_name="MobileFaceNet", previous_model="Dlib-onnx", requested_by=admin_user)
    with pytest.raises(ValidationError, match="already running"):
        face_model_switch(actor=admin_user, model_name=FUSED)
    assert FaceModelSwitch.objects.count() == 1
