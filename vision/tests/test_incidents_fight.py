"""Fight scoring: window features, repeated frames, real clips, the shipped JSON model, training."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from tests.support.fight_clips import analyse_clip
from tools.train_fight import extract_dataset, read_labels, subset_rows, train
from vision.incidents.fight import (
    CAMERA_SETTLE_S,
    FEATURE_NAMES,
    MODEL_PATH,
    WINDOW_FEATURE_NAMES,
    FightModel,
    FightScorer,
    window_features,
)
from vision.incidents.flow import (
    CELL_CHANNELS,
    CELLS,
    FlowFeatureExtractor,
    MotionCropExtractor,
    _Flow,
    cell_summary,
    compute_flow,
    motion_roi,
    prepare_grey,
)
from vision.incidents.trigger import fight_triggers


def cells_moving(directions: list[tuple[float, float]]) -> np.ndarray:
    """Cell summaries of pairs where only cell (0, 0) moves with the given (vx, vy) each pair.

    All of the motion is in the cell's top-left quarter.
    """
    cells = np.zeros((len(directions), CELLS, CELLS, len(CELL_CHANNELS)), dtype=np.float32)
    for i, (vx, vy) in enumerate(directions):
        speed = float(np.hypot(vx, vy))
        angle_bin = int((np.arctan2(vy, vx) + np.pi) / (2 * np.pi) * 8) % 8
        cells[i, 0, 0, :5] = (vx, vy, speed, 1.0, speed)
        cells[i, 0, 0, 5 + angle_bin] = speed
        cells[i, 0, 0, CELL_CHANNELS.index("sub_vx_0")] = vx
        cells[i, 0, 0, CELL_CHANNELS.index("sub_vy_0")] = vy
    return cells


def moving_square(x: int) -> np.ndarray:
    """A 160x96 BGR frame with a white 16x16 square at column x."""
    frame = np.zeros((96, 160, 3), dtype=np.uint8)
    frame[40:56, x : x + 16] = 255
    return frame


def feature(values: np.ndarray, name: str) -> float:
    return float(values[WINDOW_FEATURE_NAMES.index(name)])


def astronaut_view(dx: float = 0.0, dy: float = 0.0) -> np.ndarray:
    """A real photo (scikit-image's astronaut) as a 400x300 camera view shifted by (dx, dy) px."""
    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    matrix = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])
    view = cv2.warpAffine(photo, matrix, (512, 512), borderMode=cv2.BORDER_REFLECT)
    return np.asarray(view[100:400, 56:456], dtype=np.uint8)


def test_window_features_tell_steady_from_back_and_forth_motion():
    # given one cell moving right for 4 pairs, and one cell swinging right/left for 4 pairs
    steady = window_features(cells_moving([(0.5, 0.0)] * 4))
    swinging = window_features(cells_moving([(0.5, 0.0), (-0.5, 0.0)] * 2))
    # then steady motion is fully coherent on every grid, in one direction bin and never reverses
    for name in ("temporal_coherence", "coarse_coherence", "fine_coherence"):
        assert feature(steady, name) == pytest.approx(1.0)
    assert feature(steady, "cell_orient_entropy") == pytest.approx(0.0)
    assert feature(steady, "cell_reversal") == 0.0
    # and the swinging cell cancels out on every grid, splits over two direction bins and reverses
    for name in ("temporal_coherence", "coarse_coherence", "fine_coherence"):
        assert feature(swinging, name) == pytest.approx(0.0)
    assert feature(swinging, "cell_orient_entropy") == pytest.approx(np.log(2) / np.log(8))
    assert feature(swinging, "cell_reversal") == 1.0


def test_coarse_and_fine_coherence_see_opposing_neighbours_and_limbs():
    # given two neighbouring cells moving steadily in opposite directions (people pushing apart)
    apart = cells_moving([(0.5, 0.0)] * 4)
    apart[:, 0, 1] = cells_moving([(-0.5, 0.0)] * 4)[:, 0, 0]
    # and one cell whose two quarters move steadily in opposite directions (two arms)
    limbs = cells_moving([(0.0, 0.0)] * 4)
    sub_vx = [CELL_CHANNELS.index(f"sub_vx_{q}") for q in range(4)]
    limbs[:, 0, 0, 2:4] = (1.0, 1.0)  # energy 1.0 and moving, but the cell's net flow is 0
    limbs[:, 0, 0, sub_vx[0]], limbs[:, 0, 0, sub_vx[3]] = 0.5, -0.5
    apart_f, limbs_f = window_features(apart), window_features(limbs)
    # then each cell of the opposing pair is coherent, but their 2x2 block cancels out
    assert feature(apart_f, "temporal_coherence") == pytest.approx(1.0)
    assert feature(apart_f, "coarse_coherence") == pytest.approx(0.0)
    # and the quarters keep the limbs' steady motion that the whole cell averages away
    assert feature(limbs_f, "temporal_coherence") == pytest.approx(0.0)
    assert feature(limbs_f, "fine_coherence") == pytest.approx(1.0)


