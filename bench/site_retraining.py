"""Retraining the fight model on a city's own reviewed alerts: the loop run on real footage, measured.

Run: ``.venv/bin/python bench/site_retraining.py`` (reads ``var/fight-cache/`` like
``bench/incident_accuracy.py``; extracts what is missing, the exported clips included; ~2 min).

The 76 public clips the shipped model learned from cannot make it quiet on a given city's cameras; the
cameras' own reviewed alerts can. This bench runs the loop the product supports end to end:

1. *Weeks in service*: the shipped model watches the first half of each ordinary camera (vtest.avi, the
   intel_people corridor, the MOT17-13 street: no fight anywhere, so every alert a dispatcher reviews is a
   false alarm) and the whole of the violence clips (every alert a confirmed fight), replayed from the cache
   with the live person stage's defaults and a camera's live trigger (1 s minimum duration).
2. *The evidence*: each alert gets the clip a camera session records (``workers.clips.ClipRecorder``: 4 s
   before, 4 s after, 5 fps, 1280 px, WebM VP8), labelled as the dispatcher's outcome would label it, in
   the folder layout ``manage.py export_incident_clips`` writes (``labels.csv``, sources = cameras).
3. *Retraining*: ``python -m tools.train_fight --extra FOLDER --out FILE`` (in-process).
4. *Measured, shipped vs site model, in one run*: false fight + aggression alerts on the **second** halves
   of the ordinary cameras (footage neither model trained on), the 76 public clips' held-out AUC, and the
   share of the 38 public fight clips alerted out-of-fold (the site model's folds include the city's
   clips in training, grouped by camera) with the median time to alert.

What it cannot show: a few minutes of three cameras give few alerts, so the counts are small; a city's
footage, and weeks of it, decide the real figure.
"""

from __future__ import annotations

import csv
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from _common import require_sample, table
from incident_accuracy import (
    LIVE_MIN_DURATION_S,
    LIVE_PEOPLE,
    Stream,
    alerts,
    first_alerts,
    stream_of,
    timing,
    upper_rate,
)
from sklearn.metrics import roc_auc_score

from tools import fight_cache, train_fight
from tools.train_fight import (
    RECIPE,
    SEED,
    ClipFeatures,
    Recipe,
    cross_validate,
    extra_rows,
    extract_dataset,
    fold_models,
    read_labels,
)
from vision.incidents.budget import replay as trigger_replay
from vision.incidents.fight import FightModel
from vision.incidents.video import iter_frames
from workers.clips import ClipRecorder, FrameRing

ORDINARY: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("vtest", ()),
    ("intel_people", ("video", "intel_people", "one-by-one-person-detection.mp4")),
    ("mot17_13", ("video", "mot_crowds", "MOT17-13-SDP-raw.h265")),
)
CLIP_FPS, PRE_S, POST_S, CLIP_WIDTH = 5.0, 4.0, 4.0, 1280  # a camera session's evidence clips (CC_CLIP_*)


def camera_path(parts: tuple[str, ...]) -> Path:
    """The footage of one simulated camera (vtest.avi from opencv-doc)."""
    if not parts:
        if not fight_cache.VTEST.exists():
            print(f"SKIP: {fight_cache.VTEST} not found (install the Debian package opencv-doc)")
            raise SystemExit(0)
        return fight_cache.VTEST
    return require_sample(*parts)


def alert_times(stream: Stream, model: FightModel, until: float | None = None) -> list[float]:
    """Times a camera's live triggers (fight or aggression) raise an alert, up to `until` seconds."""
    when = timing(model, LIVE_MIN_DURATION_S)
    keep = stream.t <= until if until is not None else np.ones(len(stream.t), bool)
    t, s = stream.t[keep], stream.scores[keep]
    found = trigger_replay(t, s, model.threshold_fight, when.fight_min_duration_s, when.cooldown_s, when.release_s)
    found += trigger_replay(
        t, s, model.threshold_aggression, when.aggression_min_duration_s, when.cooldown_s, when.release_s
    )
    return sorted({round(float(t[start]), 1) for start, _ in found})


def record_clips(path: Path, moments: Sequence[float], folder: Path, stem: str) -> list[Path]:
    """The evidence clips a camera session would have written around each alert (ClipRecorder, as live)."""
    ring = FrameRing(max_seconds=PRE_S + POST_S + 2.0, fps=CLIP_FPS, max_width=CLIP_WIDTH)
    recorder = ClipRecorder(ring, pre_s=PRE_S, post_s=POST_S, max_pending=max(4, len(moments)))
    pending = sorted(moments)
    jobs = []
    for t, frame in iter_frames(path, CLIP_FPS):
        recorder.add(frame, t)
        while pending and t >= pending[0]:
            jobs.append(recorder.trigger(folder / f"{stem}-{len(jobs):02d}", at=pending.pop(0)))
    recorder.close(timeout=120.0)
    failed = [f"{job.path.name}: {job.error}" for job in jobs if job.error]
    if failed:
        raise SystemExit(f"clip recording failed: {failed}")
    return [job.path for job in jobs]


