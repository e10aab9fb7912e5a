"""Real-model enrolment and matching: one template per photo, specific errors, review loop."""

from __future__ import annotations

import datetime
import io

import numpy as np
import pytest
from django.utils import timezone
from PIL import Image

from alerts.models import Alert
from alerts.services import AlertActionError, alert_confirm_match, alert_raise, alert_reject_match
from watchlists.enrolment import EnrolmentError, analyse_photo, subject_enroll_photo
from watchlists.matching import match_faces, reset_cache
from watchlists.models import FaceEmbedding, FaceTemplate, NegativeExemplar, Subject

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture(autouse=True)
def _fresh_gallery(settings, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"
    monkeypatch.setattr("watchlists.matching.VERSION_CHECK_INTERVAL_S", 0.0)
    reset_cache()
    yield
    reset_cache()


def _subject(watchlist, admin_user, name, days=30):  # type: ignore[no-untyped-def]
    return Subject.objects.create(
        watchlist=watchlist,
        display_name=name,
        legal_basis_reference="W-1",
        added_by=admin_user,
        expires_at=timezone.now() + datetime.timedelta(days=days),
    )


def _probe(sample_file, name):  # type: ignore[no-untyped-def]
    return analyse_photo(sample_file("faces", "deepface", name).read_bytes()).embedding


def test_enrolling_real_photos_gives_one_template_each(sample_file, watchlist, admin_user):
    subject = _subject(watchlist, admin_user, "Person 01")
    for name in ("img1.jpg", "img2.jpg"):
        subject_enroll_photo(
            subject=subject, data=sample_file("faces", "deepface", name).read_bytes(), filename=name, actor=admin_user
        )
    templates = list(FaceTemplate.objects.filter(subject=subject))
    assert len(templates) == 2
    assert all(0 < t.quality_score <= 1 and t.quality_warnings == [] for t in templates)
    embeddings = FaceEmbedding.objects.filter(template__in=templates)
    assert sorted(e.model_name for e in embeddings) == ["Dlib", "Dlib"]
    assert all(len(e.embedding) == 128 for e in embeddings)
    assert all(t.face_crop.storage.exists(t.face_crop.name) for t in templates)


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def test_photo_errors_are_specific(sample_file, settings):
    # given MTCNN for enrolment (it finds faces down to ~20 px; dlib HOG's boxes never go below 40 px)
    settings.CC_FACE_DETECTOR = "mtcnn"
    dogs = sample_file("faces", "dlib_detection", "dogs.jpg").read_bytes()
    couple = sample_file("faces", "deepface", "couple.jpg").read_bytes()
    face = Image.open(sample_file("faces", "deepface", "img1.jpg"))
    tiny = _jpeg(face.resize((face.width // 24, face.height // 24)))  # a ~25 px face, under the 32 px minimum
    cases = {
        "no_face": dogs,
        "several_faces": couple,
        "face_too_small": tiny,
        "not_an_image": b"GIF89a not really",
        "truncated": sample_file("faces", "deepface", "img1.jpg").read_bytes()[:3000],
    }
    codes = {}
    for expected, data in cases.items():
        with pytest.raises(EnrolmentError) as info:
            analyse_photo(data)
        codes[expected] = info.value.code
        if expected == "several_faces":
            assert len(info.value.boxes) >= 2
            assert info.value.as_dict()["faces"][0]["index"] == 0
    assert codes == {
        "no_face": "no_face",
        "several_faces": "several_faces",
        "face_too_small": "face_too_small",
        "not_an_image": "not_an_image",
        "truncated": "truncated",
    }


def test_same_person_matches_and_different_person_does_not(sample_file, watchlist, admin_user):
    subject = _subject(watchlist, admin_user, "Person 01")
    subject_enroll_photo(
        subject=subject,
        data=sample_file("faces", "deepface", "img1.jpg").read_bytes(),
        filename="img1.jpg",
        actor=admin_user,
    )
    same, other = _probe(sample_file, "img2.jpg"), _probe(sample_file, "img3.jpg")
    results = match_faces(np.stack([same, other]), model_name="Dlib")
    assert results[0][0].subject_id == subject.pk
    assert results[0][0].passes
    assert not any(c.passes for c in results[1])


def test_an_expired_subject_never_matches(sample_file, watchlist, admin_user):
    subject = _subject(watchlist, admin_user, "Person 01")
    subject_enroll_photo(
        subject=subject,
        data=sample_file("faces", "deepface", "img1.jpg").read_bytes(),
        filename="img1.jpg",
        actor=admin_user,
    )
    probe = _probe(sample_file, "img2.jpg")
    assert match_faces(probe, model_name="Dlib")[0][0].passes
    later = timezone.now() + datetime.timedelta(days=31)
    assert match_faces(probe, model_name="Dlib", now=later) == [[]]


def test_a_rejected_match_does_not_alert_again_for_the_same_stranger(
    sample_file, watchlist, admin_user, dispatcher, camera, django_capture_on_commit_callbacks
):
    # given a subject and a stranger whose probe we force over the threshold (a look-alike)
    watchlist.match_threshold = 0.90
    watchlist.save()
    subject = _subject(watchlist, admin_user, "Person 01")
    subject_enroll_photo(
        subject=subject,
        data=sample_file("faces", "deepface", "img1.jpg").read_bytes(),
        filename="img1.jpg",
        actor=admin_user,
    )
    stranger = _probe(sample_file, "img3.jpg")
    template = FaceTemplate.objects.get(subject=subject)
    enrolled = np.asarray(template.embeddings.get(model_name="Dlib").embedding, dtype=np.float32)
    lookalike = enrolled * 0.8 + stranger * 0.45
    lookalike /= np.linalg.norm(lookalike)
    candidate = match_faces(lookalike, model_name="Dlib")[0][0]
    assert candidate.passes
    alert = alert_raise(
        kind="face_match",
        camera=camera,
        severity=3,
        score=candidate.similarity,
        subject=subject,
        template=template,
        track_key="t1",
        probe_embedding=lookalike.tolist(),
        details={"model_name": "Dlib"},
    ).alert
    # when a dispatcher says "not this person"
    with django_capture_on_commit_callbacks(execute=True):
        rejected = alert_reject_match(alert_id=alert.pk, actor=dispatcher, note="different person")
    assert (rejected.review, rejected.status, rejected.outcome) == ("rejected", "resolved", "false_alarm")
    assert NegativeExemplar.objects.filter(subject=subject).count() == 1
    # then the same stranger seen again is suppressed, while the real person still matches
    again = lookalike + np.float32(0.01) * stranger
    again_candidate = match_faces(again / np.linalg.norm(again), model_name="Dlib")[0][0]
    assert (again_candidate.suppressed, again_candidate.passes) == (True, False)
    assert match_faces(_probe(sample_file, "img2.jpg"), model_name="Dlib")[0][0].passes


def test_wanted_list_needs_two_different_people_to_confirm(watchlist, admin_user, dispatcher, supervisor, camera):
    subject = _subject(watchlist, admin_user, "Person X")
    template = FaceTemplate.objects.create(
        subject=subject,
        quality_score=0.9,
        source_photo="x.jpg",
        face_crop="x.jpg",
    )
    alert = alert_raise(
        kind="face_match", camera=camera, severity=3, score=0.95, subject=subject, template=template, track_key="t9"
    ).alert
    first = alert_confirm_match(alert_id=alert.pk, actor=dispatcher)
    assert first.review == "partly_confirmed"
    with pytest.raises(AlertActionError):
        alert_confirm_match(alert_id=alert.pk, actor=dispatcher)
    assert alert_confirm_match(alert_id=alert.pk, actor=supervisor).review == "confirmed"
    assert Alert.objects.get(pk=alert.pk).events.filter(action="confirmed").count() == 2


def test_deactivating_or_deleting_a_subject_removes_templates_and_files(
    sample_file, watchlist, admin_user, django_capture_on_commit_callbacks
):
    from watchlists.services import object_delete, subject_deactivate

    kept = _subject(watchlist, admin_user, "Kept")
    gone = _subject(watchlist, admin_user, "Gone")
    files = []
    for subject in (kept, gone):
        template = subject_enroll_photo(
            subject=subject,
            data=sample_file("faces", "deepface", "img1.jpg").read_bytes(),
            filename="img1.jpg",
            actor=admin_user,
        )
        files.append((template.source_photo.path, template.face_crop.path))
    with django_capture_on_commit_callbacks(execute=True):
        subject_deactivate(actor=admin_user, subject=kept, reason="case closed")
        object_delete(actor=admin_user, instance=gone)
    assert not FaceTemplate.objects.exists()
    assert Subject.objects.get(pk=kept.pk).status == "inactive"
    assert not Subject.objects.filter(pk=gone.pk).exists()
    import os

    assert not any(os.path.exists(path) for pair in files for path in pair)
    from audit.models import AccessEvent

    deleted = AccessEvent.objects.filter(action="delete", object_type="watchlists.facetemplate").count()
    assert deleted == 2
