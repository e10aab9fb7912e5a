"""In Chromium: a supervisor requests a deployment, an authoriser authorises it, the transparency report
shows it and downloads as CSV; the requester is never offered the decision."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from oversight.models import Deployment
from tests.support.browser import (  # noqa: F401 (fixtures; skips without Chromium)
    browser,
    live_url,
    open_admin,
    role_groups,
    shot,
    user_with_role,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _local(at):  # type: ignore[no-untyped-def]
    return timezone.localtime(at).strftime("%Y-%m-%dT%H:%M")


def test_request_authorise_and_report(browser, live_url, django_user_model, camera, watchlist):  # noqa: F811
    supervisor = user_with_role(django_user_model, "supervisor1", "supervisor")
    authoriser = user_with_role(django_user_model, "authoriser1", "authoriser")
    errors: list[str] = []

    # given a supervisor on the deployments page, where face matching is off everywhere
    page = open_admin(browser, live_url, supervisor, "/oversight/deployments/", errors)
    expect(page.locator(".empty")).to_contain_text("face matching is off")
    # when they request a deployment for the camera against the watchlist
    now = timezone.now()
    page.fill("#id_title", "Concert night")
    page.select_option("#id_cameras", str(camera.pk))
    page.select_option("#id_watchlists", str(watchlist.pk))
    page.fill("#id_purpose", "Find the two wanted suspects reported at the concert")
    page.fill("#id_legal_basis", "Warrant 44/26")
    page.fill("#id_starts_at", _local(now - timedelta(minutes=1)))
    page.fill("#id_ends_at", _local(now + timedelta(hours=4)))
    page.click("#deployment-request button[type=submit]")
    # then it is requested, and the requester is told someone else must decide
    expect(page.locator("#deployment-status")).to_have_text("Requested")
    expect(page.locator("#own-request")).to_be_visible()
    expect(page.locator("#authorise")).to_have_count(0)
    expect(page.locator("#matching-state")).to_contain_text("does not run")
    deployment = Deployment.objects.get(title="Concert night")
    assert deployment.requested_by == supervisor
    shot(page, "deployment-requested")

    # when the authoriser opens it and authorises it with a note
    page = open_admin(browser, live_url, authoriser, f"/oversight/deployments/{deployment.pk}/", errors)
    page.fill("#deployment-decision textarea[name=note]", "Necessary and proportionate for the concert")
    page.click("#authorise")
    # then it is authorised by them
    expect(page.locator("#deployment-status")).to_have_text("Authorised")
    expect(page.locator("#matching-state")).to_contain_text("Face matching runs under this deployment until")
    deployment.refresh_from_db()
    assert (deployment.status, deployment.decided_by) == ("authorised", authoriser)
    shot(page, "deployment-authorised")

    # and the transparency report lists it, on the page and in the CSV download
    page.click("text=Transparency report")
    expect(page.locator("#transparency-table")).to_contain_text("Concert night")
    with page.expect_download() as download:
        page.click("#transparency-csv")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert text.splitlines()[0].startswith("Deployment,Month,Status,Hours live,Faces analysed")
    assert "Concert night" in text
    shot(page, "transparency-report")
    assert errors == []


def test_export_download(browser, live_url, django_user_model, camera, sample_file, settings):  # noqa: F811
    import io
    import json
    import zipfile

    from django.core.files.base import ContentFile

    from alerts.models import Alert, Evidence

    # given an alert with a real group photo as its snapshot, and a supervisor on its export page
    supervisor = user_with_role(django_user_model, "supervisor2", "supervisor")
    alert = Alert.objects.create(kind="fight", camera=camera, venue=camera.venue, severity=3, score=0.9)
    evidence = Evidence(alert=alert, kind="snapshot", content_type="image/jpeg")
    evidence.file.save("snapshot.jpg", ContentFile(sample_file("faces", "deepface", "couple.jpg").read_bytes()))
    errors: list[str] = []
    page = open_admin(browser, live_url, supervisor, f"/alerts/{alert.pk}/", errors)
    expect(page.locator("#export-link")).to_have_attribute("href", f"/oversight/alerts/{alert.pk}/export/")
    page.goto(f"{live_url}/oversight/alerts/{alert.pk}/export/")
    # when they give a purpose and download
    page.fill("#id_purpose", "Case 12/26 disclosure")
    with page.expect_download() as download:
        page.click("#export-download")
    # then a zip with the masked snapshot and a manifest naming the purpose arrives
    data = Path(download.value.path()).read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        names = archive.namelist()
    assert manifest["purpose"] == "Case 12/26 disclosure"
    assert f"alert-{alert.pk}/snapshot.jpg" in names
    assert manifest["alerts"][0]["files"][0]["faces_blurred"] >= 2
    assert errors == []
