"""The city's own labelled incident footage: reviewed fight and aggression alerts' clips as a training set.

The fight model ships trained on 76 public clips (issue 12); what can move its accuracy on a city's cameras
is the city's own footage, labelled by what dispatchers found. `incident_clips_export` writes every
resolved fight or aggression alert that has a clip and a telling outcome into a folder the training script
reads (``python -m tools.train_fight --extra FOLDER --out FILE``):

- ``fight/<alert id>.<ext>`` for outcomes that confirm an incident (handled on site, arrest);
- ``noFight/<alert id>.<ext>`` for false alarms and "no action needed";
- ``labels.csv`` with ``file,label,source_video`` (what ``tools.train_fight`` reads; the source is the
  camera, so cross-validation never trains and tests on one camera's footage) and the alert, camera, kind,
  outcome, raise time and the clip's sha256.

The clips are unmasked originals, so the export needs ``oversight.export_unmasked``, a purpose, alerts inside
the exporter's venues, and is audited (one row naming every alert and every file's hash) before a file is
written. Alerts whose clip is gone (retention) are counted, not exported.
"""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from alerts.models import (
    INCIDENT_CONFIRMED_OUTCOMES,
    INCIDENT_FALSE_OUTCOMES,
    INCIDENT_RETRAINED_KINDS,
    Alert,
    Evidence,
)
from alerts.selectors import alerts_for
from audit.models import AccessEvent
from audit.services import access_record, access_require
from vision.models import sha256_file

PERMISSION = "oversight.export_unmasked"
LABELS: dict[str, str] = {
    **{outcome: "fight" for outcome in INCIDENT_CONFIRMED_OUTCOMES},
    **{outcome: "noFight" for outcome in INCIDENT_FALSE_OUTCOMES},
}
COLUMNS = ("file", "label", "source_video", "alert", "camera", "kind", "outcome", "raised_at", "sha256")


@dataclass
class TrainingExport:
    """What an export wrote: clips per label, the labels file, and the alerts it could not include."""

    folder: Path
    fight: int = 0
    no_fight: int = 0
    cameras: int = 0
    missing_clip: list[str] = field(default_factory=list)  # alert ids whose clip file is gone

    @property
    def written(self) -> int:
        """Clips written."""
        return self.fight + self.no_fight


def source_of(camera_id: object) -> str:
    """The cross-validation group of a camera's clips."""
    return f"camera-{camera_id}"


def incident_clips_export(
    *, actor: User, folder: Path, purpose: str, since: datetime | None = None, camera_id: str | None = None
) -> TrainingExport:
    """Write the reviewed incident clips to `folder` (new or empty) with labels.csv; audited first.

    PermissionDenied without `oversight.export_unmasked`; ValidationError for a missing purpose, a folder
    that already holds files, or no reviewed alert with a clip to export.
    """
    access_require(user=actor, perm=PERMISSION, object_type="training_set")
    if not purpose.strip():
        raise ValidationError({"purpose": ["State the purpose of the export (for example the retraining ticket)."]})
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ValidationError({"folder": [f"{folder} already exists and is not an empty folder: choose a new one."]})
    alerts = alerts_for(actor).filter(
        kind__in=INCIDENT_RETRAINED_KINDS, status=Alert.Status.RESOLVED, outcome__in=list(LABELS)
    )
    if since is not None:
        alerts = alerts.filter(raised_at__gte=since)
    if camera_id is not None:
        alerts = alerts.filter(camera_id=camera_id)
    clips = {  # alert -> its newest clip
        e.alert_id: e
        for e in Evidence.objects.filter(alert__in=alerts, kind=Evidence.Kind.CLIP).order_by("alert", "created_at")
    }
    chosen = [alert for alert in alerts.order_by("raised_at") if alert.pk in clips]
    result = TrainingExport(folder)
    rows: list[tuple[Alert, Path, str]] = []
    for alert in chosen:
        path = Path(clips[alert.pk].file.path)
        if not path.is_file():
            result.missing_clip.append(str(alert.pk))
            continue
        rows.append((alert, path, sha256_file(path)))
    if not rows:
        reviewed = alerts.count()
        raise ValidationError(
            {
                "alerts": [
                    f"No reviewed fight or aggression alert with a clip to export ({reviewed} resolved with a "
                    f"telling outcome, {len(result.missing_clip)} of them without their clip file)."
                ]
            }
        )
    digests = {str(alert.pk): digest for alert, _, digest in rows}
    access_record(
        user=actor,
        action=AccessEvent.Action.EXPORT,
        object_type="training_set",
        purpose=purpose.strip()[:300],
        detail={"folder": str(folder), "sha256": digests, "missing_clip": result.missing_clip},
    )
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "labels.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for alert, path, digest in rows:
            label = LABELS[alert.outcome]
            name = f"{label}/{alert.pk}{path.suffix}"
            (folder / label).mkdir(exist_ok=True)
            shutil.copyfile(path, folder / name)
            writer.writerow(
                (
                    name,
                    label,
                    source_of(alert.camera_id),
                    alert.pk,
                    alert.camera_id,
                    alert.kind,
                    alert.outcome,
                    alert.raised_at.isoformat(),
                    digest,
                )
            )
            if label == "fight":
                result.fight += 1
            else:
                result.no_fight += 1
    result.cameras = len({alert.camera_id for alert, *_ in rows})
    return result
