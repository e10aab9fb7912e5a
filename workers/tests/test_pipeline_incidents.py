"""IncidentStage: the camera's timing on top of the trained one; one alert per incident."""

from __future__ import annotations

import pytest


def test_camera_minimum_duration_can_only_make_fight_timing_stricter():
    from vision.incidents.fight import FightModel
    from workers.pipeline import IncidentStage, StageTimer

    trained = FightModel.from_json().fight_min_duration_s
    # given a camera asking for 3 s, and one asking for less than the model was trained with
    strict = IncidentStage(timer=StageTimer(), crowd=False, fight=True, min_duration_s=3.0)
    lax = IncidentStage(timer=StageTimer(), crowd=False, fight=True, min_duration_s=0.1)
    # then fight and aggression wait 3 s on the first camera, and the trained timing on the second
    assert [t.min_duration_s for t in strict._triggers] == [3.0, 3.0]
    assert [t.kind for t in lax._triggers] == ["fight", "aggression"]
    assert lax._triggers[0].min_duration_s == trained
    assert lax._triggers[1].min_duration_s >= trained


class _Scripted:
    """Stands in for FightScorer: returns the next score of a script, wants every frame."""

    def __init__(self, model, scores):  # type: ignore[no-untyped-def]
        self.model, self.scores = model, iter(scores)

    def wants(self, t: float) -> bool:
        return True

    def update(self, image, t: float, people=None) -> float:  # type: ignore[no-untyped-def]
        return next(self.scores)


def test_aggression_during_a_fight_is_not_a_second_alert():
    import numpy as np

    from workers.pipeline import IncidentStage, StageTimer

    stage = IncidentStage(timer=StageTimer(), crowd=False, fight=True, min_duration_s=1.0)
    fight, aggression = stage._triggers
    # given a score that jumps above both thresholds at once and stays there for 3 s at 10 fps
    stage._scorer = _Scripted(stage._scorer.model, [0.99] * 30)
    frame = np.zeros((8, 8, 3), dtype=np.uint8)
    # when the frames are scored
    signals = [s for i in range(30) for s in stage.process(frame, i / 10)]
    # then one fight starts, and the aggression trigger (which would also have fired) raises nothing
    assert [s.kind for s in signals] == ["fight"]
    assert fight.active
    assert aggression.active


def test_calibrated_thresholds_replace_the_model_and_the_sensitivity_only_for_their_model():
    from vision.incidents.budget import CalibratedThresholds, model_fingerprint
    from vision.incidents.fight import FightModel
    from workers.pipeline import IncidentStage, StageTimer

    model = FightModel.from_json()
    mine = CalibratedThresholds(fight=0.71, aggression=0.63, model=model_fingerprint(model))
    other = CalibratedThresholds(fight=0.71, aggression=0.63, model="0000000000000000")
    # given cameras at the most sensitive setting, one calibrated on this model, one on another model
    calibrated = IncidentStage(timer=StageTimer(), crowd=False, fight=True, sensitivity=1.0, calibrated=mine)
    stale = IncidentStage(timer=StageTimer(), crowd=False, fight=True, sensitivity=1.0, calibrated=other)
    plain = IncidentStage(timer=StageTimer(), crowd=False, fight=True, sensitivity=1.0)
    # then the first uses its calibrated thresholds as they are (the sensitivity does not move them)
    assert [t.threshold for t in calibrated._triggers] == [0.71, 0.63]
    # and the stale calibration is ignored: the model's thresholds shifted by the sensitivity apply
    assert [t.threshold for t in stale._triggers] == [t.threshold for t in plain._triggers]
    assert plain._triggers[0].threshold == pytest.approx(model.threshold_fight - 0.1)
    # and every stage names the score it makes, so recorded scores can be matched to it
    assert calibrated.score_fingerprints == stale.score_fingerprints == (mine.model, plain.score_fingerprints[1])


