"""Camera sessions on real clips raise fight and crowd alerts with their evidence, and only when due."""

from __future__ import annotations

import json

import pytest

from tests.support.sessions import file_camera, quick_config
from vision.incidents.fight import FightModel
from workers.session import CameraSession, StopReason

FIGHT_CLIP = ("fights", "violence_clips", "violence_4.mp4")  # a street fight, 5 s, 1280x720
PEDESTRIANS = ("faces", "facenet_pytorch", "examples", "video.mp4")  # 6-9 people walking, 4 s, 1080p
WHOLE_FRAME = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]


def run_once(camera, seconds: float) -> StopReason:  # type: ignore[no-untyped-def]
    """Play the clip once in real time through a full session (lease, capture, analysis, alerts)."""
    session = CameraSession(camera.pk, config=quick_config(people_interval_s=0.5), max_duration_s=seconds)
    return session.run()


def series_of(alert) -> dict:  # type: ignore[no-untyped-def]
    evidence = alert.evidence.get(kind="series")
    assert evidence.content_type == "application/json"
    with evidence.file.open("rb") as handle:
        return json.loads(handle.read())


@pytest.mark.slow
def test_fight_clip_raises_one_fight_alert_with_snapshot_clip_and_score_series(sample_file, venue, settings, tmp_path):
    from alerts.models import Alert

    # given a camera with fight detection playing a real street fight
    settings.MEDIA_ROOT = tmp_path
    camera = file_camera(venue, sample_file(*FIGHT_CLIP), fight_enabled=True)

    # when a session plays the clip once
    assert run_once(camera, seconds=6.5) is StopReason.DURATION

    # then one high-severity fight alert was raised, with a snapshot, the clip and the score series
    fights = list(Alert.objects.filter(camera=camera, kind="fight"))
    assert len(fights) == 1
    alert = fights[0]
    assert alert.severity == 3
    assert {e.kind for e in alert.evidence.all()} == {"snapshot", "clip", "series"}
    threshold = alert.details["threshold"]
    assert alert.score >= threshold
    # and the series shows the score that crossed the threshold, up to the moment of the alert
    series = series_of(alert)
    assert series["kind"] == "fight"
    assert series["unit"] == "fight_score"
    assert series["limit"] == threshold
    times = [t for t, _ in series["points"]]
    assert times == sorted(times)
    assert times[-1] == 0.0
    assert max(v for _, v in series["points"]) >= threshold
    assert threshold == pytest.approx(FightModel.from_json().threshold_fight, abs=0.11)


@pytest.mark.slow
def test_zone_over_capacity_raises_crowd_alert_and_zone_under_capacity_does_not(sample_file, venue, settings, tmp_path):
    from alerts.models import Alert
    from venues.models import Zone

    # given real footage of 6-9 pedestrians and two whole-frame zones: capacity 3 and capacity 40
    settings.MEDIA_ROOT = tmp_path
    camera = file_camera(venue, sample_file(*PEDESTRIANS), crowd_enabled=True)
    tight = Zone.objects.create(camera=camera, name="Tight entrance", polygon=WHOLE_FRAME, capacity=3)
    roomy = Zone.objects.create(camera=camera, name="Main hall", polygon=WHOLE_FRAME, capacity=40)

    # when a session plays the clip once
    assert run_once(camera, seconds=5.0) is StopReason.DURATION

    # then only the zone over its capacity raised a crowd alert, with a snapshot, clip and count history
    crowd = list(Alert.objects.filter(camera=camera, kind="crowd"))
    assert [a.zone_id for a in crowd] == [tight.pk]
    alert = crowd[0]
    assert alert.details["event"] == "over_capacity"
    assert alert.details["capacity"] == 3
    assert alert.details["count"] > 3
    assert {e.kind for e in alert.evidence.all()} == {"snapshot", "clip", "series"}
    series = series_of(alert)
    assert (series["kind"], series["unit"], series["limit"]) == ("crowd", "people", 3)
    assert len(series["points"]) >= 2
    assert series["points"][-1][0] == 0.0
    assert all(count > 3 for _, count in series["points"][-2:])
    assert not Alert.objects.filter(zone=roomy).exists()


@pytest.mark.slow
def test_fight_inside_a_zone_excluded_from_fight_detection_raises_no_alert(sample_file, venue, settings, tmp_path):
    from alerts.models import Alert
    from venues.models import Zone

    # given the street fight on a camera whose whole view is a zone excluded from fight detection
    # (as an admin would mark a screen or a dance floor)
    settings.MEDIA_ROOT = tmp_path
    camera = file_camera(venue, sample_file(*FIGHT_CLIP), fight_enabled=True)
    Zone.objects.create(camera=camera, name="Screen wall", polygon=WHOLE_FRAME, exclude_from_fight=True)
    session = CameraSession(camera.pk, config=quick_config(), max_duration_s=6.5)

    # when a session plays the clip once
    assert session.run() is StopReason.DURATION

    # then the scorer ran but saw no motion, and no fight or aggression alert was raised
    health = session.health()
    assert (health["fight_score"], health["camera_moving"]) == (0.0, False)
    assert not Alert.objects.filter(camera=camera, kind__in=["fight", "aggression"]).exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    "clip",
    [
        ("fights", "surveillance", "noFight", "nofi077.mp4"),  # people walking through a shop, 2 s
        ("video", "mot_crowds", "MOT20-08-raw_shorter.h264"),  # a dense crowd walking past, raw H.264, 5 s
    ],
    ids=["shop", "walking-crowd"],
)
def test_no_fight_clip_raises_no_fight_or_aggression_alert(clip, sample_file, venue, settings, tmp_path):
    from alerts.models import Alert

    # given a camera with fight detection playing real footage without a fight
    settings.MEDIA_ROOT = tmp_path
    camera = file_camera(venue, sample_file(*clip), fight_enabled=True)
    session = CameraSession(camera.pk, config=quick_config(), max_duration_s=6.0)

    # when a session plays the clip once
    assert session.run() is StopReason.DURATION

    # then the scorer ran on the footage and no fight or aggression alert was raised
    assert session.health()["fight_score"] is not None
    assert not Alert.objects.filter(camera=camera, kind__in=["fight", "aggression"]).exists()


@pytest.mark.slow
def test_camera_detecting_only_when_open_stays_quiet_while_the_venue_is_closed(sample_file, venue, settings, tmp_path):
    from django.utils import timezone

    from alerts.models import Alert
    from venues.models import OpeningHours

    # given the street fight on a camera set to detect incidents only during opening hours,
    # at a venue open one hour on a day three days from today
    settings.MEDIA_ROOT = tmp_path
    other_day = (timezone.localtime().weekday() + 3) % 7
    OpeningHours.objects.create(venue=venue, weekday=other_day, opens="10:00", closes="11:00")
    camera = file_camera(venue, sample_file(*FIGHT_CLIP), fight_enabled=True, only_when_open=True)
    session = CameraSession(camera.pk, config=quick_config(), max_duration_s=6.5)

    # when a session plays the clip once
    assert session.run() is StopReason.DURATION

    # then no incident was scored or raised, and health says detection is paused
    health = session.health()
    assert (health["incidents_paused"], health["fight_score"]) == (True, None)
    assert not Alert.objects.filter(camera=camera).exists()
