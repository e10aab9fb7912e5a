"""Evidence exports: a zip with a manifest (hashes, history, audit), every face blurred but the confirmed
subject's (checked with three face detectors on a real group photo), audited with a purpose; unmasked
originals only for auditors."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.utils import timezone

from alerts.models import Alert, AlertEvent, Evidence
from audit.models import AccessEvent
from oversight.exports import evidence_export

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

GROUP = ("faces", "deepface", "selfie-many-people.jpg")  # seven people; the subject is the one taking it


@pytest.fixture(scope="module")
def detectors():  # type: ignore[no-untyped-def]
    from vision.faces.detectors import build_detector
    from vision.faces.masking import face_detector_boxes
    from vision.incidents.people import CenterFaceDetector

    centerface = CenterFaceDetector(width=640)
    return [
        lambda image: [(b.x, b.y, b.w, b.h) for b in centerface.detect(image)],
        face_detector_boxes(build_detector("mtcnn")),
        face_detector_boxes(build_detector("dlib-hog")),
    ]


@pytest.fixture
def group(sample_file):  # type: ignore[no-untyped-def]
    """The photo, its faces, the subject's face and the subject's embedding (the alert's probe)."""
    from vision.faces.detectors import build_detector
    from vision.faces.embedders import build_embedder
    from watchlists.matching import active_face_model

    data = sample_file(*GROUP).read_bytes()
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    faces = build_detector("mtcnn").detect(image)
    subject_face = max(faces, key=lambda f: f.w * f.h)
    embedder = build_embedder(active_face_model())
    probe = embedder.embed(image, subject_face)
    return {"data": data, "image": image, "box": subject_face.box, "probe": probe, "model": embedder.model_name}


def _clip(image: np.ndarray, path: Path, frames: int = 4) -> bytes:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"VP80"), 5.0, (image.shape[1], image.shape[0]))
    for _ in range(frames):
        writer.write(image)
    writer.release()
    return path.read_bytes()


@pytest.fixture
def alert(camera, watchlist, admin_user, group, settings, tmp_path):  # type: ignore[no-untyped-def]
    from watchlists.models import Subject

    settings.MEDIA_ROOT = tmp_path
    subject = Subject.objects.create(
        watchlist=watchlist,
        display_name="The photographer",
        reference_number="R-17",
        legal_basis_reference="Case 3/26",
        added_by=admin_user,
        expires_at=timezone.now() + timedelta(days=30),
    )
    alert = Alert.objects.create(
        kind="face_match",
        camera=camera,
        venue=camera.venue,
        severity=3,
        score=0.97,
        review="confirmed",
        subject=subject,
        probe_embedding=group["probe"].tolist(),
        details={"model_name": group["model"]},
    )
    AlertEvent.objects.create(alert=alert, action="raised", to_status="new")
    crop = cv2.imencode(".jpg", group["image"][0:50, 0:50])[1].tobytes()
    clip = _clip(group["image"], tmp_path / "clip.webm")
    for kind, name, data in (
        ("snapshot", "snapshot.jpg", group["data"]),
        ("face_crop", "face.jpg", crop),
        ("clip", "clip.webm", clip),
    ):
        evidence = Evidence(alert=alert, kind=kind, content_type="application/octet-stream", size_bytes=len(data))
        evidence.file.save(name, ContentFile(data), save=False)
        evidence.save()
    return alert


def _sharp_faces(image: np.ndarray, detectors, keep):  # type: ignore[no-untyped-def]
    from vision.faces.masking import overlaps

    found = [box for detect in detectors for box in detect(image)]
    others = [box for box in found if keep is None or not (overlaps(box, keep) or overlaps(keep, box))]
    mine = [box for box in found if keep is not None and (overlaps(box, keep) or overlaps(keep, box))]
    return others, mine


def _unzip(data: bytes) -> tuple[dict, dict[str, bytes]]:  # type: ignore[type-arg]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    return json.loads(files.pop("manifest.json")), files


def test_export_blurs_every_face_but_the_confirmed_subjects(alert, supervisor, group, detectors):
    # given the original snapshot: the detectors find the subject and others
    others, mine = _sharp_faces(group["image"], detectors, group["box"])
    assert len({tuple(round(v) for v in b) for b in others}) >= 4
    assert mine
    # when a supervisor exports the alert with a purpose
    result = evidence_export(actor=supervisor, alert_ids=[alert.pk], purpose="Court file 3/26")
    manifest, files = _unzip(result.data)
    # then the snapshot in the zip shows no sharp face but the subject's (found by embedding match)
    (snapshot_name,) = [n for n in files if n.endswith("snapshot.jpg")]
    exported = cv2.imdecode(np.frombuffer(files[snapshot_name], np.uint8), cv2.IMREAD_COLOR)
    others, mine = _sharp_faces(exported, detectors, group["box"])
    assert others == []
    assert mine, "the confirmed subject's face stays sharp"
    # and every frame of the clip too
    (clip_name,) = [n for n in files if n.endswith(".webm")]
    path = Path(alert.evidence.get(kind="clip").file.path).with_name("exported.webm")
    path.write_bytes(files[clip_name])
    capture = cv2.VideoCapture(str(path))
    frames = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames += 1
        assert _sharp_faces(frame, detectors[:2], group["box"])[0] == []
    assert frames == 4
    # and the manifest lists every file's sha256, the history and the audit entries, including this export
    (entry,) = manifest["alerts"]
    for item in entry["files"]:
        if item["bytes"]:
            assert hashlib.sha256(files[f"{entry['folder']}/{item['name']}"]).hexdigest() == item["sha256"]
    assert {f["kind"] for f in entry["files"]} == {"snapshot", "face_crop", "clip"}
    assert entry["history"][0]["action"] == "raised"
    assert entry["subject_reference"] == "R-17"
    export = AccessEvent.objects.get(action="export", object_id=str(alert.pk))
    assert export.purpose == "Court file 3/26"
    assert (
        export.detail["sha256"][str(alert.pk)][snapshot_name.split("/")[-1]]
        == hashlib.sha256(files[snapshot_name]).hexdigest()
    )
    assert export.hash in {row["hash"] for row in entry["audit"]}


