"""CAD dispatch throughput and delay: dispatched alerts through Celery to the reference receiver.

Run: ``.venv/bin/python bench/dispatch_throughput.py [--alerts 200] [--paced 30 --rate 5]``

Creates a throwaway database on the configured (or embedded) PostgreSQL, uses Redis database 15
for the broker, starts the reference receiver and one Celery worker (``-Q dispatch --pool solo``),
and measures, for every alert, the delay from the commit of ``alert_dispatch`` to the receiver
storing the incident. Baselines in the same run: direct signed POSTs of pre-rendered incidents
(no database, no Celery), and the delivery service called inline (database, no Celery).
Everything it starts is stopped and the database dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commandcenter.settings")

from commandcenter import embedded  # noqa: E402

KEY = "bench-dispatch-key"
BROKER_DB = 15


def _with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def create_database() -> tuple[str, str]:
    """A throwaway database next to the configured one; returns (admin URL, bench URL)."""
    import psycopg

    embedded.ensure_services()
    admin_url = os.environ["DATABASE_URL"]
    name = f"cc_bench_dispatch_{os.getpid()}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url, _with_path(admin_url, f"/{name}")


def drop_database(admin_url: str, bench_url: str) -> None:
    import psycopg

    name = urlsplit(bench_url).path.lstrip("/")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def setup_django(bench_url: str) -> None:
    os.environ["DATABASE_URL"] = bench_url
    os.environ["REDIS_URL"] = _with_path(os.environ["REDIS_URL"], f"/{BROKER_DB}")
    import django
    from django.core.management import call_command

    django.setup()
    started = time.perf_counter()
    call_command("migrate", verbosity=0, skip_checks=True)
    print(f"migrated throwaway database in {time.perf_counter() - started:.1f} s")


def start_worker(log: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "commandcenter",
        "worker",
        "-Q",
        "dispatch",
        "--pool",
        "solo",
        "-n",
        f"bench-{uuid.uuid4().hex[:6]}@%h",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-l",
        "WARNING",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=dict(os.environ), stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if b"ready" in log.read_bytes() or _worker_ping():
            return process
        time.sleep(0.2)
    process.kill()
    raise SystemExit(f"worker did not start:\n{log.read_text()[-2000:]}")


def _worker_ping() -> bool:
    from commandcenter.celery import app

    return bool(app.control.ping(timeout=0.5))


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def world(receiver_url: str):  # type: ignore[no-untyped-def]
    """Venue, camera, a dispatcher and the CAD endpoint."""
    from django.contrib.auth import get_user_model

    from alerts.models import DispatchEndpoint
    from venues.models import Camera, Venue

    venue = Venue.objects.create(
        name="Bench Arena", district="Almaly", address="1 Abay Avenue", latitude="43.238949", longitude="76.889709"
    )
    camera = Camera.objects.create(venue=venue, name="Gate 3", stream_url="rtsp://10.0.0.5:554/s")
    user = get_user_model().objects.create_user(username="bench-dispatcher", password="x" * 12)
    DispatchEndpoint.objects.create(name="Bench CAD", url=receiver_url, secret=KEY, timeout_s=5)
    return camera, user


def raise_alerts(camera, count: int) -> list:  # type: ignore[no-untyped-def]
    from alerts.services import alert_raise

    return [
        alert_raise(kind="fight", camera=camera, severity=3, score=0.9, track_key=uuid.uuid4().hex).alert
        for _ in range(count)
    ]


def dispatch_timed(alert_id: Any, user) -> float:  # type: ignore[no-untyped-def]
    """Dispatch one alert; return the wall-clock time of its commit."""
    from django.db import transaction

    from alerts.services import alert_dispatch

    committed: list[float] = []
    with transaction.atomic():
        transaction.on_commit(lambda: committed.append(time.time()))  # first: runs before the enqueue
        alert_dispatch(alert_id=alert_id, actor=user)
    return committed[0]


def receipts(receiver_url: str, after: int = 0) -> dict[str, float]:
    """Incident id -> receive time (epoch seconds) for everything the receiver stored."""
    import requests

    listing = requests.get(receiver_url, params={"after": after}, timeout=10).json()["incidents"]
    return {r["incident_id"]: datetime.fromisoformat(r["received_at"]).timestamp() for r in listing}


def wait_receipts(receiver_url: str, ids: set[str], timeout_s: float) -> dict[str, float]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = receipts(receiver_url)
        if ids <= got.keys():
            return {k: v for k, v in got.items() if k in ids}
        time.sleep(0.2)
    raise SystemExit(f"only {len(ids & receipts(receiver_url).keys())}/{len(ids)} incidents arrived")


def summary(name: str, count: int, elapsed: float, delays_ms: list[float]) -> None:
    delays = sorted(delays_ms)
    p50 = statistics.median(delays)
    p95 = delays[min(len(delays) - 1, round(0.95 * (len(delays) - 1)))]
    print(f"{name:<44} {count:>5} {count / elapsed:>10.1f} {p50:>10.1f} {p95:>10.1f}")


def baseline_direct(receiver_url: str, count: int) -> None:
    """Signed POSTs of pre-rendered EIDO incidents, one after another: the receiver's own ceiling."""
    import requests

    from alerts.cad import signing
    from alerts.cad.eido import to_eido_json
    from tools.cad.samples import sample_payload

    bodies = [
        (p.idempotency_key, to_eido_json(p))
        for p in (sample_payload(incident_id=str(uuid.uuid4())) for _ in range(count))
    ]
    session, delays = requests.Session(), []
    started = time.perf_counter()
    for key, body in bodies:
        t0 = time.perf_counter()
        headers = {**signing.sign(body, KEY, idempotency_key=key), "Content-Type": "application/json"}
        session.post(receiver_url, data=body, headers=headers, timeout=5).raise_for_status()
        delays.append((time.perf_counter() - t0) * 1000)
    summary("direct signed POST (no DB, no Celery)", count, time.perf_counter() - started, delays)


