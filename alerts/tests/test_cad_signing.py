"""HMAC signing: a round trip passes; every kind of bad request fails with its own code."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from alerts.cad import signing
from alerts.cad.signing import (
    BadSignature,
    MalformedHeader,
    MissingHeader,
    NonceCache,
    ReplayedNonce,
    StaleTimestamp,
    sign,
    verify,
)

BODY = b'{"incident": "fight at gate 3"}'
KEY = "endpoint-key-2025"
NOW = 1_746_112_590
NONCE = "0123456789abcdef0123456789abcdef"


def _never_seen(nonce: str) -> bool:
    """A nonce store that has seen nothing."""
    return False


def _signed() -> dict[str, str]:
    """Headers of a request signed at NOW with NONCE."""
    return sign(BODY, KEY, now=NOW, nonce=NONCE, idempotency_key="inc-1:0")


def test_sign_produces_the_documented_headers() -> None:
    # when a body is signed at a fixed time with a fixed nonce
    headers = _signed()

    # then the signature is HMAC-SHA256 over "<ts>.<nonce>." + body
    expected = hmac.new(KEY.encode(), f"{NOW}.{NONCE}.".encode() + BODY, hashlib.sha256)
    assert headers == {
        "X-CC-Timestamp": str(NOW),
        "X-CC-Nonce": NONCE,
        "X-CC-Signature": f"v1={expected.hexdigest()}",
        "Idempotency-Key": "inc-1:0",
    }


def test_round_trip_accepts_and_header_names_are_case_insensitive() -> None:
    headers = {name.lower(): value for name, value in _signed().items()}
    verify(headers, BODY, KEY, now=NOW + 10, seen_nonce=_never_seen)


def test_default_idempotency_key_is_the_body_hash() -> None:
    headers = sign(BODY, KEY, now=NOW, nonce=NONCE)
    assert headers["Idempotency-Key"] == hashlib.sha256(BODY).hexdigest()


def test_rotated_keys_accept_old_and_new_signatures() -> None:
    # given a receiver that holds the new key first and the old key second
    keys = ["new-key", KEY]

    # then a sender still on the old key is accepted
    verify(_signed(), BODY, keys, now=NOW, seen_nonce=_never_seen)


def test_tampered_body_is_a_bad_signature() -> None:
    with pytest.raises(BadSignature, match="does not match any of 1 configured key") as caught:
        verify(_signed(), BODY + b" ", KEY, now=NOW, seen_nonce=_never_seen)
    assert caught.value.code == "bad_signature"
    assert caught.value.http_status == 401


def test_wrong_key_is_a_bad_signature() -> None:
    with pytest.raises(BadSignature):
        verify(_signed(), BODY, ["other-key"], now=NOW, seen_nonce=_never_seen)


def test_old_timestamp_is_stale() -> None:
    with pytest.raises(StaleTimestamp, match=f"timestamp {NOW} is 301 s old; the window is 300 s"):
        verify(_signed(), BODY, KEY, now=NOW + 301, seen_nonce=_never_seen)


def test_future_timestamp_is_stale() -> None:
    with pytest.raises(StaleTimestamp, match="is 301 s in the future") as caught:
        verify(_signed(), BODY, KEY, now=NOW - 301, seen_nonce=_never_seen)
    assert caught.value.code == "stale_timestamp"


def test_edge_of_window_is_accepted() -> None:
    verify(_signed(), BODY, KEY, now=NOW + 300, seen_nonce=_never_seen)
    verify(_signed(), BODY, KEY, now=NOW - 300, seen_nonce=_never_seen)


def test_replayed_nonce_is_rejected_on_second_use() -> None:
    # given a nonce store shared by two identical requests
    seen = NonceCache(clock=lambda: NOW)
    verify(_signed(), BODY, KEY, now=NOW, seen_nonce=seen)

    # when the same request arrives again, then it is a replay
    with pytest.raises(ReplayedNonce, match=f"nonce {NONCE} was already used") as caught:
        verify(_signed(), BODY, KEY, now=NOW, seen_nonce=seen)
    assert caught.value.code == "replayed_nonce"


def test_forged_request_does_not_burn_the_nonce() -> None:
    # given a forged request with a stolen nonce
    seen = NonceCache(clock=lambda: NOW)
    forged = {**_signed(), "X-CC-Signature": "v1=" + "0" * 64}
    with pytest.raises(BadSignature):
        verify(forged, BODY, KEY, now=NOW, seen_nonce=seen)

    # then the genuine request with that nonce still goes through
    verify(_signed(), BODY, KEY, now=NOW, seen_nonce=seen)


@pytest.mark.parametrize("header", signing.SIGNED_HEADERS)
def test_each_missing_header_is_named(header: str) -> None:
    headers = {k: v for k, v in _signed().items() if k != header}
    with pytest.raises(MissingHeader, match=f"^missing header {header}$") as caught:
        verify(headers, BODY, KEY, now=NOW, seen_nonce=_never_seen)
    assert caught.value.code == "missing_header"
    assert caught.value.http_status == 400


@pytest.mark.parametrize(
    ("header", "value", "message"),
    [
        ("X-CC-Timestamp", "1746112590.5", "must be whole unix seconds"),
        ("X-CC-Signature", "sha256=abc", "must look like 'v1=<64 hex digits>'"),
        ("X-CC-Nonce", "short", "must be 16-128 characters"),
    ],
)
def test_malformed_headers_are_named(header: str, value: str, message: str) -> None:
    headers = {**_signed(), header: value}
    with pytest.raises(MalformedHeader, match=message):
        verify(headers, BODY, KEY, now=NOW, seen_nonce=_never_seen)


def test_nonce_cache_forgets_after_its_ttl() -> None:
    clock = [0.0]
    seen = NonceCache(ttl_s=600, clock=lambda: clock[0])
    assert seen(NONCE) is False
    assert seen(NONCE) is True
    clock[0] = 601.0
    assert seen(NONCE) is False