def test_cell_quarters_add_up_to_the_cell():
    # given a flow field with different motion in every quarter of a 160x96 frame
    rng = np.random.default_rng(3)
    vx, vy = (rng.normal(0.0, 0.3, (96, 160)).astype(np.float32) for _ in range(2))
    flow = _Flow(vx, vy, np.sqrt(vx * vx + vy * vy))
    # when it is summarised per cell
    cells = cell_summary(flow)
    # then the quarters' velocities sum to the cell's velocity
    quarters_x = cells[..., [CELL_CHANNELS.index(f"sub_vx_{q}") for q in range(4)]].sum(axis=-1)
    quarters_y = cells[..., [CELL_CHANNELS.index(f"sub_vy_{q}") for q in range(4)]].sum(axis=-1)
    np.testing.assert_allclose(quarters_x, cells[..., CELL_CHANNELS.index("vx")], atol=1e-5)
    np.testing.assert_allclose(quarters_y, cells[..., CELL_CHANNELS.index("vy")], atol=1e-5)


def test_repeated_frame_is_skipped_and_motion_measured_over_true_step():
    # given a square moving 4 px per 0.2 s, seen once at 5 fps and once at 10 fps with copies
    direct, padded = FlowFeatureExtractor(160), FlowFeatureExtractor(160)
    direct.push_cells(moving_square(40), 0.0)
    padded.push_cells(moving_square(40), 0.0)
    # when the copy arrives at 0.1 s and the moved square at 0.2 s
    repeat = padded.push_cells(moving_square(40), 0.1)
    # then the copy yields nothing, is flagged, and the next pair equals the 5 fps pair
    assert repeat is None
    assert padded.last_was_repeat
    np.testing.assert_array_equal(padded.push_cells(moving_square(44), 0.2), direct.push_cells(moving_square(44), 0.2))


def test_motion_roi_boxes_the_busy_cell_with_a_margin_inside_the_frame():
    # given a 1 s window in which only cell (row 5, col 6) moves
    cells = cells_moving([(0.5, 0.0)] * 4)
    cells = np.roll(cells, (5, 6), axis=(1, 2))
    # when the crop is chosen with at least 3 of 8 cells per side
    roi = motion_roi(cells, 3)
    # then it spans one cell around the mover, shifted back inside the right edge
    assert roi == (5 / 8, 4 / 8, 8 / 8, 7 / 8)
    # and a window without motion has no crop
    assert motion_roi(np.zeros_like(cells), 3) is None


def test_motion_crop_magnifies_a_small_distant_mover():
    # given a 640x360 stream in which a 12x24 px "person" walks in the lower-left corner
    def frame(x: int) -> np.ndarray:
        image = np.full((360, 640, 3), 90, dtype=np.uint8)
        image[290:314, x : x + 12] = 230
        return image

    whole, cropped = FlowFeatureExtractor(160), MotionCropExtractor(160, 3)
    moving = CELL_CHANNELS.index("moving")
    shares = []
    # when both extractors see 1.5 s of it at 10 fps
    for i in range(16):
        a, b = whole.push_cells(frame(40 + 8 * i), i / 10), cropped.push_cells(frame(40 + 8 * i), i / 10)
        if a is not None and b is not None:
            shares.append((float(a[..., moving].sum()), float(b[..., moving].sum())))
    # then the crop sits around the mover and its cells see over twice the moving area
    assert cropped.roi is not None
    x0, y0, x1, y1 = cropped.roi
    assert x0 <= 100 / 640 <= x1
    assert y0 <= 300 / 360 <= y1
    assert x1 - x0 <= 0.5
    assert len(shares) == 15  # the new crop is primed with the previous frame: no pair lost
    assert all(crop_share > 2 * whole_share > 0 for whole_share, crop_share in shares)


