"""GET /api/alerts/ on 100,000 alerts: req/s and p95 of first page, dashboard sort, filters, deep page, cursor.

Run: `.venv/bin/python bench/api_alerts.py [--alerts 100000] [--requests 100]`. Creates a throwaway
database on the configured (or embedded) PostgreSQL, bulk-inserts the alerts, then times requests
through Django's test client in this process (no network: the figures are Django + DRF +
PostgreSQL). Baselines in the same run: page 1 vs a deep page, indexed `-raised_at` order vs the
dashboard's `-severity,-raised_at` order, and a cursor read near the head vs far behind. The
database is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from datetime import timedelta

from ws_fanout import django_on, throwaway_database


def insert_alerts(total: int) -> tuple[object, list[object]]:
    """A dispatcher who sees all venues, 10 venues with 2 cameras each, `total` alerts over 90 days."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.utils import timezone

    from alerts.models import Alert
    from venues.models import Camera, OperatorScope, Venue

    user = get_user_model().objects.create_user(username="bench-dispatcher", password=None)
    user.groups.add(Group.objects.get(name="dispatcher"))
    OperatorScope.objects.create(user=user, all_venues=True)
    venues = [Venue.objects.create(name=f"Venue {i}") for i in range(10)]
    cameras = [
        Camera.objects.create(venue=v, name=f"Cam {j}", stream_url="rtsp://127.0.0.1/x")
        for v in venues
        for j in range(2)
    ]
    rng, now = random.Random(6), timezone.now()
    kinds = ["fight", "aggression", "crowd", "camera_offline"]
    started = time.perf_counter()
    for offset in range(0, total, 5000):
        batch = []
        for _ in range(min(5000, total - offset)):
            camera = rng.choice(cameras)
            raised = now - timedelta(seconds=rng.uniform(0, 90 * 86400))
            resolved = rng.random() < 0.9
            batch.append(
                Alert(
                    kind=rng.choice(kinds),
                    camera=camera,
                    venue_id=camera.venue_id,
                    severity=rng.randint(1, 4),
                    score=round(rng.random(), 3),
                    status="resolved" if resolved else rng.choice(["new", "acknowledged"]),
                    resolved_at=raised + timedelta(minutes=5) if resolved else None,
                    raised_at=raised,
                    last_seen_at=raised,
                )
            )
        Alert.objects.bulk_create(batch)
    print(f"inserted {total} alerts in {time.perf_counter() - started:.1f} s")
    return user, venues


def measure(client: object, url: str, requests: int) -> tuple[float, float, float]:
    """(req/s, p50 ms, p95 ms) of `requests` sequential GETs after 3 warm-ups."""
    for _ in range(3):
        _get(client, url)
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        _get(client, url)
        times.append((time.perf_counter() - start) * 1000)
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    return requests / (sum(times) / 1000), cuts[49], cuts[94]


def _get(client: object, url: str) -> None:
    response = client.get(url)  # type: ignore[attr-defined]
    if response.status_code != 200:
        raise RuntimeError(f"{url}: HTTP {response.status_code}")


def scenarios(venue_id: object, head: int) -> list[tuple[str, str]]:
    return [
        ("page 1, -raised_at (indexed)", "/api/alerts/?page=1"),
        ("page 1000 (offset 49,950), baseline", "/api/alerts/?page=1000"),
        ("page 1, dashboard sort -severity,-raised_at", "/api/alerts/?page=1&ordering=-severity,-raised_at"),
        ("filtered: open at one venue", f"/api/alerts/?open=true&venue={venue_id}"),
        ("filtered: kind=fight, severity>=3", "/api/alerts/?kind=fight&min_severity=3"),
        ("cursor ?after=head-20 (catch-up)", f"/api/alerts/?after={head - 20}"),
        ("cursor ?after=head-50000 (500 rows), baseline", f"/api/alerts/?after={head - 50000}"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    with throwaway_database(f"cc_bench_api_{os.getpid()}") as url:
        django_on(url, redis_db=8)
        from django.db import connection, connections
        from django.db.models import Max
        from django.test import Client

        from alerts.models import Alert

        user, venues = insert_alerts(args.alerts)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE alerts_alert")
        head = Alert.objects.aggregate(m=Max("change_seq"))["m"]
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
        print(f"\n{'scenario':<48} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8}")
        for label, path in scenarios(venues[0].pk, head):
            rate, p50, p95 = measure(client, path, args.requests)
            print(f"{label:<48} {rate:>7.1f} {p50:>8.1f} {p95:>8.1f}")
        connections.close_all()


if __name__ == "__main__":
    main()
