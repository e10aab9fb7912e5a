"""Evidence exports: one alert or a case bundle as a zip with a manifest (sha256 of every file, the alert's
history, its audit entries), every face blurred except the confirmed subject's.

Masked exports are for ``oversight.export_evidence``; unmasked originals only for
``oversight.export_unmasked``. Every export needs a purpose and is audited with the files' hashes. The face
models load lazily (an export is the only web request that needs them).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import tempfile
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from alerts.models import Alert, Evidence
from alerts.selectors import alerts_for
from audit.models import AccessEvent
from audit.services import access_record, access_require

logger = logging.getLogger(__name__)

MAX_ALERTS = 50
EXPORT_NAMES = {"snapshot": "snapshot", "face_crop": "face", "clip": "clip", "series": "series"}
SUBJECT_MIN_SIMILARITY = 0.90  # calibrated: the system floor of any watchlist threshold


@dataclass
class ExportedFile:
    """One file in the zip and what masking did to it."""

    name: str
    data: bytes
    kind: str
    masked_faces: int = 0
    kept_faces: int = 0
    note: str = ""

    def entry(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "bytes": len(self.data),
            "sha256": hashlib.sha256(self.data).hexdigest(),
            "faces_blurred": self.masked_faces,
            "faces_kept": self.kept_faces,
            **({"note": self.note} if self.note else {}),
        }


@dataclass
class ExportResult:
    """The zip and its manifest."""

    filename: str
    data: bytes
    manifest: dict[str, Any] = field(default_factory=dict)


class Masker:
    """Finds faces with three detectors and blurs all but the confirmed subject's."""

    def __init__(self) -> None:
        from vision.faces.detectors import build_detector
        from vision.faces.masking import face_detector_boxes
        from vision.incidents.people import CenterFaceDetector

        self._centerface: dict[int, Any] = {}
        self._centerface_type = CenterFaceDetector
        self._landmarked = build_detector("mtcnn")
        self._detectors = [self._centerface_boxes, face_detector_boxes(self._landmarked)]
        self._detectors.append(face_detector_boxes(build_detector("dlib-hog")))
        self._poses: Any = None
        self.involved: list[tuple[float, float, float, float]] | None = None  # None: people are not masked

    def _centerface_boxes(self, image: np.ndarray) -> list[tuple[float, float, float, float]]:
        width = int(min(1280, max(320, image.shape[1])))
        detector = self._centerface.setdefault(width, self._centerface_type(width=width))
        return [(b.x, b.y, b.w, b.h) for b in detector.detect(image)]

    def people(self, image: np.ndarray) -> list[tuple[float, float, float, float]]:
        """Every person's box (MoveNet MultiPose), best first."""
        if self._poses is None:
            from vision.people.movenet import PoseDetector, PoseSettings

            self._poses = PoseDetector(PoseSettings(input_size=384))
        return [tuple(float(v) for v in person.box) for person in self._poses.detect(image)]  # type: ignore[misc]

    def mask(self, image: np.ndarray, subject: SubjectKey | None) -> tuple[np.ndarray, int, int]:
        """The masked image, faces blurred, faces kept."""
        from vision.faces.masking import detect_all, mask_faces

        faces = detect_all(image, self._detectors)
        keep = subject.boxes(image, self._landmarked) if subject is not None else []
        result = mask_faces(image, faces, keep)
        # a second look at the masked picture: faces the first look missed beside the masked ones get masked too
        done = result.masked + result.kept
        more = [box for box in detect_all(result.image, self._detectors) if not _near_any(box, done)]
        again = mask_faces(result.image, more, keep)
        image_out = again.image
        if self.involved is not None:  # incidents: every person but the involved ones, whole body
            from vision.faces.masking import mask_people

            image_out = mask_people(image_out, self.people(image), self.involved).image
        return image_out, len(result.masked) + len(again.masked), len(result.kept)


def _near_any(box: tuple[float, float, float, float], others: Sequence[tuple[float, float, float, float]]) -> bool:
    from vision.faces.masking import overlaps

    return any(overlaps(box, other) or overlaps(other, box) for other in others)


