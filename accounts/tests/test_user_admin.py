"""Admins manage operators but cannot raise anyone (themselves included) to admin, auditor or superuser."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from audit.models import AccessEvent
from commandcenter.tests.otp import login_verified

pytestmark = pytest.mark.django_db


def _form(user, groups):  # type: ignore[no-untyped-def]
    return {
        "username": user.username,
        "is_active": "on",
        "is_staff": "",
        "groups": [g.pk for g in groups],
        "date_joined_0": "2026-01-01",
        "date_joined_1": "10:00:00",
        "first_name": "",
        "last_name": "",
        "email": "",
        "scope-TOTAL_FORMS": "0",
        "scope-INITIAL_FORMS": "0",
    }


def test_admin_cannot_edit_an_auditor_or_themselves_into_more_rights(client, admin_user, auditor, dispatcher):
    login_verified(client, admin_user)
    auditor_page = client.get(f"/admin/auth/user/{auditor.pk}/change/")
    assert auditor_page.status_code == 200
    assert 'name="_save"' not in auditor_page.content.decode()  # view only
    page = client.get(f"/admin/auth/user/{dispatcher.pk}/change/").content.decode()
    offered = {g.name for g in Group.objects.all() if f'value="{g.pk}"' in page}
    assert offered == {"dispatcher", "supervisor"}
    own = client.get(f"/admin/auth/user/{admin_user.pk}/change/").content.decode()
    assert 'name="groups"' not in own
    auditor_group = Group.objects.get(name="auditor")
    client.post(f"/admin/auth/user/{dispatcher.pk}/change/", _form(dispatcher, [auditor_group]))
    assert [g.name for g in dispatcher.groups.all()] == ["dispatcher"]
    client.post(f"/admin/auth/user/{auditor.pk}/change/", _form(auditor, []))
    assert [g.name for g in auditor.groups.all()] == ["auditor"]


def test_admin_gives_a_dispatcher_the_supervisor_role_and_it_is_audited(client, admin_user, dispatcher):
    login_verified(client, admin_user)
    supervisor_group = Group.objects.get(name="supervisor")
    response = client.post(f"/admin/auth/user/{dispatcher.pk}/change/", _form(dispatcher, [supervisor_group]))
    assert response.status_code == 302, response.content.decode()[:3000]
    assert [g.name for g in dispatcher.groups.all()] == ["supervisor"]
    event = AccessEvent.objects.get(user_id=admin_user.pk, object_type="auth.user", object_id=str(dispatcher.pk))
    assert event.detail["groups"] == ["supervisor"]
