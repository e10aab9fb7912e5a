"""Reference CAD receiver: stdlib HTTP server taking signed incidents, pushing unit status.

Run: python -m tools.cad.receiver --host 127.0.0.1 --port 8765 --key SECRET [--db PATH]
     [--status-url URL --status-key KEY]
Keys may also come from CAD_RECEIVER_KEYS (comma-separated) and CAD_RECEIVER_STATUS_KEY.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from alerts.cad import cap, eido, signing
from alerts.cad.payload import StatusUpdate, parse_status_update

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
KEYS_ENV = "CAD_RECEIVER_KEYS"
STATUS_KEY_ENV = "CAD_RECEIVER_STATUS_KEY"
_EIDO_TYPES = {"application/json", "application/eido+json"}
_CAP_TYPES = {"application/cap+xml", "application/xml", "text/xml"}
_SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    format TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    content_type TEXT NOT NULL,
    body_sha256 TEXT NOT NULL,
    body TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, seen_at REAL NOT NULL);
"""


Answer = tuple[int, dict[str, Any]]
Route = Callable[[], Answer]


class HttpError(Exception):
    """An error answer: HTTP status, machine code and human reason."""

    def __init__(self, status: int, code: str, reason: str, headers: dict[str, str] | None = None) -> None:
        """Keep the parts the JSON error answer is made of."""
        super().__init__(reason)
        self.status = status
        self.code = code
        self.reason = reason
        self.headers = headers or {}


@dataclass(frozen=True)
class ReceiverConfig:
    """Settings of one receiver process."""

    keys: tuple[str, ...]
    db_path: Path
    status_url: str | None = None
    status_key: str | None = None
    window_s: int = signing.DEFAULT_WINDOW_S


@dataclass
class Received:
    """An accepted incident body, ready to store."""

    idempotency_key: str
    format: str
    incident_id: str
    content_type: str
    body: bytes
    body_sha256: str = field(init=False)

    def __post_init__(self) -> None:
        """Hash the body once: a reused key with a different body is a conflict."""
        self.body_sha256 = hashlib.sha256(self.body).hexdigest()


class IncidentStore:
    """SQLite persistence of received incidents and seen nonces (one lock, one connection)."""

    def __init__(self, path: Path, *, nonce_ttl_s: float) -> None:
        """Open (and create) the database file."""
        self._lock = threading.Lock()
        self._nonce_ttl_s = nonce_ttl_s
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

    def seen_nonce(self, nonce: str) -> bool:
        """Record nonce; True if it was already recorded within the TTL."""
        now = time.time()
        with self._lock:
            self._db.execute("DELETE FROM nonces WHERE seen_at < ?", (now - self._nonce_ttl_s,))
            cursor = self._db.execute(
                "INSERT INTO nonces (nonce, seen_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (nonce, now),
            )
            return cursor.rowcount == 0

    def record(self, item: Received) -> tuple[dict[str, Any], bool]:
        """Store item once per idempotency key; return (record, duplicate)."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO incidents (idempotency_key, format, incident_id, content_type,"
                " body_sha256, body, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (idempotency_key) DO NOTHING",
                (
                    item.idempotency_key,
                    item.format,
                    item.incident_id,
                    item.content_type,
                    item.body_sha256,
                    item.body.decode("utf-8"),
                    datetime.now(UTC).isoformat(timespec="microseconds"),
                ),
            )
            row = self._db.execute(
                "SELECT * FROM incidents WHERE idempotency_key = ?", (item.idempotency_key,)
            ).fetchone()
        return _as_record(row), cursor.rowcount == 0

    def list(self, *, after: int = 0) -> list[dict[str, Any]]:
        """Received incidents in arrival order, after a sequence number."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM incidents WHERE seq > ? ORDER BY seq", (after,)).fetchall()
        return [_as_record(row) for row in rows]

    def count(self) -> int:
        """Number of received incidents."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM incidents").fetchone()[0])


def _as_record(row: sqlite3.Row) -> dict[str, Any]:
    """A stored row as the JSON record clients see (EIDO decoded, CAP as text)."""
    names = [name for name in row.keys() if name != "body"]  # noqa: SIM118 - Row iterates values
    record = {name: row[name] for name in names}
    record["document"] = json.loads(row["body"]) if row["format"] == "eido" else row["body"]
    return record


class ReceiverServer(ThreadingHTTPServer):
    """HTTP server holding the receiver's config, store and simulated-outage counter."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], config: ReceiverConfig) -> None:
        """Bind, open the store and start healthy."""
        self.config = config
        self.store = IncidentStore(config.db_path, nonce_ttl_s=2.0 * config.window_s)
        self._fail_lock = threading.Lock()
        self._fail_next = 0
        super().__init__(address, ReceiverHandler)

    def set_failures(self, count: int) -> None:
        """Answer the next count incident posts with 503."""
        with self._fail_lock:
            self._fail_next = count

    def take_failure(self) -> int:
        """Consume one simulated failure; return how many were pending (0 means healthy)."""
        with self._fail_lock:
            pending = self._fail_next
            self._fail_next = max(0, pending - 1)
            return pending

    def pending_failures(self) -> int:
        """Simulated failures still to come."""
        with self._fail_lock:
            return self._fail_next

    def server_close(self) -> None:
        """Close the socket and the database."""
        super().server_close()
        self.store.close()


