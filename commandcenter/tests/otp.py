"""Test helpers: a TOTP device with a known key and the code it shows now."""

from __future__ import annotations

from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

KNOWN_KEY = "3132333435363738393031323334353637383930"  # RFC 6238 test secret "12345678901234567890"


def totp_device(user, *, confirmed: bool = True) -> TOTPDevice:  # type: ignore[no-untyped-def]
    return TOTPDevice.objects.create(user=user, name="test phone", key=KNOWN_KEY, confirmed=confirmed)


def token_now(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):0{device.digits}d}"


def login_verified(client, user):  # type: ignore[no-untyped-def]
    """Sign the test client in as `user` with a verified second factor (what the TOTP step leaves behind)."""
    client.force_login(user)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or totp_device(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client
