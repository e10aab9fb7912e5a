"""Calibration maths on small hand-checked distance sets."""

from __future__ import annotations

import itertools

import pytest

from vision.faces.calibration import (
    OpenSetProbe,
    accuracy_at,
    best_accuracy_threshold,
    distance_stats,
    expected_false_alerts,
    fnir_at_fpir,
    open_set_rates,
    rates_at,
    roc_auc,
    roc_points,
    shipped_threshold,
    threshold_for_fmr,
)

GENUINE = [0.1, 0.2, 0.3, 0.5]
IMPOSTOR = [0.4, 0.6, 0.7, 0.8, 0.9]


def test_rates_auc_and_accuracy():
    point = rates_at(GENUINE, IMPOSTOR, 0.45)
    assert (point.fmr, point.fnmr) == (pytest.approx(0.2), pytest.approx(0.25))
    assert roc_auc(GENUINE, IMPOSTOR) == pytest.approx(19 / 20)
    assert accuracy_at(GENUINE, IMPOSTOR, 0.35) == pytest.approx(8 / 9)
    threshold, accuracy = best_accuracy_threshold(GENUINE, IMPOSTOR)
    assert accuracy == pytest.approx(8 / 9)
    assert 0.3 < threshold < 0.4


def test_roc_runs_from_reject_all_to_accept_all():
    points = roc_points(GENUINE, IMPOSTOR)

    assert (points[0].fmr, points[0].fnmr) == (0.0, 1.0)
    assert (points[-1].fmr, points[-1].fnmr) == (1.0, 0.0)
    assert all(a.fmr <= b.fmr for a, b in itertools.pairwise(points))


def test_threshold_for_fmr_stays_below_the_allowed_impostor():
    threshold = threshold_for_fmr(IMPOSTOR, 0.2)
    assert threshold == pytest.approx(0.6)
    assert threshold < 0.6
    assert rates_at([], IMPOSTOR, threshold_for_fmr(IMPOSTOR, 0.2)).fmr == pytest.approx(0.2)
    assert threshold_for_fmr(IMPOSTOR, 0.001) < 0.4


def test_expected_false_alerts_for_a_watchlist():
    assert expected_false_alerts(0.0, 1000) == 0.0
    assert expected_false_alerts(1e-6, 1000) == pytest.approx(9.995, abs=1e-3)
    assert expected_false_alerts(1e-4, 1000) == pytest.approx(10_000 * (1 - (1 - 1e-4) ** 1000))
    assert expected_false_alerts(1.0, 5) == 10_000


def test_open_set_rates():
    probes = [
        OpenSetProbe(0.05, mated=True, correct=True),
        OpenSetProbe(0.05, mated=True, correct=False),
        OpenSetProbe(0.20, mated=True, correct=True),
        OpenSetProbe(0.10, mated=False, correct=False),
        OpenSetProbe(0.30, mated=False, correct=False),
    ]

    assert open_set_rates(probes, 0.15) == (pytest.approx(2 / 3), pytest.approx(1 / 2))
    threshold, fnir = fnir_at_fpir(probes, 0.0)
    assert threshold < 0.10
    assert fnir == pytest.approx(2 / 3)


def test_stats_and_shipped_threshold():
    stats = distance_stats(GENUINE)
    assert (stats.count, stats.minimum, stats.maximum) == (4, 0.1, 0.5)
    assert stats.mean == pytest.approx(0.275)
    assert 0.0 < shipped_threshold("Dlib") < 0.1
    with pytest.raises(KeyError):
        shipped_threshold("unknown")


def test_per_pair_fmr_for_a_city_scale_target():
    # FPIR 1% per probe against 1,000 people: each pair may falsely match at ~1.005e-5
    from vision.faces.calibration import per_pair_fmr_for

    fmr = per_pair_fmr_for(0.01, 1000)

    assert fmr == pytest.approx(1.00503e-5, rel=1e-4)
    assert 1 - (1 - fmr) ** 1000 == pytest.approx(0.01, rel=1e-9)
    assert per_pair_fmr_for(0.01, 1) == pytest.approx(0.01)


def test_calibrated_similarity_puts_every_shipped_threshold_at_the_same_value():
    from vision.faces.calibration import (
        CALIBRATED_OPERATING_POINT,
        SHIPPED_THRESHOLDS,
        calibrated_similarity,
        distance_scale,
    )

    for model, threshold in SHIPPED_THRESHOLDS.items():
        assert calibrated_similarity(model, 1.0 - threshold) == pytest.approx(CALIBRATED_OPERATING_POINT)
        assert calibrated_similarity(model, 1.0) == 1.0
    assert distance_scale("Dlib") == pytest.approx(1.0)
    assert distance_scale("not calibrated") == 1.0
    # the order of similarities is kept (a distance scale, no offset)
    raw = [0.2, 0.5, 0.61, 0.9]
    assert sorted(calibrated_similarity("MobileFaceNet", r) for r in raw) == [
        calibrated_similarity("MobileFaceNet", r) for r in raw
    ]
