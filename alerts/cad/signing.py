"""HMAC-SHA256 request signing for CAD webhooks, both directions, with key rotation."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence

logger = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-CC-Timestamp"
NONCE_HEADER = "X-CC-Nonce"
SIGNATURE_HEADER = "X-CC-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
SIGNED_HEADERS = (TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER)
SCHEME = "v1"
DEFAULT_WINDOW_S = 300

Key = bytes | str
_NONCE = re.compile(r"^[A-Za-z0-9_\-]{16,128}$")
_TIMESTAMP = re.compile(r"^\d{1,12}$")
_SIGNATURE = re.compile(r"^[0-9a-f]{64}$")


class SignatureError(Exception):
    """A signed request was rejected; code and http_status say why."""

    code = "signature_error"
    http_status = 401


class MissingHeader(SignatureError):
    """A required signing header is absent or empty."""

    code = "missing_header"
    http_status = 400


class MalformedHeader(SignatureError):
    """A signing header is present but not in the expected format."""

    code = "malformed_header"
    http_status = 400


class BadSignature(SignatureError):
    """The signature matches none of the endpoint's keys."""

    code = "bad_signature"
    http_status = 401


class StaleTimestamp(SignatureError):
    """The timestamp lies outside the allowed window, in the past or the future."""

    code = "stale_timestamp"
    http_status = 401


class ReplayedNonce(SignatureError):
    """The nonce was already used within the window."""

    code = "replayed_nonce"
    http_status = 409


def _key_bytes(key: Key) -> bytes:
    """Keys may be given as text (UTF-8) or bytes; empty keys are refused."""
    raw = key.encode() if isinstance(key, str) else bytes(key)
    if not raw:
        raise ValueError("signing key must not be empty")
    return raw


def signature(body: bytes, key: Key, *, timestamp: int, nonce: str) -> str:
    """Hex HMAC-SHA256 over b'<timestamp>.<nonce>.' + body."""
    message = f"{timestamp}.{nonce}.".encode() + body
    return hmac.new(_key_bytes(key), message, hashlib.sha256).hexdigest()


def new_nonce() -> str:
    """A fresh 128-bit random nonce."""
    return secrets.token_hex(16)


def sign(
    body: bytes,
    key: Key,
    *,
    now: float | None = None,
    nonce: str | None = None,
    idempotency_key: str | None = None,
) -> dict[str, str]:
    """Headers for one delivery attempt; the idempotency key defaults to the body's SHA-256."""
    stamp = int(time.time() if now is None else now)
    nonce = new_nonce() if nonce is None else nonce
    if not _NONCE.match(nonce):
        raise ValueError("nonce must be 16-128 characters of [A-Za-z0-9_-]")
    return {
        TIMESTAMP_HEADER: str(stamp),
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: f"{SCHEME}={signature(body, key, timestamp=stamp, nonce=nonce)}",
        IDEMPOTENCY_HEADER: idempotency_key or hashlib.sha256(body).hexdigest(),
    }


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names are case-insensitive: index them in lower case."""
    return {str(name).lower(): str(value).strip() for name, value in headers.items()}


def _required(headers: dict[str, str], name: str) -> str:
    """A header value, or MissingHeader naming it."""
    value = headers.get(name.lower(), "")
    if not value:
        raise MissingHeader(f"missing header {name}")
    return value


def _parse_signatures(value: str) -> list[str]:
    """Hex digests from 'v1=<hex>[, v1=<hex>]' (several during sender-side rotation)."""
    found = []
    for part in value.split(","):
        scheme, _, digest = part.strip().partition("=")
        if scheme == SCHEME and _SIGNATURE.match(digest):
            found.append(digest)
    if not found:
        raise MalformedHeader(f"{SIGNATURE_HEADER} must look like '{SCHEME}=<64 hex digits>'")
    return found


def _check_window(stamp: int, now: float, window_s: int) -> None:
    """StaleTimestamp when stamp is more than window_s away from now, either way."""
    skew = int(now) - stamp
    if skew > window_s:
        raise StaleTimestamp(f"timestamp {stamp} is {skew} s old; the window is {window_s} s")
    if -skew > window_s:
        raise StaleTimestamp(f"timestamp {stamp} is {-skew} s in the future; the window is {window_s} s")


def _matches(digests: list[str], body: bytes, keys: Sequence[Key], stamp: int, nonce: str) -> bool:
    """Constant-time comparison of every presented digest against every key."""
    matched = False
    for key in keys:
        expected = signature(body, key, timestamp=stamp, nonce=nonce)
        for digest in digests:
            matched |= hmac.compare_digest(expected, digest)
    return matched


def verify(
    headers: Mapping[str, str],
    body: bytes,
    key: Key | Sequence[Key],
    *,
    now: float | None = None,
    window_s: int = DEFAULT_WINDOW_S,
    seen_nonce: Callable[[str], bool],
) -> None:
    """Accept a signed request or raise a SignatureError subclass saying exactly why not.

    seen_nonce(nonce) must record the nonce and return True if it was already recorded;
    it is called only after the signature checks out, so forgeries cannot burn nonces.
    """
    keys = [key] if isinstance(key, bytes | str) else list(key)
    if not keys:
        raise ValueError("at least one verification key is required")
    lowered = _lower(headers)
    raw_stamp, nonce, raw_sig = (_required(lowered, name) for name in SIGNED_HEADERS)
    if not _TIMESTAMP.match(raw_stamp):
        raise MalformedHeader(f"{TIMESTAMP_HEADER} must be whole unix seconds, got {raw_stamp!r}")
    if not _NONCE.match(nonce):
        raise MalformedHeader(f"{NONCE_HEADER} must be 16-128 characters of [A-Za-z0-9_-]")
    digests = _parse_signatures(raw_sig)
    stamp = int(raw_stamp)
    _check_window(stamp, time.time() if now is None else now, window_s)
    if not _matches(digests, body, keys, stamp, nonce):
        raise BadSignature(f"signature does not match any of {len(keys)} configured key(s)")
    if seen_nonce(nonce):
        raise ReplayedNonce(f"nonce {nonce} was already used")


class NonceCache:
    """In-process seen_nonce for tests and the reference receiver (use Redis SET NX EX in prod)."""

    def __init__(self, ttl_s: float = 2 * DEFAULT_WINDOW_S, clock: Callable[[], float] = time.time):
        """Remember nonces for ttl_s seconds (at least twice the verification window)."""
        self._ttl_s = ttl_s
        self._clock = clock
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def __call__(self, nonce: str) -> bool:
        """Record nonce; True if it had been seen within the TTL."""
        now = self._clock()
        with self._lock:
            self._seen = {n: t for n, t in self._seen.items() if now - t < self._ttl_s}
            if nonce in self._seen:
                return True
            self._seen[nonce] = now
            return False