class ReceiverHandler(BaseHTTPRequestHandler):
    """Routes requests; every answer is JSON."""

    server: ReceiverServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without this, Nagle + delayed ACK add ~40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Send the access log to logging instead of stderr."""
        logger.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        """GET /healthz, GET /incidents[?after=N]."""
        routes = {"/healthz": self._healthz, "/incidents": self._list}
        self._dispatch(routes)

    def do_POST(self) -> None:
        """POST /incidents, /admin/status, /admin/fail?count=N."""
        routes = {
            "/incidents": self._incident,
            "/admin/status": self._status,
            "/admin/fail": self._fail,
        }
        self._dispatch(routes)

    def _dispatch(self, routes: dict[str, Route]) -> None:
        """Call the route for the path; turn errors into JSON error answers."""
        path = urlsplit(self.path).path
        try:
            route = routes.get(path)
            if route is None:
                raise HttpError(404, "not_found", f"no route for {self.command} {path}")
            status, body = route()
        except HttpError as exc:
            self._send(exc.status, {"error": exc.code, "reason": exc.reason}, exc.headers)
            return
        except Exception:
            logger.exception("receiver failed on %s %s", self.command, path)
            self._send(500, {"error": "internal", "reason": "see the receiver log"})
            return
        self._send(status, body)

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        """Write a JSON answer."""
        data = json.dumps(body, sort_keys=True).encode()
        self.send_response(status)
        if status >= 400:
            # The body may be unread after an early error: do not reuse the connection.
            self.close_connection = True
            self.send_header("Connection", "close")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _query(self) -> dict[str, list[str]]:
        """Parsed query string."""
        return parse_qs(urlsplit(self.path).query)

    def _int_param(self, name: str, default: int, *, low: int, high: int) -> int:
        """An integer query parameter within bounds, else 400."""
        raw = self._query().get(name, [str(default)])[0]
        if not raw.isdigit() or not low <= int(raw) <= high:
            raise HttpError(400, "bad_parameter", f"{name} must be an integer {low}-{high}")
        return int(raw)

    def _read_body(self, *, required: bool = True) -> bytes:
        """The request body, bounded by Content-Length and MAX_BODY_BYTES."""
        length = self.headers.get("Content-Length")
        if length is None and not required:
            return b""
        if length is None or not length.isdigit():
            raise HttpError(411, "length_required", "Content-Length is required")
        if int(length) > MAX_BODY_BYTES:
            raise HttpError(413, "too_large", f"body exceeds {MAX_BODY_BYTES} bytes")
        return self.rfile.read(int(length))

    def _healthz(self) -> Answer:
        """Liveness plus counters."""
        body = {
            "ok": True,
            "incidents": self.server.store.count(),
            "fail_next": self.server.pending_failures(),
        }
        return 200, body

    def _list(self) -> Answer:
        """Everything received, in arrival order."""
        after = self._int_param("after", 0, low=0, high=2**62)
        incidents = self.server.store.list(after=after)
        return 200, {"count": len(incidents), "incidents": incidents}

    def _require_loopback(self) -> None:
        """Admin routes have no authentication, so they answer loopback clients only."""
        if self.client_address[0] not in ("127.0.0.1", "::1"):
            raise HttpError(403, "forbidden", "admin routes answer loopback clients only")

    def _fail(self) -> Answer:
        """Simulate an outage for the next N incident posts."""
        self._require_loopback()
        self._read_body(required=False)
        count = self._int_param("count", 1, low=0, high=1000)
        self.server.set_failures(count)
        logger.info("simulating outage for the next %s incident posts", count)
        return 200, {"fail_next": count}

    def _incident(self) -> Answer:
        """Verify, validate and record one incident (201 first time, 200 duplicate)."""
        body = self._read_body()
        pending = self.server.take_failure()
        if pending:
            reason = f"simulated outage ({pending - 1} more to come)"
            raise HttpError(503, "unavailable", reason, {"Retry-After": "1"})
        self._verify(body)
        item = self._parse_incident(body)
        record, duplicate = self.server.store.record(item)
        if duplicate and record["body_sha256"] != item.body_sha256:
            raise HttpError(409, "idempotency_conflict", "Idempotency-Key was used with a different body")
        logger.info("incident %s key=%s duplicate=%s", item.incident_id, item.idempotency_key, duplicate)
        return (200 if duplicate else 201), {**record, "duplicate": duplicate}

    def _verify(self, body: bytes) -> None:
        """Signature, timestamp and nonce checks; 4xx with the precise reason."""
        try:
            signing.verify(
                dict(self.headers.items()),
                body,
                list(self.server.config.keys),
                window_s=self.server.config.window_s,
                seen_nonce=self.server.store.seen_nonce,
            )
        except signing.SignatureError as exc:
            logger.warning("rejected incident post: %s (%s)", exc.code, exc)
            raise HttpError(exc.http_status, exc.code, str(exc)) from None

    def _parse_incident(self, body: bytes) -> Received:
        """Idempotency key plus an EIDO or CAP document chosen by Content-Type."""
        key = (self.headers.get(signing.IDEMPOTENCY_HEADER) or "").strip()
        if not key or len(key) > 200:
            raise HttpError(400, "missing_header", f"missing header {signing.IDEMPOTENCY_HEADER}")
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type in _EIDO_TYPES:
            return Received(key, "eido", _eido_incident_id(body), content_type, body)
        if content_type in _CAP_TYPES:
            return Received(key, "cap", _cap_incident_id(body), content_type, body)
        raise HttpError(415, "unsupported_media_type", f"cannot take {content_type or 'no type'}")

    def _status(self) -> Answer:
        """Send a signed unit status to the command center; answer with what came back."""
        self._require_loopback()
        config = self.server.config
        if not config.status_url or not config.status_key:
            raise HttpError(409, "not_configured", "start the receiver with --status-url/-key")
        update = _status_from_admin(self._read_body())
        return 200, push_status(update, config.status_url, config.status_key)


def _eido_incident_id(body: bytes) -> str:
    """Validate an EIDO body and return its internal incident id."""
    try:
        doc = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HttpError(400, "malformed_json", f"body is not JSON: {exc}") from None
    try:
        eido.validate_eido(doc)
    except eido.EidoValidationError as exc:
        raise HttpError(422, "invalid_document", str(exc)) from None
    return str(doc["incidentComponent"]["internalIncidentId"])


def _cap_incident_id(body: bytes) -> str:
    """Validate a CAP body and return its incidents (or identifier) value."""
    try:
        cap.validate_cap(body)
    except cap.CapValidationError as exc:
        raise HttpError(422, "invalid_document", str(exc)) from None
    return cap.incident_reference(body)


def _status_from_admin(body: bytes) -> StatusUpdate:
    """Turn {incident_id, status, unit[, cad_reference]} into a timestamped StatusUpdate."""
    try:
        raw = json.loads(body)
        raw = {**raw, "at": datetime.now(UTC).isoformat()}
        return parse_status_update(raw)
    except (ValueError, TypeError) as exc:
        raise HttpError(400, "bad_status", str(exc)) from None


def push_status(update: StatusUpdate, url: str, key: str, *, timeout_s: float = 5.0) -> dict[str, Any]:
    """POST a signed status update to url; return what was sent and what came back."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise HttpError(400, "bad_status_url", f"status URL must be http(s): {url}")
    body = update.to_json()
    idempotency = f"{update.incident_id}:{update.status.value}:{update.unit}"
    headers = signing.sign(body, key, idempotency_key=idempotency)
    headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:  # noqa: S310 - http(s) checked
            status, text = answer.status, answer.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as exc:
        raise HttpError(502, "status_push_failed", f"{url}: {exc}") from None
    logger.info("pushed %s for %s to %s: HTTP %s", update.status, update.incident_id, url, status)
    return {"sent": json.loads(body), "response": {"status": status, "body": text}}


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m tools.cad.receiver", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--key", action="append", default=[], help="HMAC key; repeat to rotate")
    parser.add_argument("--db", type=Path, default=None, help="SQLite file (default: temp dir)")
    parser.add_argument("--status-url", default=None, help="command-center unit-status webhook")
    parser.add_argument("--status-key", default=None, help="HMAC key for status pushes")
    parser.add_argument("--window", type=int, default=signing.DEFAULT_WINDOW_S)
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def _config(args: argparse.Namespace) -> ReceiverConfig:
    """Config from options, with keys from the environment as a fallback."""
    keys = tuple(args.key) or tuple(k for k in os.environ.get(KEYS_ENV, "").split(",") if k)
    if not keys:
        raise SystemExit(f"at least one --key (or {KEYS_ENV}) is required")
    db_path = args.db or Path(tempfile.mkdtemp(prefix="cad-receiver-")) / "receiver.sqlite3"
    status_key = args.status_key or os.environ.get(STATUS_KEY_ENV) or None
    return ReceiverConfig(keys, db_path, args.status_url, status_key, args.window)


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Let SIGTERM unwind like Ctrl-C so the database is closed."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until interrupted."""
    args = _parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(message)s")
    config = _config(args)
    server = ReceiverServer((args.host, args.port), config)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    logger.info("CAD receiver on http://%s:%s db=%s", args.host, server.server_port, config.db_path)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        logger.info("CAD receiver stopping")
    finally:
        server.server_close()
    return 0


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ReceiverProcess:
    """Runs the receiver as a subprocess on loopback for tests and demos."""

    def __init__(
        self,
        *,
        keys: Sequence[str],
        db_path: Path | None = None,
        port: int | None = None,
        status_url: str | None = None,
        status_key: str | None = None,
        window_s: int = signing.DEFAULT_WINDOW_S,
        startup_timeout_s: float = 15.0,
    ) -> None:
        """Remember settings; nothing starts until start()."""
        self.host = "127.0.0.1"
        self.keys = tuple(keys)
        self.workdir = Path(tempfile.mkdtemp(prefix="cad-receiver-"))
        self.db_path = db_path or self.workdir / "receiver.sqlite3"
        self.log_path = self.workdir / "receiver.log"
        self.port = port
        self.status_url = status_url
        self.status_key = status_key
        self.window_s = window_s
        self.startup_timeout_s = startup_timeout_s
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:54321."""
        if self.port is None:
            raise RuntimeError("receiver has not been started")
        return f"http://{self.host}:{self.port}"

    @property
    def incidents_url(self) -> str:
        """Where incidents are posted."""
        return f"{self.url}/incidents"

    @property
    def running(self) -> bool:
        """True while the subprocess is alive."""
        return self._process is not None and self._process.poll() is None

    def _command(self) -> list[str]:
        """The command line (keys travel in the environment, not in ps output)."""
        command = [sys.executable, "-m", "tools.cad.receiver", "--host", self.host]
        command += ["--port", str(self.port), "--db", str(self.db_path)]
        command += ["--window", str(self.window_s)]
        if self.status_url:
            command += ["--status-url", self.status_url]
        return command

    def _environment(self) -> dict[str, str]:
        """Environment with keys and the repository on PYTHONPATH."""
        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        env[KEYS_ENV] = ",".join(self.keys)
        if self.status_key:
            env[STATUS_KEY_ENV] = self.status_key
        return env

    def start(self) -> ReceiverProcess:
        """Start on the chosen (or a free) port and wait until /healthz answers."""
        if self.running:
            return self
        self.port = self.port or free_port(self.host)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self._command(),
                env=self._environment(),
                cwd=str(Path(__file__).resolve().parents[2]),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.wait_ready()
        return self

    def wait_ready(self) -> None:
        """Poll /healthz until it answers 200; raise with the log tail if it never does."""
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                break
            if self._healthy():
                return
            time.sleep(0.05)
        tail = self.log_path.read_text(errors="replace")[-2000:]
        self.stop()
        raise RuntimeError(f"CAD receiver did not become healthy on {self.url}:\n{tail}")

    def _healthy(self) -> bool:
        """True if GET /healthz answers 200."""
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as answer:  # noqa: S310
                return bool(answer.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        """Terminate the subprocess (kill after 5 s)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def restart(self) -> ReceiverProcess:
        """Stop and start again on the same port with the same database."""
        self.stop()
        return self.start()

    def __enter__(self) -> ReceiverProcess:
        """Start on entry."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop on exit and remove the temporary database and log."""
        self.stop()
        self.cleanup()

    def cleanup(self) -> None:
        """Delete the working folder: log, and the database unless --db was given."""
        shutil.rmtree(self.workdir, ignore_errors=True)


__all__ = [
    "IncidentStore",
    "ReceiverConfig",
    "ReceiverProcess",
    "ReceiverServer",
    "free_port",
    "main",
    "push_status",
]

if __name__ == "__main__":
    raise SystemExit(main())
