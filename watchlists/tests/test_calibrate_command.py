"""`manage.py calibrate_faces` on real photos: the city-scale per-pair FMR and the too-little-data warning."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

PHOTOS = ["img1.jpg", "img2.jpg", "img3.jpg", "img12.jpg", "img8.jpg", "img9.jpg"]  # persons 01, 02, 03


def test_calibration_states_the_implied_fmr_and_warns_when_the_data_is_too_small(sample_file, settings, tmp_path):
    # given a faces folder holding six labelled photos of three people (links to the real ones)
    settings.VAR_DIR = tmp_path / "var"
    deepface = tmp_path / "faces" / "deepface"
    deepface.mkdir(parents=True)
    source = sample_file("faces", "deepface")
    (deepface / "identity_clusters_derived.csv").symlink_to(source / "identity_clusters_derived.csv")
    for name in PHOTOS:
        (deepface / name).symlink_to(source / name)
    out, err = StringIO(), StringIO()

    # when it is calibrated for 1% per probe against 1,000 people
    call_command("calibrate_faces", str(tmp_path / "faces"), "--no-clips", "--json", stdout=out, stderr=err)

    # then the result names the per-pair FMR that target implies and says the 12 impostor pairs cannot show it
    result = json.loads(out.getvalue())
    assert (result["model"], result["labelled_photos"]) == ("Dlib", 6)
    assert (result["genuine"]["count"], result["impostor"]["count"]) == (3, 12)
    assert result["target_fmr"] == pytest.approx(1.005e-5, rel=1e-3)
    assert (result["impostor_pairs_needed"], result["supports_target"]) == (298_499, False)
    assert "WARNING: only 12 impostor pairs" in err.getvalue()
    assert result["threshold_for_target"] < result["impostor"]["min"]
    # and the saved curve feeds the admin's expected false alerts
    assert (tmp_path / "var" / "calibration" / "Dlib.json").is_file()
