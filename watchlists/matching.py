"""1:N matching of probe faces against the enrolled gallery, used by the stream workers.

The gallery of one face model (templates of active, unexpired subjects on active watchlists)
is held in process as an exact matrix index and reloaded when the gallery version in Redis
changes (bumped after any enrolment, deletion or watchlist change commits) or when the next
subject expires. Probes closer to a reviewer-rejected stranger ("not this person") than to
the subject are suppressed. Probe embeddings are never written anywhere by this module.

Templates store one embedding per face model; a fused model's gallery is built from its
parts' embeddings. Similarities are *calibrated*: every model's shipped operating point
shows as the same value (``vision.faces.calibration.CALIBRATED_OPERATING_POINT``), so a
watchlist threshold keeps its meaning when the model is switched.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from core.redis import GALLERY_VERSION_KEY

logger = logging.getLogger(__name__)

VERSION_CHECK_INTERVAL_S = 1.0


@dataclass(frozen=True)
class Candidate:
    """One possible identity for a probe face."""

    subject_id: uuid.UUID
    watchlist_id: uuid.UUID
    template_id: uuid.UUID
    distance: float
    similarity: float
    threshold: float
    passes: bool
    display_name: str
    watchlist_name: str
    watchlist_category: str
    suppressed: bool = False
    model_name: str = ""


@dataclass
class _Entry:
    subject_id: uuid.UUID
    watchlist_id: uuid.UUID
    threshold: float
    display_name: str
    watchlist_name: str
    category: str


@dataclass
class Gallery:
    """The matrix of one model's matchable templates plus their subjects and negatives."""

    model_name: str
    template_ids: list[uuid.UUID] = field(default_factory=list)
    matrix: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    entries: list[_Entry] = field(default_factory=list)
    negatives: dict[uuid.UUID, npt.NDArray[np.float32]] = field(default_factory=dict)
    version: int = 0
    valid_until: datetime | None = None
    checked_at: float = 0.0
    masks: dict[frozenset[uuid.UUID], npt.NDArray[np.bool_]] = field(default_factory=dict)

    def mask_for(self, watchlists: frozenset[uuid.UUID]) -> npt.NDArray[np.bool_]:
        """Templates on the given watchlists (computed once per gallery and set of lists)."""
        mask = self.masks.get(watchlists)
        if mask is None:
            mask = np.fromiter((entry.watchlist_id in watchlists for entry in self.entries), bool, len(self.entries))
            self.masks[watchlists] = mask
        return mask


def gallery_changed() -> None:
    """Bump the gallery version after the current transaction commits."""
    transaction.on_commit(_bump_version)


def _bump_version() -> None:
    try:
        cache.incr(GALLERY_VERSION_KEY)
    except ValueError:
        cache.set(GALLERY_VERSION_KEY, 1, timeout=None)


def _current_version() -> int:
    value = cache.get(GALLERY_VERSION_KEY)
    return int(value) if value is not None else 0


def _unit(rows: list[Any]) -> npt.NDArray[np.float32]:
    matrix = np.asarray(rows, dtype=np.float32)
    if matrix.size == 0:
        return matrix.reshape(0, 0)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


def active_face_model() -> str:
    """The embedder name matching uses: the model of the latest finished switch, else ``CC_FACE_MODEL``."""
    from watchlists.models import FaceModelSwitch

    latest = (
        FaceModelSwitch.objects.filter(state=FaceModelSwitch.State.DONE)
        .order_by("-finished_at")
        .values_list("model_name", flat=True)
        .first()
    )
    return latest or str(settings.CC_FACE_MODEL)


def pending_face_model() -> str | None:
    """The embedder a queued or running switch will make active (new templates are embedded for it too)."""
    from watchlists.models import FaceModelSwitch

    pending = (FaceModelSwitch.State.QUEUED, FaceModelSwitch.State.RUNNING)
    return FaceModelSwitch.objects.filter(state__in=pending).values_list("model_name", flat=True).first()


def _gallery_rows(model_name: str, subjects: Any) -> tuple[list[Any], npt.NDArray[np.float32]]:
    """Templates holding every part's embedding for ``model_name`` and their (fused) unit vectors."""
    from vision.faces.embedders import combine_vectors, fusion_parts
    from watchlists.models import FaceEmbedding, FaceTemplate

    parts = fusion_parts(model_name)
    rows = list(
        FaceTemplate.objects.filter(subject__in=subjects).values_list(
            "id",
            "subject_id",
            "subject__watchlist_id",
            "subject__watchlist__match_threshold",
            "subject__display_name",
            "subject__watchlist__name",
            "subject__watchlist__category",
        )
    )
    vectors: dict[str, dict[uuid.UUID, Any]] = {name: {} for name, _ in parts}
    embeddings = FaceEmbedding.objects.filter(template__subject__in=subjects, model_name__in=list(vectors))
    for template_id, name, embedding in embeddings.values_list("template_id", "model_name", "embedding"):
        vectors[name][template_id] = embedding
    complete = [row for row in rows if all(row[0] in vectors[name] for name, _ in parts)]
    if len(complete) < len(rows):
        logger.warning(
            "%d of %d templates have no %s embedding and cannot match until re-embedded (switch the face model)",
            len(rows) - len(complete),
            len(rows),
            model_name,
        )
    rows = complete
    if not rows:
        return [], np.zeros((0, 0), np.float32)
    per_model = {name: [list(vectors[name][row[0]]) for row in rows] for name, _ in parts}
    return rows, combine_vectors(parts, per_model)


