"""The camera's false-alert budget in real headless Chromium: the operating point on the change page and the
progress page of a calibration on a recording (its script polls the job and shows the outcome, CSP-clean)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from core.jobs import calibration_job_write
from tests.support.browser import SCREENSHOTS, browser, live_url, open_admin  # noqa: F401 (fixtures)
from venues.selectors import calibration_job_remember


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_calibration_progress_page_shows_the_outcome(browser, live_url, admin_user, camera):  # noqa: F811
    # given a finished calibration job of this admin on the camera
    job = "0123456789abcdef0123456789abcdef"
    calibration_job_write(
        job,
        state="done",
        progress=1.0,
        camera=str(camera.pk),
        result={
            "fight_threshold": 0.63,
            "aggression_threshold": 0.55,
        },
    )
    calibration_job_remember(job_id=job, user=admin_user, camera=camera)
    errors: list[str] = []
    # when the admin opens its progress page
    page = open_admin(browser, live_url, admin_user, f"/admin/venues/camera/{camera.pk}/calibrate/?job={job}", errors)
    # then the script shows the new thresholds, without console or CSP errors
    expect(page.locator("#calibration-text")).to_have_text(
        "Calibrated: the new thresholds apply within a few seconds. 0.63 / 0.55"
    )
    assert errors == []
    # and the camera's change page shows its operating point and the way to recalibrate
    page.goto(f"{live_url}/admin/venues/camera/{camera.pk}/change/")
    expect(page.get_by_text("the model's thresholds shifted by the sensitivity")).to_be_visible()
    expect(page.get_by_role("link", name="Calibrate the alert budget")).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("fieldset", has_text="False-alert budget").screenshot(path=str(SCREENSHOTS / "camera-budget.png"))
    assert errors == []