@dataclass
class SubjectKey:
    """How to recognise the confirmed subject's face in a picture: the stored box, or the probe embedding."""

    model_name: str
    embedding: np.ndarray | None
    box: tuple[float, float, float, float] | None = None
    frame_width: int = 0

    def boxes(self, image: np.ndarray, detector: Any) -> list[tuple[float, float, float, float]]:
        if self.box is not None and self.frame_width:
            scale = image.shape[1] / self.frame_width
            return [tuple(v * scale for v in self.box)]  # type: ignore[list-item]
        if self.embedding is None:
            return []
        face = _embedding_match(image, detector.detect(image), self.model_name, self.embedding)
        return [] if face is None else [(float(face.x), float(face.y), float(face.w), float(face.h))]


def _embedding_match(image: np.ndarray, faces: list[Any], model_name: str, embedding: np.ndarray) -> Any:
    from vision.faces.embedders import build_embedder
    from vision.faces.masking import best_match
    from watchlists.matching import active_face_model, calibrated

    embedder = build_embedder(active_face_model())
    if embedder.model_name != model_name:
        return None  # the probe was embedded by another model: nothing to compare with
    raw_floor = _raw_for(model_name, SUBJECT_MIN_SIMILARITY, calibrated)
    return best_match(image, faces, embedder.embed_many, embedding, raw_floor)


def _raw_for(model_name: str, target: float, calibrated: Any) -> float:
    """The raw cosine whose calibrated similarity is ``target`` (bisection: calibration is monotone)."""
    low, high = -1.0, 1.0
    for _step in range(40):
        middle = (low + high) / 2
        if calibrated(model_name, middle) < target:
            low = middle
        else:
            high = middle
    return high


def _subject_key(alert: Alert) -> SubjectKey | None:
    """The confirmed subject of a face-match alert (None: no face is kept sharp)."""
    if alert.kind != Alert.Kind.FACE_MATCH or alert.review != Alert.Review.CONFIRMED:
        return None
    details = alert.details or {}
    box = details.get("box")
    frame_width = int(details.get("frame_width") or 0)
    embedding = None if alert.probe_embedding is None else np.asarray(alert.probe_embedding, np.float32)
    return SubjectKey(
        model_name=str(details.get("model_name", "")),
        embedding=embedding,
        box=tuple(float(v) for v in box) if isinstance(box, list) and len(box) == 4 else None,  # type: ignore[arg-type]
        frame_width=frame_width,
    )