def baseline_inline(camera, user, receiver_url: str, count: int) -> None:  # type: ignore[no-untyped-def]
    """Dispatch, then the delivery service inline in this process: database + HTTP, no broker."""
    from unittest import mock

    from alerts.dispatch import outbound
    from alerts.models import Delivery

    alerts = raise_alerts(camera, count)
    commits: dict[str, float] = {}
    dispatch_ms, attempt_ms = [], []
    started = time.perf_counter()
    with mock.patch.object(outbound, "delivery_enqueue"):  # no broker: attempt right here
        for alert in alerts:
            t0 = time.perf_counter()
            commits[str(alert.pk)] = dispatch_timed(alert.pk, user)
            t1 = time.perf_counter()
            outbound.delivery_attempt(delivery_id=Delivery.objects.get(alert=alert).pk)
            dispatch_ms.append((t1 - t0) * 1000)
            attempt_ms.append((time.perf_counter() - t1) * 1000)
    elapsed = time.perf_counter() - started
    print(
        f"  (inline: alert_dispatch incl. outbox row {statistics.median(dispatch_ms):.1f} ms median, "
        f"one delivery attempt {statistics.median(attempt_ms):.1f} ms median)"
    )
    got = wait_receipts(receiver_url, set(commits), 30)
    summary("inline service (DB + HTTP, no Celery)", count, elapsed, [(got[i] - commits[i]) * 1000 for i in commits])


def celery_run(camera, user, receiver_url: str, count: int, rate: float | None) -> None:  # type: ignore[no-untyped-def]
    """Dispatch `count` alerts (a burst, or paced at `rate` per second); the worker delivers."""
    alerts = raise_alerts(camera, count)
    commits: dict[str, float] = {}
    started = time.time()
    for alert in alerts:
        commits[str(alert.pk)] = dispatch_timed(alert.pk, user)
        if rate:
            time.sleep(max(0.0, 1.0 / rate - (time.time() - commits[str(alert.pk)])))
    got = wait_receipts(receiver_url, set(commits), 120)
    elapsed = max(got.values()) - started
    label = f"Celery worker, paced {rate:g}/s" if rate else "Celery worker, burst"
    summary(label, count, elapsed, [(got[i] - commits[i]) * 1000 for i in commits])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=200, help="alerts in the burst runs")
    parser.add_argument("--paced", type=int, default=30, help="alerts in the paced run")
    parser.add_argument("--rate", type=float, default=5.0, help="dispatches per second in the paced run")
    args = parser.parse_args()

    from tools.cad.receiver import ReceiverProcess

    admin_url, bench_url = create_database()
    worker = None
    try:
        setup_django(bench_url)
        with ReceiverProcess(keys=[KEY]) as receiver:
            camera, user = world(receiver.incidents_url)
            log = Path(receiver.workdir) / "worker.log"
            print(f"{'run':<44} {'n':>5} {'per s':>10} {'p50 ms':>10} {'p95 ms':>10}")
            baseline_direct(receiver.incidents_url, args.alerts)
            baseline_inline(camera, user, receiver.incidents_url, args.alerts)
            worker = start_worker(log)
            celery_run(camera, user, receiver.incidents_url, args.alerts, None)
            celery_run(camera, user, receiver.incidents_url, args.paced, args.rate)
            print("delay = commit of alert_dispatch -> incident stored by the receiver (same host clock)")
    finally:
        if worker is not None:
            stop(worker)
        from django.db import connections

        connections.close_all()
        _flush_broker()
        drop_database(admin_url, bench_url)
    return 0


def _flush_broker() -> None:
    """Empty the bench's own Redis database (left-over retry messages, channel groups)."""
    import redis

    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()


if __name__ == "__main__":
    raise SystemExit(main())
