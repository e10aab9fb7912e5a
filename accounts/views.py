"""Sign-in with throttling, and the second step (TOTP) that admins and auditors must pass."""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django.views.i18n import set_language
from django_otp import devices_for_user, match_token
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.middleware import client_ip
from audit.models import AccessEvent
from audit.services import access_record
from core.permissions import NoAccess
from core.security import (
    lockout_message,
    login_failure_register,
    login_locked,
    login_throttle_reset,
    two_factor_required,
)
from venues.models import OperatorScope

logger = logging.getLogger(__name__)


class ThrottledAuthenticationForm(AuthenticationForm):
    """Refuses a locked username + address before looking at the password (the attempt is audited)."""

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        ip = client_ip(self.request) if self.request else None
        if username and login_locked(username=username, ip=ip):
            access_record(
                user=None,
                username=username[:150],
                action=AccessEvent.Action.LOGIN_FAILED,
                object_type="auth",
                detail={"reason": "locked"},
            )
            raise forms.ValidationError(lockout_message(), code="locked")
        return super().clean()


class LoginView(auth_views.LoginView):
    """Password sign-in in the language the operator chose last time; roles that need a second factor
    continue to the TOTP step."""

    authentication_form = ThrottledAuthenticationForm

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        code = OperatorScope.objects.filter(user=form.get_user()).values_list("language", flat=True).first()
        if code and code in dict(settings.LANGUAGES):
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                code,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE or "Lax",
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            )
        return response

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        # the admin sends a signed-in user it refuses here: say they lack access instead of asking to sign in
        target = request.GET.get("next", "")
        if request.user.is_authenticated and target.startswith("/admin/") and not request.user.is_staff:
            raise NoAccess(_("Your account has no access to the administration."))
        return super().dispatch(request, *args, **kwargs)

    def get_success_url(self) -> str:
        url = self.get_redirect_url() or _home_for(self.request.user)
        if two_factor_required(self.request.user):
            return f"{reverse('otp-verify')}?{urlencode({'next': url})}"
        return url


def _home_for(user: Any) -> str:
    """Where a sign-in without a `next` lands: auditors who cannot act on alerts on the audit log."""
    if user.has_perm("audit.view_accessevent") and not user.has_perm("alerts.act_on_alert"):
        return reverse("audit:log")
    return str(settings.LOGIN_REDIRECT_URL)


class TokenForm(forms.Form):
    """A six-digit code from the authenticator app."""

    token = forms.RegexField(
        label=gettext_lazy("Code from your authenticator app"), regex=r"^\s*\d{6,8}\s*$", max_length=12, strip=True
    )


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return "/"


def _otp_failed(request: HttpRequest, reason: str) -> bool:
    """Audit a wrong code and count it toward the lockout; True when the user is now locked out."""
    username = request.user.get_username()
    ip = client_ip(request)
    access_record(
        user=request.user,
        action=AccessEvent.Action.LOGIN_FAILED,
        object_type="auth",
        detail={"reason": reason, "factor": "totp"},
    )
    login_failure_register(username=username, ip=ip)
    return login_locked(username=username, ip=ip)


@never_cache
@sensitive_post_parameters("token")
@login_required
def otp_verify(request: HttpRequest) -> HttpResponse:
    """Second step of sign-in: a TOTP code from a confirmed device."""
    if not any(devices_for_user(request.user, confirmed=True)):
        return HttpResponseRedirect(f"{reverse('otp-setup')}?{urlencode({'next': _next_url(request)})}")
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = match_token(request.user, form.cleaned_data["token"].strip())
        if device is not None:
            otp_login(request, device)
            login_throttle_reset(username=request.user.get_username(), ip=client_ip(request))
            access_record(
                user=request.user,
                action=AccessEvent.Action.LOGIN,
                object_type="auth",
                detail={"factor": "totp", "device": device.persistent_id},
            )
            return HttpResponseRedirect(_next_url(request))
        if _otp_failed(request, "bad_otp"):
            logout(request)
            return render(request, "registration/login.html", {"locked_message": lockout_message()}, status=403)
        form.add_error("token", _("That code is not valid. Check the time on your device and try again."))
    return render(request, "registration/otp_verify.html", {"form": form, "next": _next_url(request)})


@never_cache
@sensitive_post_parameters("token")
@login_required
def otp_setup(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator app: show the otpauth URI and secret, confirm with one code."""
    if any(devices_for_user(request.user, confirmed=True)):
        return HttpResponseRedirect(f"{reverse('otp-verify')}?{urlencode({'next': _next_url(request)})}")
    device = TOTPDevice.objects.filter(user=request.user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=request.user, name="authenticator", confirmed=False)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["token"].strip()):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            otp_login(request, device)
            access_record(
                user=request.user,
                action=AccessEvent.Action.CREATE,
                object_type="otp_totp.totpdevice",
                object_id=device.pk,
                detail={"factor": "totp"},
            )
            return HttpResponseRedirect(_next_url(request))
        if _otp_failed(request, "bad_otp_enrolment"):
            logout(request)
            return render(request, "registration/login.html", {"locked_message": lockout_message()}, status=403)
        form.add_error("token", _("That code is not valid. Check the time on your device and try again."))
    secret = device.config_url.split("secret=", 1)[1].split("&", 1)[0]
    context = {"form": form, "next": _next_url(request), "config_url": device.config_url, "secret": secret}
    return render(request, "registration/otp_setup.html", {**context, "qr_svg": _qr_svg(device.config_url)})


def _qr_svg(url: str) -> str:
    """The otpauth link as an inline SVG QR code (no script, no style attribute: the CSP allows it)."""
    try:
        import segno  # type: ignore[import-not-found, unused-ignore]  # lazy: only this page draws QR codes
    except ImportError:  # an environment set up before segno joined requirements.txt: the link still works
        logger.warning("segno is not installed (make setup): the TOTP setup page shows no QR code")
        return ""
    code = segno.make(url, error="m")
    title = _("QR code for your authenticator app")
    svg = code.svg_inline(scale=5, border=3, dark="#000", light="#fff", svgclass="qr", lineclass=None, title=title)
    return mark_safe(svg)  # noqa: S308 - segno's own markup; the title is ours and escaped by segno


# --- language: persisted to the operator's scope, restored at login -------------------------------


@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """Django's set_language, then remember the choice on the operator's scope."""
    response = set_language(request)
    code = request.POST.get("language", "")
    if request.user.is_authenticated and code in dict(settings.LANGUAGES):
        OperatorScope.objects.filter(user=request.user).update(language=code)
    return response