def test_flow_only_model_file_scores_without_people(tmp_path: Path):
    # given the previous, flow-only model file (no people settings in it)
    previous = Path(__file__).resolve().parents[2] / "bench" / "fight_model_flow_only.json"
    data = json.loads(previous.read_text())
    assert not any(key.startswith("people") or key == "gate_s" for key in data)
    # when it is loaded and scored with
    model = FightModel.from_json(previous)
    scorer = FightScorer(model)
    frames = [moving_square(x) for x in (10, 30, 10, 30, 10, 30)]
    scores = [scorer.update(frame, i / 10) for i, frame in enumerate(frames)]
    # then it needs no person stage (none is loaded) and scores the flow as it was trained
    assert not model.uses_people
    assert scorer._own is None
    assert scores[-1] > 0.0
    # and a model file asking for the motion crop, which is gone, is refused with the reason
    data["roi_min_cells"] = 3
    path = tmp_path / "crop.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="motion-crop"):
        FightModel.from_json(path)


def test_shipped_model_json_loads():
    # given the shipped parameter file
    # when it is loaded
    model = FightModel.from_json()
    # then it is plain JSON with consistent sizes, known features and ordered thresholds
    assert json.loads(MODEL_PATH.read_text())["features"] == model.features
    assert len(model.coef) == len(model.mean) == len(model.scale) == len(model.features)
    assert set(model.features) <= set(FEATURE_NAMES)
    assert 0.0 < model.threshold_aggression <= model.threshold_fight < 1.0
    assert fight_triggers(FightScorer(model))[0].min_duration_s == model.fight_min_duration_s


def test_model_file_with_unknown_feature_is_rejected(tmp_path: Path):
    # given a model file naming a feature this version does not compute (an old per-pair one)
    data = json.loads(MODEL_PATH.read_text())
    data["features"] = ["orient_entropy", *data["features"][1:]]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    # when it is loaded
    # then loading fails with the feature's name
    with pytest.raises(ValueError, match="orient_entropy"):
        FightModel.from_json(path)


@pytest.mark.slow
def test_fight_clip_yields_fight_detection(sample_file):
    # given a real CCTV street fight
    clip = sample_file("fights", "violence_clips", "violence_4.mp4")
    # when the clip is analysed
    result = analyse_clip(clip)
    # then the score passes the shipped threshold and one fight is found within the first second
    threshold = FightModel.from_json().threshold_fight
    assert max(p["fight_score"] for p in result.timeline) > threshold
    assert [d["kind"] for d in result.detections] == ["fight"]
    assert result.detections[0]["start_s"] <= 1.0
    assert result.frames_analysed == 50
    assert len(result.timeline) == 25


@pytest.mark.slow
def test_low_rate_no_fight_clip_is_not_scored(sample_file):
    # given a real CCTV clip of people queueing, recorded at ~2 fps and padded with copies
    clip = sample_file("fights", "violence_clips", "non_violence_1.mp4")
    # when the clip is analysed
    result = analyse_clip(clip)
    # then steps over 0.35 s are not scored: the score stays 0 and nothing is detected
    assert max(p["fight_score"] for p in result.timeline) == 0.0
    assert result.detections == []


@pytest.mark.slow
def test_walking_crowd_yields_no_detection(sample_file):
    # given a real clip of a dense crowd walking past a static camera
    clip = sample_file("video", "mot_crowds", "MOT20-08-raw_shorter.h264")
    # when the clip is analysed
    result = analyse_clip(clip)
    # then the score stays under the fight threshold and nothing is detected
    threshold = FightModel.from_json().threshold_fight
    assert max(p["fight_score"] for p in result.timeline) < threshold
    assert result.detections == []


@pytest.mark.slow
def test_training_is_reproducible(sample_file):
    # given the clips of the 3 largest source videos
    root = sample_file("fights", "surveillance", "labels.csv").parent
    clips = extract_dataset(root, subset_rows(read_labels(root), 3))
    # when training twice with the same seed
    first, second = train(clips, seed=3, n_splits=3), train(clips, seed=3, n_splits=3)
    # then the parameters are identical
    assert first == second
    assert first.meta["clips"] == len(clips) == 24


def test_scorer_is_zero_until_window_warms_up():
    # given a scorer with the shipped model and a static black frame stream
    scorer = FightScorer()
    frame = np.zeros((120, 160, 3), dtype=np.uint8)
    # when the first frames arrive
    scores = [scorer.update(frame, i / 10) for i in range(3)]
    # then the score is 0 until min_pairs flow fields exist
    assert scores == [0.0, 0.0, 0.0]


@pytest.mark.parametrize(
    ("second", "camera"),
    [
        (astronaut_view(dx=8.0), True),  # pan: the whole view shifts 8 px (2 % of its width) in 0.1 s
        (astronaut_view(dx=8.0, dy=8.0), True),  # tilt and pan together (a shaking mount)
        (None, False),  # a person-sized patch moves, the rest of the view stands still
    ],
)
def test_affine_fit_tells_camera_motion_from_motion_in_the_scene(second, camera):
    # given two views of a real photo 0.1 s apart
    first = astronaut_view()
    if second is None:
        second = first.copy()
        second[100:220, 150:210] = first[100:220, 158:218]
    # when the flow between them is measured at the fight scorer's width
    flow = compute_flow(prepare_grey(first, 200), prepare_grey(second, 200), 0.1)
    # then an affine fit explains most of a pan or tilt, and little of a local movement
    if camera:
        assert flow.camera_share > 0.7
        assert flow.camera_speed > 0.1
    else:
        assert flow.camera_share < 0.3


