"""Security headers, cookies, private media, secrets only from the environment."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from commandcenter.tests.otp import login_verified

pytestmark = pytest.mark.django_db


def test_pages_carry_a_self_only_content_security_policy(client):
    response = client.get(reverse("login"))
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self';" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert (response["X-Frame-Options"], response["X-Content-Type-Options"]) == ("DENY", "nosniff")
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_templates_have_no_inline_scripts_or_handlers():
    offenders = []
    for template in Path(settings.BASE_DIR, "templates").rglob("*.html"):
        text = template.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) or re.search(r"\son[a-z]+=\"", text):
            offenders.append(template.name)
    assert offenders == []


def test_media_files_are_never_served_by_url(client, admin_user, settings, tmp_path):
    # given a file that exists under MEDIA_ROOT, and a signed-in user
    settings.MEDIA_ROOT = tmp_path
    (tmp_path / "evidence").mkdir()
    (tmp_path / "evidence" / "x.jpg").write_bytes(b"\xff\xd8\xff")
    login_verified(client, admin_user)
    # then neither /media/ nor the storage path answers
    assert client.get("/media/evidence/x.jpg").status_code == 404
    assert client.get("/evidence/x.jpg").status_code == 404
    assert getattr(settings, "MEDIA_URL", "") in ("", "/")


def test_session_and_csrf_cookies_are_hardened(client, dispatcher):
    response = client.post(reverse("login"), {"username": "dispatcher1", "password": "correct-horse-battery"})
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert settings.SESSION_COOKIE_AGE <= 12 * 3600
    assert settings.CSRF_COOKIE_SAMESITE == "Lax"


def test_settings_hold_no_hard_coded_secrets():
    source = Path(settings.BASE_DIR, "commandcenter", "settings.py").read_text()
    assignments = re.findall(r"^(\w*(?:SECRET|PASSWORD|TOKEN|KEY)\w*)\s*=\s*(.+)$", source, flags=re.MULTILINE)
    literal = [name for name, value in assignments if re.match(r"""^["'][^"']+["']""", value.strip())]
    assert literal == []
