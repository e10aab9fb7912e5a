"""WebSocket fan-out: committed -> received latency, lost pushes and web RSS at 1/50/200/500 sockets.

Run: `.venv/bin/python bench/ws_fanout.py [--levels 1,50,200,500] [--alerts 20] [--servers uvicorn-2,daphne]`.
Creates a throwaway database on the configured (or embedded) PostgreSQL, migrates it, starts each ASGI
server in turn on a free port (the first listed is the shipped one, the others its baselines), opens N
logged-in sockets (one session cookie each), raises alerts through `alerts.services` in this process and
times each push from the commit to its arrival on every socket. 1 socket is the baseline level. The
database is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commandcenter.settings")


# --- throwaway database ---------------------------------------------------------------------------


@contextlib.contextmanager
def throwaway_database(name: str) -> Iterator[str]:
    """Create database `name` next to the configured one, yield its URL, drop it afterwards."""
    import psycopg

    from commandcenter import embedded

    embedded.ensure_services()
    base = urlsplit(os.environ["DATABASE_URL"])
    admin_url = base._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base._replace(path="/" + name).geturl()
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def django_on(database_url: str, redis_db: int) -> None:
    """Point this process at the throwaway database and a separate Redis db, then migrate."""
    os.environ["DATABASE_URL"] = database_url
    redis = urlsplit(os.environ["REDIS_URL"])
    os.environ["REDIS_URL"] = redis._replace(path=f"/{redis_db}").geturl()
    import django
    from django.core.management import call_command

    django.setup()
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(f"migrated throwaway database in {time.perf_counter() - started:.1f} s")


# --- a minimal WebSocket client (text frames in, pong out) ------------------------------------------


class Socket:
    """One client connection; records the arrival time of each alert id."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.arrivals: dict[str, float] = {}

    @classmethod
    async def open(cls, port: int, session_key: str, cookie_name: str) -> Socket:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**20)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET /ws/alerts/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Origin: http://127.0.0.1:{port}\r\nCookie: {cookie_name}={session_key}\r\n\r\n"
            ).encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(head.decode(errors="replace"))
        return cls(reader, writer)

    async def read_forever(self) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                opcode, payload = await self._frame()
                if opcode == 0x1:
                    self._on_text(payload)
                elif opcode == 0x9:
                    self._send(0xA, payload)
                elif opcode == 0x8:
                    return

    def _on_text(self, payload: bytes) -> None:
        message = json.loads(payload)
        if message.get("type") == "alert.changed":
            self.arrivals.setdefault(message["id"], time.time())

    async def _frame(self) -> tuple[int, bytes]:
        first, second = await self.reader.readexactly(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
        return first & 0x0F, await self.reader.readexactly(length)

    def _send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)

    def close(self) -> None:
        self.writer.close()


# --- server, users, alerts ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SERVERS = {
    "daphne": ["-m", "daphne", "-b", "127.0.0.1", "-p", "{port}", "commandcenter.asgi:application"],
    "uvicorn": [
        "-m", "uvicorn", "commandcenter.asgi:application", "--host", "127.0.0.1", "--port", "{port}",
        "--loop", "uvloop", "--http", "httptools", "--ws", "websockets-sansio", "--lifespan", "off",
        "--log-level", "warning", "--no-access-log", "--workers", "{workers}",
    ],
}  # fmt: skip


def start_server(kind: str, port: int) -> subprocess.Popen[bytes]:
    """Start ``kind`` (daphne, or uvicorn / uvicorn-N with N worker processes) on ``port``; wait until it listens."""
    env = {**os.environ, "ALLOWED_HOSTS": "127.0.0.1,localhost", "LOG_LEVEL": "WARNING"}
    name, _, workers = kind.partition("-")
    parts = (part.replace("{port}", str(port)).replace("{workers}", workers or "1") for part in SERVERS[name])
    argv = [sys.executable, *parts]
    process = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{kind} did not start")


