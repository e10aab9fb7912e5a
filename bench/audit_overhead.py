"""Cost of auditing: a subject detail request with and without its audit write (same run,
interleaved), and chain verification speed over N chained rows (default 1,000,000).

Runs in a throwaway database created next to DATABASE_URL's (embedded PostgreSQL when unset) and
dropped at the end. Usage: python bench/audit_overhead.py [--rows 1000000] [--requests 400]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _common import bench_subject  # noqa: E402


def _throwaway_url() -> tuple[str, str, str]:
    from commandcenter import embedded

    embedded.ensure_services()
    base = os.environ["DATABASE_URL"]
    name = f"cc_bench_{os.getpid()}"
    parts = urlsplit(base)
    return base, urlunsplit(parts._replace(path=f"/{name}")), name


def _admin_sql(base_url: str, statement: str) -> None:
    import psycopg

    parts = urlsplit(base_url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(statement)


def _request_overhead(requests: int) -> None:
    from django.contrib.auth.models import Group, User
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    admin = User.objects.create_user(username="bench-admin", password="x" * 12)
    admin.groups.add(Group.objects.get(name="admin"))
    subject = bench_subject(admin, "Bench Subject", threshold=0.95, days=30)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=admin).key}")
    url = f"/api/subjects/{subject.pk}/"
    for _ in range(20):  # warm up
        assert client.get(url).status_code == 200
    audited: list[float] = []
    silent: list[float] = []
    for block in range(requests // 20):
        for timings, patch in (
            ((audited, False), (silent, True)) if block % 2 == 0 else ((silent, True), (audited, False))
        ):
            with mock.patch("watchlists.selectors.access_record") if patch else _null():
                for _ in range(10):
                    started = time.perf_counter()
                    assert client.get(url).status_code == 200
                    timings.append(time.perf_counter() - started)
    a, s = statistics.median(audited), statistics.median(silent)
    print(
        f"subject detail: {len(audited)} audited requests median {a * 1000:.2f} ms, "
        f"{len(silent)} without audit write median {s * 1000:.2f} ms; ratio {a / s:.3f} "
        f"(audit adds {(a - s) * 1000:.2f} ms)"
    )


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: object) -> None:
        return None


def _bulk_rows(rows: int) -> float:
    from django.db import connection

    from audit.services import GENESIS_HASH, chain_hash

    started = time.perf_counter()
    start_at = datetime(2026, 1, 1, tzinfo=UTC)
    with connection.cursor() as cursor:
        cursor.execute("SET cc.audit_truncate = 'on'")
        cursor.execute("TRUNCATE audit_accessevent")
        cursor.execute("SET cc.audit_truncate = 'off'")
        raw = cursor.connection
        prev = GENESIS_HASH
        columns = (
            "id, at, user_id, username, role, action, object_type, object_id, purpose, ip, user_agent, "
            "detail, prev_hash, hash"
        )
        with raw.cursor().copy(f"COPY audit_accessevent ({columns}) FROM STDIN") as copy:
            for i in range(1, rows + 1):
                at = start_at + timedelta(microseconds=i * 1000)
                payload = {
                    "id": i,
                    "at": at.isoformat(timespec="microseconds"),
                    "user_id": 7,
                    "username": "dispatcher1",
                    "role": "dispatcher",
                    "action": "view",
                    "object_type": "watchlists.subject",
                    "object_id": f"s{i % 5000}",
                    "purpose": "",
                    "ip": "10.0.0.8",
                    "user_agent": "bench",
                    "detail": {},
                }
                digest = chain_hash(prev, payload)
                copy.write_row(
                    (
                        i,
                        at,
                        7,
                        "dispatcher1",
                        "dispatcher",
                        "view",
                        "watchlists.subject",
                        f"s{i % 5000}",
                        "",
                        "10.0.0.8",
                        "bench",
                        "{}",
                        prev,
                        digest,
                    )
                )
                prev = digest
        cursor.execute("SELECT setval(pg_get_serial_sequence('audit_accessevent', 'id'), %s)", [rows])
        cursor.execute("ANALYZE audit_accessevent")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    base, url, name = _throwaway_url()
    _admin_sql(base, f'CREATE DATABASE "{name}"')
    try:
        os.environ["DATABASE_URL"] = url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commandcenter.settings")
        os.environ["ALLOWED_HOSTS"] = "testserver,localhost"
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        _request_overhead(args.requests)
        seconds = _bulk_rows(args.rows)
        print(f"bulk insert: {args.rows} chained rows (hashes in Python + COPY) in {seconds:.1f} s")
        from audit.services import chain_verify

        started = time.perf_counter()
        report = chain_verify()
        elapsed = time.perf_counter() - started
        assert report.ok, report
        assert report.rows_checked == args.rows, report
        rate = report.rows_checked / elapsed
        print(f"chain_verify: {report.rows_checked} rows in {elapsed:.1f} s = {rate:,.0f} rows/s")
    finally:
        from django.db import connections

        connections.close_all()
        _admin_sql(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
