"""Photo check: every face in a photo with its watchlist candidates (audited search)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User

from audit.models import AccessEvent
from audit.services import access_record
from watchlists.enrolment import EnrolmentError, check_upload
from watchlists.matching import Candidate, active_face_model, match_faces


@dataclass
class FaceResult:
    """One face found in the photo and its best candidates."""

    box: list[int]
    quality: float
    candidates: list[dict[str, Any]] = field(default_factory=list)


def _candidate_dict(candidate: Candidate) -> dict[str, Any]:
    return {
        "subject_id": str(candidate.subject_id),
        "subject": candidate.display_name,
        "watchlist": candidate.watchlist_name,
        "watchlist_id": str(candidate.watchlist_id),
        "watchlist_category": candidate.watchlist_category,
        "template_id": str(candidate.template_id),
        "distance": round(candidate.distance, 4),
        "similarity": round(candidate.similarity, 4),
        "threshold": candidate.threshold,
        "passes": candidate.passes,
        "suppressed": candidate.suppressed,
        "model": candidate.model_name,
    }


def identify_photo(data: bytes, *, k: int = 3) -> list[FaceResult]:
    """Detect every face, embed each and match it; raises EnrolmentError for unreadable photos."""
    from vision.faces.detectors import build_detector
    from vision.faces.embedders import build_embedder
    from vision.faces.errors import FaceImageError
    from vision.faces.image import decode_image
    from vision.faces.quality import assess_quality

    if len(data) > settings.CC_MAX_UPLOAD_BYTES:
        raise EnrolmentError("too_large", f"The photo is larger than {settings.CC_MAX_UPLOAD_BYTES // 1048576} MB.")
    try:
        image = decode_image(data, max_pixels=settings.CC_MAX_IMAGE_PIXELS)
    except FaceImageError as exc:
        raise EnrolmentError(exc.code, exc.message) from exc
    faces = build_detector(settings.CC_FACE_DETECTOR).detect(image)
    if not faces:
        return []
    embedder = build_embedder(active_face_model())
    embeddings = embedder.embed_many(image, faces)
    matches = match_faces(embeddings, model_name=embedder.model_name, k=k)
    return [
        FaceResult(
            box=list(face.box),
            quality=round(assess_quality(image, face).score, 3),
            candidates=[_candidate_dict(c) for c in found],
        )
        for face, found in zip(faces, matches, strict=True)
    ]


def photo_check(
    *, user: User | AnonymousUser | None, data: bytes, purpose: str, source: str = "api"
) -> list[dict[str, Any]]:
    """A user's audited photo check against the watchlists (purpose is required)."""
    if not purpose.strip():
        raise EnrolmentError("purpose_required", "State the purpose or case reference of this search.")
    check_upload(data)
    results = identify_photo(data)
    access_record(
        user=user,
        action=AccessEvent.Action.SEARCH,
        object_type="watchlists.photo_check",
        purpose=purpose,
        username="" if user is not None else "shell",
        detail={
            "source": source,
            "faces": len(results),
            "candidates": [c["subject_id"] for r in results for c in r.candidates if c["passes"]],
        },
    )
    return [asdict(result) for result in results]


def identify_settings() -> dict[str, Any]:
    """What a photo check uses: the face model and detector, and each active watchlist's threshold."""
    from vision.faces.calibration import CALIBRATED_OPERATING_POINT
    from vision.faces.embedders import build_embedder
    from watchlists.models import Watchlist

    name = active_face_model()
    return {
        "model": name,
        "model_name": build_embedder(name).model_name,
        "detector": settings.CC_FACE_DETECTOR,
        "similarity": (
            f"calibrated: {CALIBRATED_OPERATING_POINT} is the model's shipped operating point; "
            "a candidate passes at or above its watchlist's threshold"
        ),
        "thresholds": dict(Watchlist.objects.filter(active=True).values_list("name", "match_threshold")),
    }