def test_an_unconfirmed_candidate_keeps_no_face_and_its_crop_is_withheld(alert, supervisor, detectors):
    Alert.objects.filter(pk=alert.pk).update(review="pending")
    manifest, files = _unzip(evidence_export(actor=supervisor, alert_ids=[alert.pk], purpose="Review").data)
    (snapshot_name,) = [n for n in files if n.endswith("snapshot.jpg")]
    exported = cv2.imdecode(np.frombuffer(files[snapshot_name], np.uint8), cv2.IMREAD_COLOR)
    assert _sharp_faces(exported, detectors, None)[0] == []
    assert not any(n.endswith("face.jpg") for n in files)
    crop = next(f for f in manifest["alerts"][0]["files"] if f["kind"] == "face_crop")
    assert crop["note"].startswith("withheld")


def test_unmasked_originals_only_for_auditors_and_every_export_needs_a_purpose(alert, supervisor, auditor, group):
    with pytest.raises(PermissionDenied):
        evidence_export(actor=supervisor, alert_ids=[alert.pk], purpose="x", unmasked=True)
    assert AccessEvent.objects.filter(action="denied", object_type="export", user_id=supervisor.pk).exists()
    with pytest.raises(ValidationError):
        evidence_export(actor=auditor, alert_ids=[alert.pk], purpose="  ", unmasked=True)
    _manifest, files = _unzip(evidence_export(actor=auditor, alert_ids=[alert.pk], purpose="IOPC", unmasked=True).data)
    (snapshot_name,) = [n for n in files if n.endswith("snapshot.jpg")]
    assert files[snapshot_name] == group["data"]


def test_an_alert_outside_the_venue_scope_is_refused(alert, django_user_model):
    from django.contrib.auth.models import Group

    from venues.models import OperatorScope

    scoped = django_user_model.objects.create_user(username="scoped", password="correct-horse-battery")
    scoped.groups.add(Group.objects.get(name="supervisor"))
    OperatorScope.objects.create(user=scoped, all_venues=False)
    with pytest.raises(PermissionDenied):
        evidence_export(actor=scoped, alert_ids=[alert.pk], purpose="curious")
    assert not AccessEvent.objects.filter(action="export").exists()


def test_the_export_page_downloads_a_zip(client, alert, supervisor):
    client.force_login(supervisor)
    assert client.get(f"/oversight/alerts/{alert.pk}/export/").status_code == 200
    response = client.post(f"/oversight/alerts/{alert.pk}/export/", {"purpose": "Case 9"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert zipfile.ZipFile(io.BytesIO(response.content)).namelist()[-1] == "manifest.json"


def test_incident_export_blurs_every_person_but_the_involved(camera, sample_file, supervisor, settings, tmp_path):
    from oversight.exports import snapshot_people

    # given a fight alert whose snapshot shows several people
    settings.MEDIA_ROOT = tmp_path
    data = sample_file("faces", "deepface", "selfie-many-people.jpg").read_bytes()
    alert = Alert.objects.create(kind="fight", camera=camera, venue=camera.venue, severity=3, score=0.9)
    evidence = Evidence(alert=alert, kind="snapshot", content_type="image/jpeg")
    evidence.file.save("snapshot.jpg", ContentFile(data))
    people = snapshot_people(alert)
    assert len(people) >= 2
    # when the supervisor names person 1 as involved
    result = evidence_export(actor=supervisor, alert_ids=[alert.pk], purpose="Assault 5/26", involved=[1])
    _manifest, files = _unzip(result.data)
    exported = cv2.imdecode(np.frombuffer(files[f"alert-{alert.pk}/snapshot.jpg"], np.uint8), cv2.IMREAD_COLOR)
    original = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)

    def detail(image, box):  # type: ignore[no-untyped-def]
        x, y = int(box[0]) + 3, int(box[1]) + 3  # inside the box's edges
        w, h = int(box[2]) - 6, int(box[3]) - 6
        crop = cv2.cvtColor(image[max(0, y) : y + h, max(0, x) : x + w], cv2.COLOR_BGR2GRAY)
        return float(cv2.Laplacian(crop, cv2.CV_64F).var())

    # then every other person's box lost its detail, and the audit row says who was kept
    from vision.faces.masking import iou

    others = [box for box in people[1:] if iou(box, people[0]) < 0.2]
    assert others
    for box in others:
        assert detail(exported, box) < 0.2 * detail(original, box)
    row = AccessEvent.objects.get(action="export", object_id=str(alert.pk))
    assert (row.detail["people_masked"], row.detail["involved"]) == (True, [1])
    # and a number the snapshot does not have is refused by name, with nothing exported or audited as exported
    with pytest.raises(ValidationError, match=f"shows {len(people)} people; there is no person 0, 99"):
        evidence_export(actor=supervisor, alert_ids=[alert.pk], purpose="Assault 5/26", involved=[0, 1, 99])
    assert AccessEvent.objects.filter(action="export", object_id=str(alert.pk)).count() == 1