def _mask_jpeg(data: bytes, masker: Masker, subject: SubjectKey | None) -> tuple[bytes, int, int]:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("not a decodable image")
    masked, blurred, kept = masker.mask(image, subject)
    ok, buffer = cv2.imencode(".jpg", masked, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(buffer.tobytes()), blurred, kept


def _mask_clip(data: bytes, masker: Masker, subject: SubjectKey | None, suffix: str) -> tuple[bytes, int, int]:
    """Decode the clip, mask every frame, encode it again (VP8 WebM, as recorded)."""
    with tempfile.TemporaryDirectory(prefix="cc-export-") as folder:
        source, target = Path(folder) / f"in{suffix}", Path(folder) / "out.webm"
        source.write_bytes(data)
        capture = cv2.VideoCapture(str(source))
        fps = capture.get(cv2.CAP_PROP_FPS) or 5.0
        writer: cv2.VideoWriter | None = None
        blurred = kept = 0
        try:
            while True:
                ok, frame = capture.read()
                if not ok:
                    break
                masked, b, k = masker.mask(frame, subject)
                blurred, kept = blurred + b, kept + k
                if writer is None:
                    size = (frame.shape[1], frame.shape[0])
                    writer = cv2.VideoWriter(str(target), cv2.VideoWriter.fourcc(*"VP80"), fps, size)
                writer.write(masked)
        finally:
            capture.release()
            if writer is not None:
                writer.release()
        if writer is None or not target.exists():
            raise ValueError("the clip has no decodable frame")
        return target.read_bytes(), blurred, kept


def _alert_files(alert: Alert, *, unmasked: bool, masker: Masker | None) -> list[ExportedFile]:
    subject = _subject_key(alert)
    files = []
    seen: dict[str, int] = {}
    for evidence in Evidence.objects.filter(alert=alert).order_by("kind", "created_at"):
        seen[evidence.kind] = seen.get(evidence.kind, 0) + 1
        suffix = Path(evidence.file.name or "").suffix or ".bin"
        number = f"-{seen[evidence.kind]}" if seen[evidence.kind] > 1 else ""
        name = f"{EXPORT_NAMES.get(evidence.kind, evidence.kind)}{number}{suffix}"
        try:
            with evidence.file.open("rb") as handle:
                data = handle.read()
        except OSError as exc:
            files.append(ExportedFile(name, b"", evidence.kind, note=f"missing file: {exc}"))
            continue
        files.append(_export_file(evidence, name, data, unmasked=unmasked, masker=masker, subject=subject))
    return files


def _export_file(
    evidence: Evidence, name: str, data: bytes, *, unmasked: bool, masker: Masker | None, subject: SubjectKey | None
) -> ExportedFile:
    if unmasked or evidence.kind == Evidence.Kind.SERIES:
        return ExportedFile(name, data, evidence.kind)
    assert masker is not None
    if evidence.kind == Evidence.Kind.FACE_CROP:
        if subject is None:  # an unconfirmed candidate may be a bystander: their face is not exported
            return ExportedFile(name, b"", evidence.kind, note="withheld: the match is not confirmed")
        return ExportedFile(name, data, evidence.kind, kept_faces=1)
    try:
        if evidence.kind == Evidence.Kind.CLIP:
            masked, blurred, kept = _mask_clip(data, masker, subject, Path(name).suffix or ".webm")
            return ExportedFile(Path(name).with_suffix(".webm").name, masked, evidence.kind, blurred, kept)
        masked, blurred, kept = _mask_jpeg(data, masker, subject)
        return ExportedFile(Path(name).with_suffix(".jpg").name, masked, evidence.kind, blurred, kept)
    except ValueError as exc:
        return ExportedFile(name, b"", evidence.kind, note=f"withheld: could not be masked ({exc})")


def _history(alert: Alert) -> list[dict[str, Any]]:
    return [
        {
            "at": event.created_at.isoformat(),
            "action": event.action,
            "actor": event.actor.get_username() if event.actor else "system",
            "from": event.from_status,
            "to": event.to_status,
            "note": event.note,
        }
        for event in alert.events.select_related("actor").order_by("created_at", "pk")
    ]


def _audit_entries(alert: Alert) -> list[dict[str, Any]]:
    evidence_ids = [str(pk) for pk in alert.evidence.values_list("pk", flat=True)]
    rows = AccessEvent.objects.filter(Q(object_id=str(alert.pk)) | Q(object_id__in=evidence_ids)).order_by("id")
    return [
        {
            "id": row.id,
            "at": row.at.isoformat(),
            "user": row.username,
            "action": row.action,
            "object": f"{row.object_type}:{row.object_id}",
            "purpose": row.purpose,
            "hash": row.hash,
        }
        for row in rows
    ]


def _summary(alert: Alert) -> dict[str, Any]:
    return {
        "id": str(alert.pk),
        "kind": alert.kind,
        "status": alert.status,
        "review": alert.review,
        "severity": alert.severity,
        "score": alert.score,
        "camera": alert.camera.name,
        "venue": alert.venue.name,
        "raised_at": alert.raised_at.isoformat(),
        "subject_reference": alert.subject.reference_number if alert.subject and alert.review == "confirmed" else "",
    }


def _check(actor: User, alerts: Sequence[uuid.UUID], purpose: str, unmasked: bool) -> list[Alert]:
    perm = "oversight.export_unmasked" if unmasked else "oversight.export_evidence"
    access_require(user=actor, perm=perm, object_type="export")
    if not purpose.strip():
        raise ValidationError({"purpose": [_("State the purpose or case reference of the export.")]})
    if not alerts or len(alerts) > MAX_ALERTS:
        raise ValidationError({"alerts": [_("Export between 1 and %(n)d alerts.") % {"n": MAX_ALERTS}]})
    found = list(alerts_for(actor).filter(pk__in=list(alerts)).select_related("subject"))
    if len(found) != len(set(alerts)):
        access_record(
            user=actor,
            action=AccessEvent.Action.DENIED,
            object_type="export",
            detail={"reason": "unknown or outside venue scope", "alerts": [str(a) for a in alerts][:MAX_ALERTS]},
        )
        raise PermissionDenied(_("Unknown alert, or one outside your venues."))
    return sorted(found, key=lambda a: a.raised_at)


def snapshot_people(alert: Alert) -> list[tuple[float, float, float, float]]:
    """The people in an alert's snapshot, numbered 1.. in this order (for choosing the involved ones)."""
    evidence = Evidence.objects.filter(alert=alert, kind=Evidence.Kind.SNAPSHOT).order_by("created_at").first()
    if evidence is None:
        return []
    with evidence.file.open("rb") as handle:
        image = cv2.imdecode(np.frombuffer(handle.read(), np.uint8), cv2.IMREAD_COLOR)
    return [] if image is None else Masker().people(image)


def evidence_export(
    *,
    actor: User,
    alert_ids: Sequence[uuid.UUID],
    purpose: str,
    unmasked: bool = False,
    involved: Sequence[int] | None = None,
) -> ExportResult:
    """Build the zip for one alert or a case bundle; the export is audited (with every file's hash) first.

    ``involved`` (one incident alert): the numbers (1..) of the people in its snapshot who are involved;
    every other person is blurred whole-body in the snapshot and, where they overlap, in the clip frames.
    """
    alerts = _check(actor, alert_ids, purpose, unmasked)
    masker = None if unmasked else Masker()
    if masker is not None and involved is not None:
        if len(alerts) != 1 or alerts[0].kind == Alert.Kind.FACE_MATCH:
            raise ValidationError({"involved": [_("Choose involved people for one incident alert at a time.")]})
        people = snapshot_people(alerts[0])
        unknown = [n for n in involved if not 1 <= n <= len(people)]
        if unknown:
            raise ValidationError(
                {
                    "involved": [
                        _("The snapshot shows %(count)d people; there is no person %(numbers)s.")
                        % {"count": len(people), "numbers": ", ".join(str(n) for n in unknown)}
                    ]
                }
            )
        masker.involved = [people[n - 1] for n in involved]
    per_alert = [(alert, _alert_files(alert, unmasked=unmasked, masker=masker)) for alert in alerts]
    digests = {
        str(alert.pk): {f.name: hashlib.sha256(f.data).hexdigest() for f in files if f.data}
        for alert, files in per_alert
    }
    access_record(
        user=actor,
        action=AccessEvent.Action.EXPORT,
        object_type="alert" if len(alerts) == 1 else "case_bundle",
        object_id=alerts[0].pk if len(alerts) == 1 else "",
        purpose=purpose.strip()[:300],
        detail={
            "alerts": list(digests),
            "unmasked": unmasked,
            "people_masked": involved is not None and not unmasked,
            "involved": list(involved or []),
            "sha256": digests,
        },
    )
    return _zip(actor, per_alert, purpose.strip(), unmasked, involved)


def _zip(
    actor: User,
    per_alert: list[tuple[Alert, list[ExportedFile]]],
    purpose: str,
    unmasked: bool,
    involved: Sequence[int] | None = None,
) -> ExportResult:
    now = timezone.now()
    manifest: dict[str, Any] = {
        "exported_at": now.isoformat(),
        "exported_by": actor.get_username(),
        "purpose": purpose,
        "masking": "none (unmasked originals)"
        if unmasked
        else "every face blurred except a confirmed subject's"
        + (", and every person but the involved ones" if involved is not None else ""),
        "alerts": [],
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for alert, files in per_alert:
            folder = f"alert-{alert.pk}"
            for exported in files:
                if exported.data:
                    archive.writestr(f"{folder}/{exported.name}", exported.data)
            manifest["alerts"].append(
                {
                    **_summary(alert),
                    "folder": folder,
                    "files": [f.entry() for f in files],
                    "history": _history(alert),
                    "audit": _audit_entries(alert),
                }
            )
        archive.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
    stem = f"alert-{per_alert[0][0].pk}" if len(per_alert) == 1 else f"case-{now:%Y%m%d-%H%M%S}"
    return ExportResult(f"{stem}{'-unmasked' if unmasked else ''}.zip", buffer.getvalue(), manifest)