def load_gallery(model_name: str, now: datetime | None = None) -> Gallery:
    """Read the matchable templates (with this model's embeddings) and negatives from the database."""
    from watchlists.models import NegativeExemplar, Subject

    now = now or timezone.now()
    version = _current_version()
    subjects = Subject.objects.matchable(now)
    rows, matrix = _gallery_rows(model_name, subjects)
    gallery = Gallery(model_name=model_name, version=version, checked_at=time.monotonic())
    gallery.template_ids = [row[0] for row in rows]
    gallery.matrix = matrix
    gallery.entries = [_Entry(row[1], row[2], float(row[3]), row[4], row[5], row[6]) for row in rows]
    negatives: dict[uuid.UUID, list[Any]] = {}
    for subject_id, embedding in NegativeExemplar.objects.filter(
        subject__in=subjects, model_name=model_name
    ).values_list("subject_id", "embedding"):
        negatives.setdefault(subject_id, []).append(list(embedding))
    gallery.negatives = {key: _unit(value) for key, value in negatives.items()}
    gallery.valid_until = subjects.order_by("expires_at").values_list("expires_at", flat=True).first()
    logger.info("loaded gallery %s: %d templates (version %d)", model_name, len(rows), version)
    return gallery


_galleries: dict[str, Gallery] = {}
_lock = threading.Lock()


def gallery_for(model_name: str, now: datetime | None = None) -> Gallery:
    """The process's gallery for a model, reloaded when stale (new version or a subject expired)."""
    now = now or timezone.now()
    with _lock:
        gallery = _galleries.get(model_name)
        if gallery is not None and not _stale(gallery, now):
            return gallery
        gallery = load_gallery(model_name, now)
        _galleries[model_name] = gallery
        return gallery


def _stale(gallery: Gallery, now: datetime) -> bool:
    if gallery.valid_until is not None and now >= gallery.valid_until:
        return True
    if time.monotonic() - gallery.checked_at < VERSION_CHECK_INTERVAL_S:
        return False
    gallery.checked_at = time.monotonic()
    return _current_version() != gallery.version


def reset_cache() -> None:
    """Forget loaded galleries (tests; a process that changed settings)."""
    with _lock:
        _galleries.clear()


def match_faces(
    embeddings: npt.ArrayLike,
    *,
    model_name: str,
    k: int = 3,
    now: datetime | None = None,
    watchlists: frozenset[uuid.UUID] | None = None,
) -> list[list[Candidate]]:
    """Top-k candidates per probe (best first); `passes` is True at or above the watchlist threshold.

    With ``watchlists`` (a deployment's lists) only templates on those lists can be candidates.
    """
    probes = _unit(np.atleast_2d(np.asarray(embeddings, dtype=np.float32)).tolist())
    gallery = gallery_for(model_name, now)
    if not len(gallery.template_ids) or not len(probes):
        return [[] for _ in range(len(probes))]
    similarities = probes @ gallery.matrix.T
    if watchlists is not None:
        mask = gallery.mask_for(watchlists)
        if not mask.any():
            return [[] for _ in range(len(probes))]
        similarities[:, ~mask] = -np.inf
    return [_candidates(gallery, probe, row, k) for probe, row in zip(probes, similarities, strict=True)]


def calibrated(model_name: str, raw_similarity: float) -> float:
    """A model's raw cosine similarity on the common scale watchlist thresholds use (see vision calibration)."""
    from vision.faces.calibration import calibrated_similarity

    return calibrated_similarity(model_name, raw_similarity)


def _candidates(
    gallery: Gallery, probe: npt.NDArray[np.float32], row: npt.NDArray[np.float32], k: int
) -> list[Candidate]:
    order = _top_order(row, k)
    seen: set[uuid.UUID] = set()
    found: list[Candidate] = []
    for index in order:
        if row[index] == -np.inf:
            break  # the rest are on watchlists the deployment does not name
        entry = gallery.entries[int(index)]
        if entry.subject_id in seen:
            continue  # best template per subject only
        seen.add(entry.subject_id)
        found.append(_candidate(gallery, probe, int(index), float(row[index])))
        if len(found) == k:
            break
    return found


def _top_order(row: npt.NDArray[np.float32], k: int, per_subject: int = 8) -> npt.NDArray[np.intp]:
    """Indices of the best scores, best first: argpartition of a few per wanted subject, not a full sort."""
    wanted = k * per_subject
    if wanted >= len(row):
        return np.argsort(-row)
    top = np.argpartition(-row, wanted)[:wanted]
    return top[np.argsort(-row[top])]


def _candidate(gallery: Gallery, probe: npt.NDArray[np.float32], index: int, raw: float) -> Candidate:
    entry = gallery.entries[index]
    negatives = gallery.negatives.get(entry.subject_id)
    suppressed = bool(negatives is not None and float(np.max(negatives @ probe)) >= raw)
    similarity = calibrated(gallery.model_name, raw)
    return Candidate(
        subject_id=entry.subject_id,
        watchlist_id=entry.watchlist_id,
        template_id=gallery.template_ids[index],
        distance=round(1.0 - similarity, 6),
        similarity=round(similarity, 6),
        threshold=entry.threshold,
        passes=similarity >= entry.threshold and not suppressed,
        display_name=entry.display_name,
        watchlist_name=entry.watchlist_name,
        watchlist_category=entry.category,
        suppressed=suppressed,
        model_name=gallery.model_name,
    )