def test_score_sink_receives_every_score_the_triggers_see(sample_file):
    from vision.incidents.video import iter_frames
    from workers.pipeline import IncidentStage, StageTimer

    # given a fight-detecting stage with a sink
    stage = IncidentStage(timer=StageTimer(), crowd=False, fight=True)
    seen: list[tuple[float, float, float, bool]] = []
    stage.score_sink = lambda t, fight, aggression, held: seen.append((t, fight, aggression, held))
    scores = []
    # when a real fight clip is processed
    for t, frame in iter_frames(sample_file("fights", "violence_clips", "violence_4.mp4"), 10.0):
        stage.process(frame, t)
        scores.append((t, stage.fight_score))
    # then the sink saw each analysed frame's time and score, once, with the camera steady
    assert [(t, f) for t, f, _, _ in seen] == scores
    assert all(a == f and not held for _, f, a, held in seen)


class _CountingDetector:
    """Wraps the real people counter and counts its calls."""

    def __init__(self, inner):  # type: ignore[no-untyped-def]
        self.inner, self.face, self.calls = inner, self, 0

    def detect(self, image):  # type: ignore[no-untyped-def]
        self.calls += 1
        return self.inner.face.detect(image) if hasattr(self.inner, "face") else self.inner.detect(image)


def test_a_still_picture_is_counted_again_only_after_movement_or_the_keepalive(sample_file):
    import cv2

    from workers.pipeline import COUNT_KEEPALIVE_S, IncidentStage, StageTimer, ZoneSpec

    # given a counting zone for 3 over a real photo of a couple, counted once a second
    zone = ZoneSpec("z", "whole", ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)), 3, None)
    stage = IncidentStage(timer=StageTimer(), crowd=True, fight=False, zones=[zone], people_interval_s=1.0)
    counter = _CountingDetector(stage._detector)
    stage._detector = counter
    still = cv2.imread(str(sample_file("faces", "deepface", "couple.jpg")))
    still = cv2.resize(still, (640, 446))
    # when the same picture is offered for 12 s at 10 fps
    for i in range(120):
        stage.process(still, i / 10, people=[])
    # then the counter looked at it at the start and once more at the keep-alive, and the count held
    assert counter.calls == 1 + int(12 // COUNT_KEEPALIVE_S)
    assert stage.counts_reused == 12 - counter.calls
    assert stage.people == 2
    # and a changed picture is counted at the next count
    stage.process(cv2.flip(still, 1), 12.0, people=[])
    assert counter.calls == 3


class _AlwaysMoving:
    """A motion gate that always sees movement."""

    def update(self, image, t):  # type: ignore[no-untyped-def]
        from vision.motion import MotionResult

        return MotionResult(True, 1.0, (), "motion")


@pytest.mark.parametrize(("capacity", "rate", "counts"), [(10, None, 4), (3, None, 12), (10, 5.0, 12)])
def test_counts_are_taken_less_often_only_far_below_every_limit(sample_file, capacity, rate, counts):
    import cv2

    from workers.pipeline import IncidentStage, StageTimer, ZoneSpec

    # given a zone watching a real picture of two people, counted every second, something always moving
    zone = ZoneSpec("z", "whole", ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)), capacity, rate)
    stage = IncidentStage(timer=StageTimer(), crowd=True, fight=False, zones=[zone], people_interval_s=1.0)
    counter = _CountingDetector(stage._detector)
    stage._detector = counter
    stage._count_gate = _AlwaysMoving()  # type: ignore[assignment]
    picture = cv2.resize(cv2.imread(str(sample_file("faces", "deepface", "couple.jpg"))), (640, 446))
    # when 12 s go by at 10 fps with the person stage tracking nobody
    for i in range(120):
        stage.process(picture, i / 10, people=[])
    # then 2 people in a zone for 10 are counted every 3 s; in a zone for 3 (at least half full)
    # or one watching a gathering rate, every second
    assert counter.calls == counts


