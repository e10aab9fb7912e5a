"""Purpose-gated event search: past alerts in the user's venue scope by time, place, kind, status,
subject or watchlist, and by photo. A photo is matched only against the probe embeddings stored with
face-match alerts (the only face vectors of people seen by cameras that exist: faces that matched nobody
leave none). Every search needs a purpose or case reference and is audited with its parameters and the
number of results; the photo itself and its embedding are not kept.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from pgvector.django import CosineDistance

from alerts.models import Alert
from alerts.selectors import alerts_for
from audit.models import AccessEvent
from audit.services import access_record

logger = logging.getLogger(__name__)

MAX_RESULTS = 200


@dataclass(frozen=True)
class SearchQuery:
    """What to look for (every field optional but the purpose)."""

    purpose: str
    start: datetime | None = None
    end: datetime | None = None
    venue: Any = None
    camera: Any = None
    kind: str = ""
    status: str = ""
    review: str = ""
    subject: str = ""  # a name or reference number, case-insensitive substring
    watchlist: Any = None
    photo: bytes | None = None
    min_similarity: float = 0.0  # calibrated; 0 = the system floor

    def parameters(self) -> dict[str, Any]:
        """The parameters as the audit log records them (the photo only as its hash)."""
        values = {
            "start": self.start.isoformat() if self.start else "",
            "end": self.end.isoformat() if self.end else "",
            "venue": str(getattr(self.venue, "pk", self.venue) or ""),
            "camera": str(getattr(self.camera, "pk", self.camera) or ""),
            "kind": self.kind,
            "status": self.status,
            "review": self.review,
            "subject": self.subject,
            "watchlist": str(getattr(self.watchlist, "pk", self.watchlist) or ""),
        }
        if self.photo is not None:
            values["photo_sha256"] = hashlib.sha256(self.photo).hexdigest()
        return {key: value for key, value in values.items() if value}


@dataclass
class SearchResult:
    """The alerts found (newest first, or most similar first for a photo) and what the photo showed."""

    alerts: list[Alert]
    similarity: dict[Any, float] = field(default_factory=dict)
    faces_in_photo: int = 0
    total: int = 0


def _filtered(user: User, query: SearchQuery) -> QuerySet[Alert]:
    rows = alerts_for(user).select_related("subject__watchlist")
    if query.start:
        rows = rows.filter(raised_at__gte=query.start)
    if query.end:
        rows = rows.filter(raised_at__lt=query.end)
    for name, value in (("venue", query.venue), ("camera", query.camera), ("subject__watchlist", query.watchlist)):
        if value:
            rows = rows.filter(**{name: value})
    for name, value in (("kind", query.kind), ("status", query.status), ("review", query.review)):
        if value:
            rows = rows.filter(**{name: value})
    if query.subject.strip():
        text = query.subject.strip()
        rows = rows.filter(Q(subject__display_name__icontains=text) | Q(subject__reference_number__iexact=text))
    return rows


def event_search(*, user: User, query: SearchQuery) -> SearchResult:
    """Run one search (permission, purpose, scope) and audit it with its parameters and result count."""
    if not user.has_perm("oversight.search_events"):
        access_record(user=user, action=AccessEvent.Action.DENIED, object_type="event_search")
        raise PermissionDenied("oversight.search_events")
    if not query.purpose.strip():
        raise ValidationError({"purpose": [_("State the purpose or case reference of the search.")]})
    rows = _filtered(user, query)
    if query.photo is not None:
        result = _by_photo(rows, query)
    else:
        total = rows.count()
        result = SearchResult(alerts=list(rows.order_by("-raised_at")[:MAX_RESULTS]), total=total)
    access_record(
        user=user,
        action=AccessEvent.Action.SEARCH,
        object_type="event_search",
        purpose=query.purpose.strip()[:300],
        detail={
            "parameters": query.parameters(),
            "results": result.total,
            "shown": [str(a.pk) for a in result.alerts][:MAX_RESULTS],
            **({"faces_in_photo": result.faces_in_photo} if query.photo is not None else {}),
        },
    )
    return result


def _by_photo(rows: QuerySet[Alert], query: SearchQuery) -> SearchResult:
    """Face-match alerts whose stored probe is close to a face in the photo (most similar first)."""
    from vision.faces.detectors import build_detector
    from vision.faces.embedders import build_embedder
    from vision.faces.errors import FaceImageError
    from vision.faces.image import decode_image
    from watchlists.matching import active_face_model, calibrated

    assert query.photo is not None
    try:
        image = decode_image(query.photo, max_pixels=settings.CC_MAX_IMAGE_PIXELS)
    except FaceImageError as exc:
        raise ValidationError({"photo": [exc.message]}) from exc
    faces = build_detector(settings.CC_FACE_DETECTOR).detect(image)
    if not faces:
        return SearchResult(alerts=[], faces_in_photo=0)
    embedder = build_embedder(active_face_model())
    vectors = embedder.embed_many(image, faces)
    floor = max(query.min_similarity, settings.CC_FACE_THRESHOLD_FLOOR)
    stored = rows.filter(kind=Alert.Kind.FACE_MATCH, probe_embedding__isnull=False)
    stored = stored.filter(details__model_name=embedder.model_name)  # vectors of one model are comparable
    best: dict[Any, tuple[float, Alert]] = {}
    for vector in vectors:
        near = stored.annotate(distance=CosineDistance("probe_embedding", list(map(float, vector))))
        for alert in near.order_by("distance")[:MAX_RESULTS]:
            similarity = calibrated(embedder.model_name, 1.0 - float(alert.distance))  # type: ignore[attr-defined]
            if similarity >= floor and similarity > best.get(alert.pk, (0.0, alert))[0]:
                best[alert.pk] = (similarity, alert)
    ordered = sorted(best.values(), key=lambda item: -item[0])
    return SearchResult(
        alerts=[alert for _score, alert in ordered],
        similarity={alert.pk: round(score, 3) for score, alert in ordered},
        faces_in_photo=len(faces),
        total=len(ordered),
    )
