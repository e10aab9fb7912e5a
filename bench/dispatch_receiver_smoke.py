"""Smoke run of CAD delivery against the reference receiver on loopback.

Run: ``.venv/bin/python bench/dispatch_receiver_smoke.py [--count 200]``.
Starts ``tools.cad.receiver`` as a subprocess, delivers signed EIDO and CAP incidents
(with a simulated outage and retries), checks each is stored exactly once, prints latency.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from alerts.cad import signing  # noqa: E402
from alerts.cad.cap import to_cap_xml  # noqa: E402
from alerts.cad.eido import to_eido_json  # noqa: E402
from alerts.cad.payload import IncidentPayload  # noqa: E402
from tools.cad.receiver import ReceiverProcess  # noqa: E402
from tools.cad.samples import sample_payload  # noqa: E402

KEY = "bench-key"


def deliver(session: requests.Session, url: str, payload: IncidentPayload, fmt: str) -> int:
    """Sign and post one attempt; return the HTTP status."""
    body = to_eido_json(payload) if fmt == "eido" else to_cap_xml(payload)
    headers = signing.sign(body, KEY, idempotency_key=payload.idempotency_key)
    headers["Content-Type"] = "application/json" if fmt == "eido" else "application/cap+xml"
    return session.post(url, data=body, headers=headers, timeout=5).status_code


def deliver_with_retry(session: requests.Session, url: str, payload: IncidentPayload) -> int:
    """Retry 503s a few times, as the Celery task would (without the back-off sleep)."""
    for _ in range(5):
        status = deliver(session, url, payload, "eido")
        if status != 503:
            return status
    return 503


def main() -> int:
    """Deliver, measure, check exactly-once storage."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200, choices=range(1, 5001), metavar="1..5000")
    args = parser.parse_args()
    with ReceiverProcess(keys=[KEY]) as receiver, requests.Session() as session:
        payloads = [sample_payload(incident_id=str(uuid.uuid4())) for _ in range(args.count)]
        latencies = []
        started = time.perf_counter()
        for index, payload in enumerate(payloads):
            t0 = time.perf_counter()
            status = deliver(session, receiver.incidents_url, payload, "eido" if index % 2 else "cap")
            latencies.append(time.perf_counter() - t0)
            assert status == 201, status
        elapsed = time.perf_counter() - started
        session.post(f"{receiver.url}/admin/fail?count=3", timeout=5)
        retried = deliver_with_retry(session, receiver.incidents_url, payloads[1])
        stored = session.get(receiver.incidents_url, timeout=5).json()["count"]
    ms = sorted(x * 1000 for x in latencies)
    print(f"delivered: {args.count} in {elapsed:.2f} s ({args.count / elapsed:.0f}/s)")
    print(f"latency ms: p50 {statistics.median(ms):.1f}  p95 {ms[int(0.95 * len(ms)) - 1]:.1f}")
    print(f"after outage of 3: retry answered {retried} (200 = duplicate of the stored one)")
    print(f"stored: {stored} (expected {args.count})")
    return 0 if stored == args.count and retried == 200 else 1


if __name__ == "__main__":
    raise SystemExit(main())
