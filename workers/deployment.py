"""The deployment a camera's face matching runs under (issue 16): the per-frame check, the watchlist
filter handed to the face stage as its matcher, and the report's counters (a count of faces, no vectors).

The window comes from the camera snapshot (``workers.camera_config.load_camera``, re-read every 5 s);
the per-frame check is a comparison of the clock with the window's end.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from django.utils import timezone

from oversight.selectors import FaceWindow
from oversight.services import deployment_alert_raised, deployment_count_faces
from watchlists.matching import Candidate, match_faces


class DeploymentGate:
    """Lets face matching run only inside the camera's live deployment, against its watchlists only."""

    def __init__(self) -> None:
        self.window: FaceWindow | None = None
        self._pending: dict[str, int] = {}  # faces analysed per deployment since the last flush
        self._lock = threading.Lock()

    def active(self, now: float | None = None) -> bool:
        """Matching may run now (the per-frame check)."""
        window = self.window
        return window is not None and window.active(time.time() if now is None else now)

    def matcher(self, model_name: str) -> Callable[[Any], list[list[Candidate]]]:
        """The face stage's matcher: the deployment's watchlists only, counting the probes compared."""

        def match(vectors: Any) -> list[list[Candidate]]:
            window = self.window
            if window is None:
                return [[] for _ in range(len(vectors))]
            with self._lock:
                self._pending[window.deployment_id] = self._pending.get(window.deployment_id, 0) + len(vectors)
            return match_faces(vectors, model_name=model_name, watchlists=window.watchlist_ids)

        return match

    def alert_raised(self, alert: Any, model_name: str) -> None:
        """Link a new face-match alert to the deployment and count it (inside the alert's transaction)."""
        window = self.window
        if window is None:
            return
        with self._lock:
            faces = self._pending.pop(window.deployment_id, 0)
        deployment_alert_raised(deployment_id=window.deployment_id, alert=alert, faces=faces, model_name=model_name)

    def flush(self, model_name: str) -> None:
        """Add the faces analysed since the last flush to each deployment's month."""
        with self._lock:
            pending, self._pending = self._pending, {}
        for deployment_id, faces in pending.items():
            deployment_count_faces(deployment_id=deployment_id, faces=faces, at=timezone.now(), model_name=model_name)

    def health(self, face_enabled: bool, stage_built: bool) -> dict[str, Any]:
        """Whether face matching runs right now and under which deployment (health, camera wall)."""
        if not face_enabled:
            return {}  # face recognition is off in the camera's own settings
        window = self.window
        if not stage_built or window is None or not window.active(time.time()):
            return {"face_matching": False}
        return {
            "face_matching": True,
            "face_deployment": window.deployment_id,
            "face_deployment_title": window.title,
            "face_deployment_until": window.until,
            "face_deployment_urgent": window.urgent,
        }
