"""False-alert budget: replay speed against the live trigger, score storage, and calibration on real footage.

Scores all the normal footage on disk with the shipped model as a live camera would (FightScorer, 10 fps,
stored on the 0.01 grid as sessions store them), then prints:
- the run-based replay against IncidentTrigger fed sample by sample (identical starts, time, ratio);
- the bytes a camera's score history takes (chunks as sessions write them) against plain float32 pairs;
- what a calibration can say from this footage: hours, the budgets it is long enough for, the thresholds at
  the smallest such budget, and the model's default against them on the same footage (in-sample) with the
  labelled reference's recall;
- the time to calibrate a week of one camera (the real segments repeated: a timing, not a rate).

Run: .venv/bin/python bench/alert_budget.py
"""

from __future__ import annotations

import csv
import logging
import time
import uuid
from pathlib import Path

import numpy as np
from _common import require_sample

from vision.incidents.budget import (
    BUDGET_MAX,
    ScoreSegment,
    calibrate,
    camera_timing,
    count_alerts,
    footage_hours,
    minimum_hours,
    poisson_upper,
    reference_recall,
    replay,
    threshold_grid,
)
from vision.incidents.fight import FightModel, FightScorer
from vision.incidents.scorelog import Chunk, encode, quantise
from vision.incidents.trigger import IncidentTrigger
from vision.incidents.video import iter_frames

NORMAL_FOOTAGE = [  # the normal footage of incident_accuracy.py, plus the clips below
    ("video", "intel_people", "one-by-one-person-detection.mp4"),
    ("video", "mot_crowds", "MOT20-05-raw_even_shorter.mp4"),
    ("video", "mot_crowds", "MOT20-08-raw_shorter.h264"),
    ("video", "mot_crowds", "MOT17-13-SDP-raw.h265"),
    ("video", "street_night", "demo.mp4"),
]
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")  # Debian opencv-doc: pedestrians, ~80 s
EXTRA_NORMAL = [
    ("faces", "face_recognition", "examples", "short_hamilton_clip.mp4"),
    ("faces", "facenet_pytorch", "examples", "video.mp4"),
    ("fights", "violence_clips", "non_violence_1.mp4"),
]
CAMERA_MIN_S, CAMERA_COOLDOWN_S = 1.0, 120.0  # venues.Camera defaults


def score(path: Path, model: FightModel) -> ScoreSegment:
    """A live camera's scores of a clip, floored to the grid as the score history keeps them."""
    scorer = FightScorer(model)
    pairs = [(t, scorer.update(frame, t)) for t, frame in iter_frames(path, model.analysis_fps)]
    t = np.array([p[0] for p in pairs], dtype=np.float64)
    q = np.array([quantise(p[1]) / 100 for p in pairs], dtype=np.float64)
    return ScoreSegment(t, q, q.copy())


def normal_footage(model: FightModel) -> dict[str, ScoreSegment]:
    """Every normal clip on disk, scored."""
    paths = [require_sample(*parts) for parts in [*NORMAL_FOOTAGE, *EXTRA_NORMAL]]
    root = require_sample("fights", "surveillance")
    with (root / "labels.csv").open(newline="") as handle:
        paths += [root / row["file"] for row in csv.DictReader(handle) if row["label"] != "fight"]
    if VTEST.is_file():
        paths.append(VTEST)
    else:
        print(f"(no {VTEST}: apt-get install opencv-doc adds 80 s of pedestrians)")
    return {str(p): score(p, model) for p in paths}


def table(rows: list[list[str]], head: list[str]) -> str:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))  # noqa: E731
    return "\n".join([line(head), line(["-" * w for w in widths]), *map(line, rows)]) + "\n"


def one_camera(footage: list[ScoreSegment], hours: float) -> ScoreSegment:
    """The clips one after another as one camera's continuous stream, repeated to `hours`."""
    t_parts, s_parts, offset = [], [], 0.0
    while offset < hours * 3600:
        for seg in footage:
            step = float(np.median(np.diff(seg.t))) if len(seg.t) > 1 else 0.1
            t_parts.append(seg.t - seg.t[0] + offset)
            s_parts.append(seg.fight)
            offset += float(seg.t[-1] - seg.t[0]) + step
    t, s = np.concatenate(t_parts), np.concatenate(s_parts)
    return ScoreSegment(t, s, s.copy())


def replay_speed(footage: list[ScoreSegment], model: FightModel) -> None:
    """The run-based replay against the live trigger on a day of one camera, at 10 thresholds of the grid."""
    day = one_camera(footage, 24.0)
    timing = camera_timing(model, min_duration_s=CAMERA_MIN_S, cooldown_s=CAMERA_COOLDOWN_S)
    thresholds = [fight for fight, _ in threshold_grid(model)][::10]
    args = (timing.fight_min_duration_s, timing.cooldown_s, timing.release_s)
    times, scores = day.t.tolist(), day.fight.tolist()
    started = time.perf_counter()
    live = []
    for thr in thresholds:
        trigger = IncidentTrigger(thr, *args[:2], release_s=args[2])
        live.append([i for i, (t, s) in enumerate(zip(times, scores, strict=True)) if _starts(trigger, s, t)])
    live_s = time.perf_counter() - started
    started = time.perf_counter()
    fast = [[a for a, _ in replay(day.t, day.fight, thr, *args)] for thr in thresholds]
    fast_s = time.perf_counter() - started
    samples = len(day.t) * len(thresholds)
    rows = [
        ["IncidentTrigger, sample by sample", f"{live_s:.2f}", f"{samples / live_s / 1e6:.2f}", "1.00"],
        ["budget.replay (runs)", f"{fast_s:.2f}", f"{samples / fast_s / 1e6:.2f}", f"{live_s / fast_s:.1f}"],
    ]
    print(table(rows, [f"24 h of one camera, {len(thresholds)} thresholds", "seconds", "M samples/s", "speed-up"]))
    alerts = sum(len(found) for found in fast)
    print(f"identical starts at every threshold: {'yes' if live == fast else 'NO'} ({alerts} starts)\n")