def test_people_below_the_count_floor_are_tracked_but_not_counted():
    import numpy as np

    from vision.people.movenet import Person
    from vision.people.tracker import PersonTrack
    from workers.pipeline import IncidentStage, StageTimer, ZoneSpec

    # given a counting zone over the whole frame and two tracked people, one with a weak pose (score 0.15)
    zone = ZoneSpec("z", "whole", ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)), 3, None)
    stage = IncidentStage(timer=StageTimer(), crowd=True, fight=False, zones=[zone], count_min_score=0.2)
    keypoints = np.zeros((17, 3), dtype=np.float32)
    tracks = [
        PersonTrack(1, Person((40.0, 60.0, 60.0, 180.0), 0.15, keypoints), 0.0, 0.0),
        PersonTrack(2, Person((300.0, 60.0, 60.0, 180.0), 0.55, keypoints), 0.0, 0.0),
    ]
    # when a frame with no face in it is counted with them
    stage.process(np.zeros((360, 640, 3), dtype=np.uint8), 0.0, people=tracks)
    # then only the person at or above the floor is counted
    assert stage.people == 1


def test_a_site_trained_fight_model_replaces_the_shipped_one_for_sessions_and_calibration(settings, tmp_path):
    from dataclasses import replace

    from venues.calibration import score_model
    from vision.incidents.budget import model_fingerprint
    from vision.incidents.fight import FightModel, load_model
    from workers.camera_config import SessionConfig
    from workers.pipeline import IncidentStage, StageTimer

    # given a model trained with the city's own clips (tools.train_fight --extra ... --out FILE)
    shipped = FightModel.from_json()
    site = replace(shipped, coef=[c * 1.5 for c in shipped.coef], threshold_fight=0.66, threshold_aggression=0.56)
    path = tmp_path / "city-fight-model.json"
    site.to_json(path)
    settings.CC_FIGHT_MODEL = str(path)
    # when a session and a calibration load the fight model
    config = SessionConfig.from_settings()
    stage = IncidentStage(timer=StageTimer(), crowd=False, fight=True, fight_model=load_model(config.fight_model))
    # then both use the site model: its thresholds, and the fingerprint live scores and calibrations share
    assert [t.threshold for t in stage._triggers] == pytest.approx([0.66, 0.56])
    assert stage.score_fingerprints[0] == model_fingerprint(site) == model_fingerprint(score_model())
    assert model_fingerprint(site) != model_fingerprint(shipped)
    # and without the setting everything scores with the shipped file
    settings.CC_FIGHT_MODEL = ""
    assert model_fingerprint(score_model()) == model_fingerprint(shipped)
    assert load_model(SessionConfig.from_settings().fight_model) == shipped


def test_a_fight_model_setting_that_is_not_a_model_fails_the_system_check(settings, tmp_path):
    import json
    from pathlib import Path

    from vision.incidents.fight import MODEL_PATH
    from workers.checks import fight_model_check

    repo = Path(__file__).resolve().parents[2]
    shipped = json.loads(MODEL_PATH.read_text())
    partial = tmp_path / "no-scale.json"
    partial.write_text(json.dumps({k: v for k, v in shipped.items() if k != "scale"}))
    cases = {
        str(repo / "README.md"): "is not a fight model file",  # not JSON
        str(repo / "models" / "manifest.json"): "is not a fight model file",  # JSON, another file
        str(partial): "missing 1 required positional argument: 'scale'",
    }
    for path, message in cases.items():
        settings.CC_FIGHT_MODEL = path
        errors = fight_model_check()
        assert [e.id for e in errors] == ["workers.E001"]
        assert path in errors[0].msg
        assert message in errors[0].msg
    settings.CC_FIGHT_MODEL = str(MODEL_PATH)
    assert fight_model_check() == []
    settings.CC_FIGHT_MODEL = ""
    assert fight_model_check() == []