def test_moving_camera_holds_the_fight_score_at_zero_until_the_view_is_steady():
    # given the shipped scorer fed 2 s of a camera panning across a real photo at 0.2 widths/s
    scorer = FightScorer()
    t = 0.0
    for i in range(20):
        t = i / 10
        assert scorer.update(astronaut_view(dx=-8.0 * i), t) == 0.0
        # then from the first measured pair on, the scorer reports the camera as moving
        assert scorer.camera_moving == (i >= 1)
    # when the camera stops
    still = astronaut_view(dx=-8.0 * 19)
    steady = [(scorer.update(still, t + k / 10), scorer.camera_moving) for k in range(1, 16)]
    # then it is "moving" for CAMERA_SETTLE_S more, and steady (scoring again) after that
    settle = round(CAMERA_SETTLE_S * 10)
    assert [moving for _, moving in steady] == [True] * (settle - 1) + [False] * (16 - settle)


@pytest.mark.parametrize(
    "polygon",
    [[(0.0, 0.0), (1.0, 1.0)], [(0.0, 0.0), (1.5, 0.0), (1.0, 1.0)]],
    ids=["two points", "outside the frame"],
)
def test_malformed_excluded_area_is_refused_with_a_clear_message(polygon):
    with pytest.raises(ValueError, match=r"an excluded area needs 3 or more points inside 0\.\.1"):
        FightScorer(exclude=[polygon])


def test_camera_hold_can_be_switched_off_for_a_baseline():
    # given a scorer without the hold, fed the same pan that holds the shipped scorer
    scorer = FightScorer(camera_hold=False)
    for i in range(10):
        scorer.update(astronaut_view(dx=-8.0 * i), i / 10)
        # then it never reports the camera as moving and scores the pan like any motion
        assert scorer.camera_moving is False
    motion = scorer._flow._extractor.camera_motion
    assert motion is not None
    assert motion[1] > 0.6  # the pan was there to see


def test_excluded_area_adds_no_motion_and_the_callers_frame_is_untouched():
    # given a scorer whose exclusion polygon covers the left half of the view, and one without
    masked = FightScorer(exclude=[[(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)]])
    plain = FightScorer()
    frames = [moving_square(x) for x in (10, 30, 10, 30, 10, 30)]  # a square jumping back and forth
    originals = [f.copy() for f in frames]
    # when both see a square moving back and forth inside that half
    for i, frame in enumerate(frames):
        masked.update(frame, i / 10)
        plain.update(frame, i / 10)
    # then the masked scorer saw no change at all (every frame a repeat), the other measured the motion,
    # and the callers' frames are unchanged
    assert masked._flow._extractor.last_was_repeat
    assert masked._flow._extractor._flow is None
    assert plain._flow._extractor._flow is not None
    assert float(plain._flow._extractor._flow.speed.max()) > 0.1
    assert all(np.array_equal(a, b) for a, b in zip(frames, originals, strict=True))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("parts", "flagged"),
    [
        (("fights", "violence_clips", "violence_5.mp4"), False),  # a close-up fight filling the frame
        (("video", "mot_crowds", "MOT17-13-SDP-raw.h265"), True),  # a camera on a moving bus
    ],
)
def test_camera_motion_is_flagged_on_a_moving_vehicle_not_on_a_close_up_fight(sample_file, parts, flagged):
    from vision.incidents.video import iter_frames

    # given a real clip scored at the shipped model's rate
    scorer = FightScorer()
    moving, scores = [], []
    for t, frame in iter_frames(sample_file(*parts), scorer.model.analysis_fps):
        scores.append(scorer.update(frame, t))
        moving.append(scorer.camera_moving)
    # then only the vehicle camera is held as moving; the close-up fight is scored past the threshold
    assert any(moving) is flagged
    if not flagged:
        assert max(scores) > scorer.model.threshold_fight
    # and a recorded-footage analysis of the same clip marks the held moments on its timeline
    timeline = analyse_clip(sample_file(*parts)).timeline
    assert any(point["camera_moving"] for point in timeline) is flagged
    assert all(point["fight_score"] == 0.0 for point in timeline if point["camera_moving"])
