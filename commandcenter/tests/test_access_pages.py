"""Role-aware navigation, the styled and translated 403 page, the admin telling a signed-in user they lack
access, and an audit log people can read (action and object names in words, changed fields listed)."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AccessEvent
from audit.services import access_record
from commandcenter.tests.otp import login_verified

pytestmark = pytest.mark.django_db


def _nav(client: Client) -> str:
    body = client.get("/").content.decode()
    return body[body.index('<nav aria-label="Main">') : body.index("</nav>")]


def test_navigation_follows_the_role(client, dispatcher, supervisor, auditor):
    client.force_login(dispatcher)
    assert "Audit log" not in _nav(client)
    assert "Reports" not in _nav(client)
    client.force_login(supervisor)
    assert "Reports" in _nav(client)
    assert "Photo check" in _nav(client)
    assert "Audit log" not in _nav(client)
    login_verified(client, auditor)
    nav = _nav(client)
    assert 'href="/audit/"' in nav
    assert "Reports" in nav


def test_an_auditor_lands_on_the_audit_log_after_signing_in(client, auditor):
    from django.contrib.auth.views import LoginView

    auditor.set_password("correct-horse-battery")
    auditor.save()
    response = client.post("/login/", {"username": auditor.username, "password": "correct-horse-battery"})
    assert response.status_code == 302
    assert response["Location"] == "/login/verify/?next=%2Faudit%2F"
    assert LoginView  # the project's view replaced Django's


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/audit/", "The audit log is for auditors."),
        ("/reports/", "Reports are for supervisors, auditors and administrators."),
        ("/admin/", "Your account has no access to the administration."),
    ],
)
def test_a_dispatcher_gets_a_styled_403_saying_why(client, dispatcher, path, reason):
    client.force_login(dispatcher)
    response = client.get(path, follow=True)
    body = response.content.decode()
    assert response.status_code == 403
    assert reason in body
    assert 'href="/static/css/app.css"' in body or "app.css" in body  # the app's page, not a bare "403 Forbidden"
    assert "You are signed in as dispatcher1." in body
    assert 'name="password"' not in body  # the admin no longer shows the sign-in form to a signed-in user


def test_the_403_page_is_translated(client, dispatcher):
    client.force_login(dispatcher)
    client.cookies["django_language"] = "ru"
    body = client.get("/audit/").content.decode()
    assert "Нет доступа" in body
    assert "Журнал аудита предназначен для аудиторов." in body


def test_audit_entries_read_in_words(client, auditor, admin_user, authoriser):
    access_record(user=authoriser, action=AccessEvent.Action.VIEW, object_type="deployment", object_id="d1")
    access_record(
        user=admin_user,
        action=AccessEvent.Action.SEARCH,
        object_type="watchlists.photo_check",
        purpose="case 5",
        detail={"source": "page", "faces": 1, "candidates": ["a", "b"]},
    )
    access_record(
        user=admin_user,
        action=AccessEvent.Action.UPDATE,
        object_type="auth.user",
        object_id="7",
        detail={"changed": ["groups", "is_active"], "groups": ["dispatcher"]},
    )
    access_record(
        user=admin_user,
        action=AccessEvent.Action.ALERT_ACTION,
        object_type="alert",
        object_id="x",
        detail={"action": "acknowledged", "note": ""},
    )
    login_verified(client, auditor)
    body = client.get("/audit/").content.decode()
    assert "Photo check" in body
    assert "watchlists.photo_check" not in body
    assert "Changed fields:</span> groups, is active" in body
    assert "Candidates:</span> 2 item(s)" in body
    assert "Action:</span> Acknowledged" in body
    assert "Note:</span>" not in body  # empty values are left out
    assert "{&#x27;" not in body  # no raw Python dicts
    assert "<td>Administrator</td>" in body  # the role in words
    assert "<td>Authoriser</td>" in body
