"""Sign-in is audited, throttled and, for admins and auditors, needs a TOTP second factor."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse

from audit.models import AccessEvent
from commandcenter.tests.otp import token_now, totp_device
from core.redis import login_failures_key

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _fresh_throttle():  # type: ignore[no-untyped-def]
    names = ["dispatcher1", "admin1", "auditor1", "nobody"]
    yield
    for name in names:
        cache.delete(login_failures_key(name, "127.0.0.1"))


def _login(client, username, password=PASSWORD):  # type: ignore[no-untyped-def]
    return client.post(reverse("login"), {"username": username, "password": password})


def _actions(username):  # type: ignore[no-untyped-def]
    return list(AccessEvent.objects.filter(username=username).order_by("id").values_list("action", "detail"))


def test_login_and_logout_are_audited(client, dispatcher):
    response = _login(client, "dispatcher1")
    assert (response.status_code, response["Location"]) == (302, "/")
    client.post(reverse("logout"))
    assert _actions("dispatcher1") == [("login", {"factor": "password"}), ("logout", {})]


def test_failed_login_is_audited_with_the_attempted_name(client, dispatcher):
    response = _login(client, "dispatcher1", "wrong")
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert _actions("dispatcher1") == [("login_failed", {"reason": "bad_credentials"})]


def test_five_failures_lock_the_account_even_with_the_right_password(client, dispatcher, settings):
    # given five wrong passwords from one address
    for _ in range(settings.CC_LOGIN_MAX_FAILURES):
        _login(client, "dispatcher1", "wrong")
    # when the right password comes next
    response = _login(client, "dispatcher1")
    # then it is refused with the lockout message, and the lockout is in the log
    assert response.status_code == 200
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session
    actions = [action for action, _ in _actions("dispatcher1")]
    assert actions == ["login_failed"] * 5 + ["lockout", "login_failed"]
    assert _actions("dispatcher1")[-1][1] == {"reason": "locked"}


def test_the_lockout_is_per_address(client, dispatcher, settings):
    for _ in range(settings.CC_LOGIN_MAX_FAILURES):
        _login(client, "dispatcher1", "wrong")
    response = client.post(reverse("login"), {"username": "dispatcher1", "password": PASSWORD}, REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 302
    cache.delete(login_failures_key("dispatcher1", "10.1.2.3"))


def test_a_successful_login_resets_the_counter(client, dispatcher, settings):
    for _ in range(settings.CC_LOGIN_MAX_FAILURES - 1):
        _login(client, "dispatcher1", "wrong")
    assert _login(client, "dispatcher1").status_code == 302
    assert cache.get(login_failures_key("dispatcher1", "127.0.0.1")) is None


@pytest.mark.parametrize("role", ["admin_user", "auditor"])
def test_admin_and_auditor_must_pass_the_second_factor(client, role, request):
    # given an admin or auditor with a confirmed TOTP device
    user = request.getfixturevalue(role)
    device = totp_device(user)
    # when they sign in with the password only
    response = _login(client, user.username)
    # then they are sent to the TOTP step (an auditor on to the audit log), and pages and the API stay closed
    home = "%2Faudit%2F" if role == "auditor" else "%2F"
    assert response["Location"] == f"{reverse('otp-verify')}?next={home}"
    blocked = client.get("/audit/")
    assert (blocked.status_code, blocked["Location"]) == (302, f"{reverse('otp-verify')}?next=%2Faudit%2F")
    assert client.get("/api/venues/").status_code == 403
    # when a wrong code, then the right one
    wrong = client.post(reverse("otp-verify"), {"token": "000000", "next": "/"})
    assert wrong.status_code == 200
    device.refresh_from_db()
    device.throttle_reset()  # django_otp makes the next try wait 1 s after a failure
    right = client.post(reverse("otp-verify"), {"token": token_now(device), "next": "/api/venues/"})
    # then they are in, and both steps are in the log
    assert (right.status_code, right["Location"]) == (302, "/api/venues/")
    assert client.get("/api/venues/").status_code == 200
    blocked_detail = {"method": "GET", "reason": "second_factor_required"}
    assert _actions(user.username) == [
        ("login", {"factor": "password"}),
        ("denied", {**blocked_detail, "path": "/audit/"}),
        ("denied", {**blocked_detail, "path": "/api/venues/"}),
        ("login_failed", {"reason": "bad_otp", "factor": "totp"}),
        ("login", {"factor": "totp", "device": device.persistent_id}),
    ]


def test_an_authoriser_must_pass_the_second_factor_before_deciding_deployments(client, authoriser):
    # given the senior officer who authorises live face matching, with a confirmed TOTP device
    device = totp_device(authoriser)
    deployments = reverse("oversight-deployments")
    # when they sign in with the password only, the deployments stay closed
    response = _login(client, authoriser.username)
    assert response["Location"].startswith(reverse("otp-verify"))
    assert client.get(deployments).status_code == 302
    # and with the code they are in
    right = client.post(reverse("otp-verify"), {"token": token_now(device), "next": deployments})
    assert (right.status_code, right["Location"]) == (302, deployments)
    assert client.get(deployments).status_code == 200


def test_dispatcher_needs_no_second_factor(client, dispatcher):
    _login(client, "dispatcher1")
    assert client.get("/api/venues/").status_code == 200


def test_an_admin_without_a_device_enrols_one_and_is_verified(client, admin_user):
    # given an admin with no device, signed in with the password
    _login(client, "admin1")
    # when the TOTP step sends them to enrolment
    response = client.get(reverse("otp-verify"))
    assert response["Location"].startswith(reverse("otp-setup"))
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "otpauth://totp/City%20Command%20Center%3Aadmin1?secret=" in page.content.decode()
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.get(user=admin_user, confirmed=False)
    confirm = client.post(reverse("otp-setup"), {"token": token_now(device), "next": "/api/venues/"})
    # then the device is confirmed, the session verified, and the enrolment audited
    assert confirm["Location"] == "/api/venues/"
    assert TOTPDevice.objects.get(pk=device.pk).confirmed is True
    assert client.get("/api/venues/").status_code == 200
    assert (
        AccessEvent.objects.filter(action="create", object_type="otp_totp.totpdevice", object_id=str(device.pk)).count()
        == 1
    )


def test_wrong_codes_count_toward_the_lockout_and_sign_the_user_out(client, auditor, settings):
    totp_device(auditor)
    _login(client, "auditor1")
    for _ in range(settings.CC_LOGIN_MAX_FAILURES):
        response = client.post(reverse("otp-verify"), {"token": "000000"})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
    assert AccessEvent.objects.filter(username="auditor1", action="lockout").count() == 1


def test_admin_login_page_redirects_to_the_one_sign_in_page(client):
    response = client.get("/admin/login/?next=/admin/")
    assert (response.status_code, response["Location"]) == (302, "/login/?next=/admin/")