def _starts(trigger: IncidentTrigger, score_: float, t: float) -> bool:
    event = trigger.update(float(score_), float(t))
    return event is not None and event.phase == "start"


def storage(footage: list[ScoreSegment]) -> None:
    """Bytes of a camera's score history as sessions write it (a chunk a minute) against float32 pairs."""
    day = one_camera(footage, 24.0)
    offsets = np.round((day.t - day.t[0]) * 100).astype(np.int64)
    levels = np.round(day.fight * 100).astype(np.uint8)
    stored = 0
    for start in range(0, len(offsets), 600):
        part = slice(start, start + 600)
        chunk = Chunk(str(uuid.uuid4()), "0" * 16, "0" * 16, 0.0, offsets[part], levels[part], levels[part])
        stored += len(encode(chunk))
    per_day = 24 / footage_hours([day]) / 1e6
    plain = len(offsets) * 8
    rows = [
        ["float32 (t, score) pairs", f"{plain * per_day:.2f}", f"{plain * per_day * 7:.1f}", "1.00"],
        ["scorelog chunks", f"{stored * per_day:.2f}", f"{stored * per_day * 7:.1f}", f"{plain / stored:.1f}"],
    ]
    print(table(rows, ["score history of one camera", "MB/day", "MB/week", "smaller by"]))
    print("chunk payload only; Redis adds ~100 bytes per sorted-set member (1,440 a day)\n")


def calibration(footage: list[ScoreSegment], model: FightModel) -> None:
    """What a calibration says on this footage, and the model's default against its result (in-sample)."""
    timing = camera_timing(model, min_duration_s=CAMERA_MIN_S, cooldown_s=CAMERA_COOLDOWN_S)
    hours = footage_hours(footage)
    print(
        f"normal footage: {len(footage)} clips, {hours * 60:.1f} min; a budget of b alerts/h needs "
        f"{minimum_hours(1.0):.2f}/b h (1/h: {minimum_hours(1.0):.1f} h, {BUDGET_MAX:g}/h: "
        f"{minimum_hours(BUDGET_MAX) * 60:.1f} min)"
    )
    budget = max(minimum_hours(1.0) / hours, 0.1)
    if budget > BUDGET_MAX:
        print(f"too little footage for any budget up to {BUDGET_MAX:g}/h: the smallest it could show is {budget:.0f}/h")
        budget = BUDGET_MAX
    result = calibrate(footage, model=model, timing=timing, budget_per_hour=round(budget + 0.05, 1))
    print(f"calibrated at {result.budget_per_hour:g}/h: {result.status} {result.message}")
    points = [("model default", model.threshold_fight, model.threshold_aggression)]
    if result.fight_threshold is not None and result.aggression_threshold is not None:
        points.append((f"budget {result.budget_per_hour:g}/h", result.fight_threshold, result.aggression_threshold))
    points += [(f"fight {f:.2f}", f, a) for f, a in threshold_grid(model) if round(f * 100) % 10 == 0 and f >= 0.5]
    rows = []
    for name, fight, aggression in points:
        count = count_alerts(footage, fight, aggression, timing)
        recall = reference_recall(model, fight, aggression, timing)
        caught = "-" if recall is None else f"{recall.fight:.0%} ({recall.any_alert:.0%} any) of {recall.clips}"
        rows.append(
            [
                name,
                f"{fight:.3f} / {aggression:.3f}",
                f"{count.fight} + {count.aggression}",
                f"{count.total / hours:.0f} (95% up to {poisson_upper(count.total) / hours:.0f})",
                caught,
            ]
        )
    print(table(rows, ["operating point", "fight / aggr.", "alerts", "alerts per hour", "reference fights caught"]))
    print("in-sample: the thresholds were chosen on this footage; camera minimum duration 1 s, cooldown 120 s\n")


def week(footage: list[ScoreSegment], model: FightModel) -> None:
    """Time to calibrate 168 h of one camera (the real segments repeated; the rate is not the point)."""
    hours = footage_hours(footage)
    repeated = footage * max(1, round(168 / hours))
    timing = camera_timing(model, min_duration_s=CAMERA_MIN_S, cooldown_s=CAMERA_COOLDOWN_S)
    started = time.perf_counter()
    result = calibrate(repeated, model=model, timing=timing, budget_per_hour=1.0)
    elapsed = time.perf_counter() - started
    samples = sum(len(s.t) for s in repeated)
    print(
        f"a week of one camera ({footage_hours(repeated):.0f} h, {samples / 1e6:.1f} M samples): calibrated in "
        f"{elapsed:.1f} s ({result.status}, fight {result.fight_threshold})\n"
    )


def main() -> None:
    """Run all budget benchmarks."""
    logging.basicConfig(level=logging.WARNING)
    model = FightModel.from_json()
    started = time.perf_counter()
    clips = normal_footage(model)
    footage = list(clips.values())
    print(f"[scored {len(footage)} clips in {time.perf_counter() - started:.0f} s]\n")
    replay_speed(footage, model)
    storage(footage)
    calibration(footage, model)
    week(footage, model)


if __name__ == "__main__":
    main()