def export_folder(shipped: FightModel, violence: list[Path], folder: Path) -> dict[str, list[float]]:
    """Step 1-2: the shipped model's alerts on the cameras' first halves and the violence clips, as clips."""
    rows, raised = [], {}
    for name, parts in ORDINARY:
        path = camera_path(parts)
        stream = stream_of(path, shipped, name, LIVE_PEOPLE)
        half = stream.seconds / 2
        raised[name] = alert_times(stream, shipped, until=half)
        for clip in record_clips(path, raised[name], folder / "noFight", name):
            rows.append((f"noFight/{clip.name}", "noFight", f"camera-{name}"))
    for path in violence:
        stream = stream_of(path, shipped, path.name, LIVE_PEOPLE)
        raised[path.name] = alert_times(stream, shipped)
        for clip in record_clips(path, raised[path.name], folder / "fight", path.stem):
            rows.append((f"fight/{clip.name}", "fight", "camera-violence"))
    with (folder / "labels.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("file", "label", "source_video"))
        writer.writerows(rows)
    return raised


def public_recall(
    root: Path, reference: list[ClipFeatures], extra: list[ClipFeatures], model: FightModel
) -> tuple[float, float | None, float]:
    """Share of the public fight clips alerted out-of-fold, median seconds to alert, public held-out AUC."""
    recipe = Recipe((tuple(model.features),), model.gate_s, float(model.meta.get("C", RECIPE.c)))
    clips = reference + extra
    owners = fold_models(clips, model, SEED, 5, recipe)
    fights = [stream_of(root / c.file, owners[c.file], c.file, LIVE_PEOPLE) for c in reference if c.label]
    firsts = first_alerts(fights, model.threshold_fight, model.threshold_aggression, timing(model, 1.0))
    hit = [t for t in firsts if t is not None]
    oof = cross_validate(clips, model.features, SEED, 5, recipe)[: len(reference)]
    auc = float(roc_auc_score([c.label for c in reference], oof))
    return len(hit) / len(fights), (float(np.median(hit)) if hit else None), auc


def main() -> None:
    """Run the loop and print the comparison."""
    logging.basicConfig(level=logging.WARNING)
    root = require_sample("fights", "surveillance")
    violence = [require_sample(*parts) for parts in fight_cache.VIOLENCE_CLIPS]
    shipped = FightModel.from_json()
    with tempfile.TemporaryDirectory(prefix="city-clips-") as tmp:
        folder = Path(tmp) / "export"
        (folder / "fight").mkdir(parents=True)
        (folder / "noFight").mkdir()
        raised = export_folder(shipped, violence, folder)
        rows = read_labels(folder)
        fights = sum(r["label"] == "fight" for r in rows)
        print(
            f"exported {len(rows)} reviewed alert clips: {fights} fight (violence clips), {len(rows) - fights} "
            f"false alarms ({', '.join(f'{n} {len(raised[n])}' for n, _ in ORDINARY)} on the first halves)"
        )
        site_path = Path(tmp) / "site-model.json"
        if train_fight.main(["--extra", str(folder), "--out", str(site_path)]) != 0:
            raise SystemExit("site training failed")
        site = FightModel.from_json(site_path)
        reference = extract_dataset(root, read_labels(root), RECIPE.gate_s)
        extra = extract_dataset(folder, extra_rows(folder), RECIPE.gate_s)
        print(
            f"site model: features {'+'.join(site.features)}, thresholds {site.threshold_fight}/"
            f"{site.threshold_aggression} (shipped {shipped.threshold_fight}/{shipped.threshold_aggression})\n"
        )
        result_rows = []
        for name, model, extras in (("shipped", shipped, []), ("site (retrained)", site, extra)):
            later, seconds = [], 0.0
            for cam, parts in ORDINARY:
                stream = stream_of(camera_path(parts), model, cam, LIVE_PEOPLE)
                keep = stream.t > stream.seconds / 2
                later.append(Stream(cam, stream.t[keep], stream.scores[keep]))
                seconds += stream.seconds / 2
            f, a = alerts(later, model.threshold_fight, model.threshold_aggression, timing(model, LIVE_MIN_DURATION_S))
            recall, median, auc = public_recall(root, reference, extras, model)
            result_rows.append(
                [
                    name,
                    f"{f} + {a}",
                    f"{(f + a) * 3600 / seconds:.0f} (95% up to {upper_rate(f + a, seconds):.0f})",
                    f"{recall:.0%}",
                    "-" if median is None else f"{median:.1f} s",
                    f"{auc:.3f}",
                ]
            )
        print(f"second halves of the ordinary cameras ({seconds:.0f} s, never trained on), live person stage:")
        print(
            table(
                result_rows,
                ["model", "fight + aggression alerts", "per camera-hour", "public fights alerted", "median", "AUC"],
            )
        )


if __name__ == "__main__":
    main()
