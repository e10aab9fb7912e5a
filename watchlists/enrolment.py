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
from watchlists.models import FaceTemplate, Subject

logger = logging.getLogger(__name__)

ALLOWED_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


class EnrolmentError(Exception):
    """A photo that cannot be enrolled; `code` is stable, the message is for people."""

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


def analyse_photo(data: bytes, *, choose: int | None = None) -> Any:
    """Decode, detect, check and embed the photo's single (or chosen) face, or raise EnrolmentError."""
    from vision.faces.detectors import build_detector
    from vision.faces.embedders import build_embedder
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
            embedder=build_embedder(settings.CC_FACE_MODEL),
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
    """Add one photo of a subject as a face template (embedding, crop, quality); audited."""
    suffix = PurePath(filename).suffix.lower()
    if suffix and suffix not in ALLOWED_SUFFIXES:
        raise EnrolmentError("unsupported_format", f"Files of type {suffix} are not accepted; use JPEG, PNG or WebP.")
    check_upload(data, filename)
    face = analyse_photo(data, choose=choose)
    stem = str(subject.pk)
    with transaction.atomic():
        template = FaceTemplate(
            subject=subject,
            embedding=face.embedding.tolist(),
            model_name=face.model_name,
            quality_score=round(float(face.quality.score), 4),
            created_by=actor,
            box=dict(zip(("x", "y", "w", "h"), face.box, strict=True)),
        )
        template.source_photo.save(f"{stem}{suffix or '.jpg'}", ContentFile(data), save=False)
        template.face_crop.save(f"{stem}.jpg", ContentFile(face.face_jpeg), save=False)
        template.save()
        access_record(
            user=actor,
            action=AccessEvent.Action.CREATE,
            object_type="watchlists.facetemplate",
            object_id=template.pk,
            username="system" if actor is None else "",
            detail={"subject": str(subject.pk), "quality": template.quality_score},
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