def make_fixtures(sessions: int) -> tuple[object, list[str]]:
    """A camera, and `sessions` logged-in sessions of one dispatcher who sees all venues."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.contrib.sessions.backends.db import SessionStore

    from venues.models import Camera, OperatorScope, Venue

    user = get_user_model().objects.create_user(username="bench-dispatcher", password=None)
    user.groups.add(Group.objects.get(name="dispatcher"))
    OperatorScope.objects.create(user=user, all_venues=True)
    venue = Venue.objects.create(name="Bench venue")
    camera = Camera.objects.create(venue=venue, name="Bench camera", stream_url="rtsp://127.0.0.1/bench")
    keys = []
    for _ in range(sessions):
        store = SessionStore()
        store["_auth_user_id"] = str(user.pk)
        store["_auth_user_backend"] = settings.AUTHENTICATION_BACKENDS[0]
        store["_auth_user_hash"] = user.get_session_auth_hash()
        store.create()
        keys.append(store.session_key)
    return camera, keys


def raise_and_stamp(camera: object, number: int) -> tuple[str, float]:
    """Raise one alert; the stamp is taken in an on-commit hook that runs before the push."""
    from django.db import transaction

    from alerts import services

    stamp: list[float] = []
    with transaction.atomic():
        transaction.on_commit(lambda: stamp.append(time.time()))
        result = services.alert_raise(
            kind="fight",
            camera=camera,
            severity=3,
            score=0.5,  # type: ignore[arg-type]
            track_key=f"bench-{number}-{time.time_ns()}",
        )
    return str(result.alert.pk), stamp[0]


# --- one level -----------------------------------------------------------------------------------------


async def run_level(port: int, keys: list[str], camera: object, alerts: int, pid: int) -> dict[str, float]:
    import psutil
    from django.conf import settings

    limit = asyncio.Semaphore(50)

    async def connect(key: str) -> Socket:
        async with limit:
            return await Socket.open(port, key, settings.SESSION_COOKIE_NAME)

    sockets = await asyncio.gather(*(connect(k) for k in keys))
    readers = [asyncio.create_task(s.read_forever()) for s in sockets]
    await asyncio.sleep(1.0)  # all consumers joined their groups
    parent, client = psutil.Process(pid), psutil.Process()
    servers = [parent, *parent.children(recursive=True)]  # uvicorn --workers N forks N children

    def server_cpu_s() -> float:
        return sum(sum(process.cpu_times()[:2]) for process in servers)

    rss_mb = sum(process.memory_info().rss for process in servers) / 2**20
    loop = asyncio.get_running_loop()
    commits: dict[str, float] = {}
    cpu_server, cpu_client, wall = server_cpu_s(), sum(client.cpu_times()[:2]), time.monotonic()
    for number in range(alerts):
        alert_id, committed = await loop.run_in_executor(None, raise_and_stamp, camera, number)
        commits[alert_id] = committed
        await asyncio.sleep(0.1)
    deadline = time.monotonic() + 10.0  # later than this counts as lost
    while time.monotonic() < deadline and any(len(s.arrivals) < len(commits) for s in sockets):
        await asyncio.sleep(0.1)
    wall = time.monotonic() - wall
    server_cpu = (server_cpu_s() - cpu_server) / wall * 100
    client_cpu = (sum(client.cpu_times()[:2]) - cpu_client) / wall * 100
    latencies = [(s.arrivals[a] - t) * 1000 for s in sockets for a, t in commits.items() if a in s.arrivals]
    for s in sockets:
        s.close()
    for task in readers:
        task.cancel()
    expected = len(sockets) * len(commits)
    return {
        "sockets": len(sockets),
        "p50": _quantile(latencies, 0.5),
        "p95": _quantile(latencies, 0.95),
        "max": max(latencies, default=0.0),
        "lost": expected - len(latencies),
        "expected": expected,
        "rss_mb": rss_mb,
        "server_cpu": server_cpu,
        "client_cpu": client_cpu,
    }


def _quantile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def run_server(kind: str, levels: list[int], camera: object, keys: list[str], alerts: int) -> list[dict[str, float]]:
    """All levels against one server process."""
    from django.db import connections

    port = free_port()
    server = start_server(kind, port)
    try:
        return [asyncio.run(run_level(port, keys[:n], camera, alerts, server.pid)) for n in levels]
    finally:
        server.terminate()
        server.wait(timeout=20)
        connections.close_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="1,50,200,500")
    parser.add_argument("--alerts", type=int, default=20, help="alerts raised per level")
    parser.add_argument("--servers", default="uvicorn-2,daphne", help="ASGI servers to compare (first = shipped)")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    servers = [kind for kind in args.servers.split(",") if kind]
    results: dict[str, list[dict[str, float]]] = {}
    with throwaway_database(f"cc_bench_ws_{os.getpid()}") as url:
        django_on(url, redis_db=7)
        camera, keys = make_fixtures(max(levels))
        from django.db import connections

        connections.close_all()
        for kind in servers:
            results[kind] = run_server(kind, levels, camera, keys, args.alerts)
    print(
        f"\n{'server':>8} {'sockets':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'lost':>10} {'web RSS MB':>11}"
        f" {'web CPU':>8} {'clients CPU':>12}"
    )
    for kind, rows in results.items():
        for r in rows:
            print(
                f"{kind:>8} {r['sockets']:>8} {r['p50']:>8.1f} {r['p95']:>8.1f} {r['max']:>8.1f} "
                f"{int(r['lost']):>4}/{int(r['expected']):<5} {r['rss_mb']:>11.1f}"
                f" {r['server_cpu']:>7.0f}% {r['client_cpu']:>11.0f}%"
            )
    print("CPU: share of one core while alerts were raised and delivered (the clients and the alert writer share")
    print("this process; on a real deployment the 500 dashboards run on 500 other machines)")
    for kind, rows in results.items():
        base = rows[0]
        for r in rows[1:]:
            print(
                f"{kind}: {r['sockets']} sockets vs {base['sockets']}: p95 x{r['p95'] / base['p95']:.1f}, "
                f"RSS +{r['rss_mb'] - base['rss_mb']:.1f} MB"
            )
    if len(results) > 1:
        first, *others = servers
        for other in others:
            for mine, theirs in zip(results[first], results[other], strict=True):
                ratio = mine["p95"] / max(theirs["p95"], 1e-9)
                print(f"{mine['sockets']} sockets: {first} p95 / {other} p95 = {ratio:.2f}")


if __name__ == "__main__":
    main()
