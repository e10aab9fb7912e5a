"""Enrolment of subject photos: one usable face per photo becomes a FaceTemplate (audited)."""

from __future__ import annotations

import logging
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.db import transaction

from audit.models import AccessEvent
from audit.services import access_record
from watchlists.matching import gallery_changed
from watchlists.models import FaceEmbedding, FaceTemplate, Subject

logger = logging.getLogger(__name__)

ALLOWED_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


class EnrolmentError(Exception):
    """A photo that cannot be enrolled; `code` is stable, the message is for people, `boxes` the faces found."""

    def __init__(self, code: str, message: str, boxes: list[tuple[int, int, int, int]] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.boxes = boxes or []

    def as_dict(self) -> dict[str, Any]:
        """JSON shape used by the API, the bulk import and the command."""
        body: dict[str, Any] = {"code": self.code, "detail": self.message}
        if self.boxes:
            body["faces"] = [{"index": i, "box": list(box)} for i, box in enumerate(self.boxes)]
        return body


def check_upload(data: bytes, filename: str = "", content_type: str | None = None) -> None:
    """Content, size and pixel-count checks shared by every photo upload (raises EnrolmentError)."""
    from core.security import UploadRejected, image_upload_check

    try:
        image_upload_check(data=data, filename=filename, content_type=content_type)
    except UploadRejected as exc:
        raise EnrolmentError(exc.code, exc.message) from exc


def enrolment_embedders() -> list[Any]:
    """Embedders whose vectors a new template stores: the active model's and a pending switch's."""
    from vision.faces.embedders import build_embedder, storage_embedders
    from watchlists.matching import active_face_model, pending_face_model

    names = [active_face_model(), pending_face_model()]
    embedders: dict[str, Any] = {}
    for name in filter(None, names):
        for embedder in storage_embedders(build_embedder(name)):
            embedders.setdefault(embedder.model_name, embedder)
    return list(embedders.values())


def analyse_photo(data: bytes, *, choose: int | None = None, embedders: list[Any] | None = None) -> Any:
    """Decode, detect and embed the photo's subject (or chosen) face, or raise EnrolmentError."""
    from vision.faces.detectors import build_detector
    from vision.faces.enrol import prepare_enrolment
    from vision.faces.errors import FaceImageError, SeveralFacesError

    if len(data) > settings.CC_MAX_UPLOAD_BYTES:
        raise EnrolmentError("too_large", f"The photo is larger than {settings.CC_MAX_UPLOAD_BYTES // 1048576} MB.")
    if not data:
        raise EnrolmentError("empty", "The file is empty.")
    try:
        return prepare_enrolment(
            data,
            detector=build_detector(settings.CC_FACE_DETECTOR),
            embedders=embedders if embedders is not None else enrolment_embedders(),
            min_face_px=settings.CC_FACE_MIN_PX,
            choose=choose,
        )
    except SeveralFacesError as exc:
        raise EnrolmentError(exc.code, exc.message, boxes=list(exc.boxes)) from exc
    except FaceImageError as exc:
        raise EnrolmentError(exc.code, exc.message) from exc


def subject_enroll_photo(
    *,
    subject: Subject,
    data: bytes,
    filename: str,
    actor: User | None,
    choose: int | None = None,
) -> FaceTemplate:
    """Add one photo of a subject as a face template (embeddings per model, crop, quality, warnings); audited."""
    suffix = PurePath(filename).suffix.lower()
    if suffix and suffix not in ALLOWED_SUFFIXES:
        raise EnrolmentError("unsupported_format", f"Files of type {suffix} are not accepted; use JPEG, PNG or WebP.")
    check_upload(data, filename)
    face = analyse_photo(data, choose=choose)
    stem = str(subject.pk)
    with transaction.atomic():
        template = FaceTemplate(
            subject=subject,
            quality_score=round(float(face.quality.score), 4),
            quality_warnings=[warning.as_dict() for warning in face.warnings],
            created_by=actor,
            box=dict(zip(("x", "y", "w", "h"), face.box, strict=True)),
        )
        template.source_photo.save(f"{stem}{suffix or '.jpg'}", ContentFile(data), save=False)
        template.face_crop.save(f"{stem}.jpg", ContentFile(face.face_jpeg), save=False)
        template.save()
        FaceEmbedding.objects.bulk_create(
            FaceEmbedding(template=template, model_name=name, embedding=vector.tolist())
            for name, vector in face.embeddings.items()
        )
        access_record(
            user=actor,
            action=AccessEvent.Action.CREATE,
            object_type="watchlists.facetemplate",
            object_id=template.pk,
            username="system" if actor is None else "",
            detail={
                "subject": str(subject.pk),
                "quality": template.quality_score,
                "warnings": [w.code for w in face.warnings],
                "models": sorted(face.embeddings),
            },
        )
        gallery_changed()
    logger.info("enrolled template %s for subject %s (quality %.2f)", template.pk, subject.pk, template.quality_score)
    return template


def template_delete(*, template: FaceTemplate, actor: User | None) -> None:
    """Remove a template with its photo and crop files (files go after commit)."""
    files = [template.source_photo, template.face_crop]
    with transaction.atomic():
        template_id, subject_id = template.pk, template.subject_id
        template.delete()
        access_record(
            user=actor,
            action=AccessEvent.Action.DELETE,
            object_type="watchlists.facetemplate",
            object_id=template_id,
            username="system" if actor is None else "",
            detail={"subject": str(subject_id)},
        )
        gallery_changed()
        transaction.on_commit(lambda: _delete_files(files))


def _delete_files(files: list[Any]) -> None:
    for field_file in files:
        if field_file.name:
            field_file.storage.delete(field_file.name)


def _box_overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / max(a[2] * a[3] + b[2] * b[3] - inter, 1)


def template_face(template: FaceTemplate) -> tuple[Any, Any]:
    """The kept source photo decoded, and its enrolled face re-detected (landmarks) or rebuilt from the box."""
    from vision.faces.base import DetectedFace
    from vision.faces.detectors import build_detector
    from vision.faces.image import decode_image

    with template.source_photo.open("rb") as handle:
        image = decode_image(handle.read())
    x, y, w, h = (int(template.box[k]) for k in ("x", "y", "w", "h"))
    box = (x, y, w, h)
    found = build_detector(settings.CC_FACE_DETECTOR).detect(image)
    best = max(found, key=lambda face: _box_overlap(face.box, box), default=None)
    if best is not None and _box_overlap(best.box, box) >= 0.5:
        return image, best
    return image, DetectedFace(x, y, w, h, 1.0)


def template_reembed(*, template: FaceTemplate, embedders: list[Any]) -> list[str]:
    """Add the embeddings ``template`` lacks for these embedders, from its kept photo; return the models added."""
    have = set(template.embeddings.values_list("model_name", flat=True))
    missing = [embedder for embedder in embedders if embedder.model_name not in have]
    if not missing:
        return []
    image, face = template_face(template)
    rows = [
        FaceEmbedding(template=template, model_name=e.model_name, embedding=e.embed(image, face).tolist())
        for e in missing
    ]
    FaceEmbedding.objects.bulk_create(rows, ignore_conflicts=True)
    return [row.model_name for row in rows]


PENDING_DIR = "enrol-pending"
PENDING_MAX_AGE_S = 3600


def _pending_path(token: str) -> Any:
    from pathlib import Path

    return Path(settings.MEDIA_ROOT) / PENDING_DIR / token


def pending_photo_keep(data: bytes, filename: str) -> str:
    """Keep an uploaded photo privately while an admin picks its face; return its token."""
    import json
    import uuid

    token = uuid.uuid4().hex
    path = _pending_path(token)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.with_suffix(".json").write_text(json.dumps({"filename": PurePath(filename).name}))
    return token


def pending_photo_read(token: str) -> tuple[str, bytes]:
    """The kept photo's file name and bytes, or EnrolmentError ``pending_expired``."""
    import json

    path = _pending_path(token)
    if not token or not path.is_file():
        raise EnrolmentError("pending_expired", "The uploaded photo is no longer kept; upload it again.")
    name = json.loads(path.with_suffix(".json").read_text())["filename"]
    return str(name), path.read_bytes()


def pending_photo_drop(token: str) -> None:
    """Delete a kept photo (after enrolment, or when it cannot be enrolled)."""
    if token:
        path = _pending_path(token)
        path.unlink(missing_ok=True)
        path.with_suffix(".json").unlink(missing_ok=True)


def pending_photo_prune(max_age_s: float = PENDING_MAX_AGE_S) -> int:
    """Delete kept photos older than an hour (an admin who walked away leaves no photo behind)."""
    import time
    from pathlib import Path

    folder = Path(settings.MEDIA_ROOT) / PENDING_DIR
    if not folder.is_dir():
        return 0
    old = [p for p in folder.iterdir() if time.time() - p.stat().st_mtime > max_age_s]
    for path in old:
        path.unlink(missing_ok=True)
    return len(old)


def face_previews(data: bytes, boxes: list[tuple[int, int, int, int]], height: int = 120) -> list[dict[str, Any]]:
    """Each face of a photo as an inline JPEG (data URI) with its index and box, for the admin to click."""
    import base64

    import cv2
    import numpy as np

    from vision.faces.base import DetectedFace
    from vision.faces.enrol import crop_face
    from vision.faces.image import decode_image, encode_jpeg

    image = decode_image(data)
    previews = []
    for index, box in enumerate(boxes):
        crop = crop_face(image, DetectedFace(*box, 1.0))
        scale = height / max(crop.shape[0], 1)
        small = np.asarray(cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), np.uint8)
        uri = "data:image/jpeg;base64," + base64.b64encode(encode_jpeg(small, quality=85)).decode("ascii")
        previews.append({"index": index, "box": list(box), "src": uri})
    return previews
