"""The reference CAD receiver as a real server on loopback: once-only, auth, outage, status push."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from alerts.cad import signing
from alerts.cad.cap import to_cap_xml
from alerts.cad.eido import to_eido_json
from alerts.cad.payload import IncidentPayload, UnitStatus, parse_status_update
from tools.cad.receiver import ReceiverProcess
from tools.cad.samples import sample_payload

KEY = "cad-endpoint-key"
STATUS_KEY = "cc-inbound-key"
TIMEOUT = 5


class _Webhook(BaseHTTPRequestHandler):
    """The command center's inbound status webhook, recording what it receives."""

    received: list[tuple[dict[str, str], bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers.items()), body))
        answer = b'{"accepted": true}'
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


@pytest.fixture(scope="module")
def webhook() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    class Handler(_Webhook):
        received: list[tuple[dict[str, str], bytes]] = []

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/cad/status", Handler.received
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def receiver(webhook: tuple[str, list[Any]]) -> Iterator[ReceiverProcess]:
    process = ReceiverProcess(keys=["next-key", KEY], status_url=webhook[0], status_key=STATUS_KEY)
    with process:
        yield process


@pytest.fixture(autouse=True)
def _healthy_receiver(request: pytest.FixtureRequest) -> None:
    """Each receiver test starts with no simulated outage left over from another."""
    if "receiver" in request.fixturenames:
        receiver = request.getfixturevalue("receiver")
        requests.post(f"{receiver.url}/admin/fail?count=0", timeout=TIMEOUT).raise_for_status()


def _fresh() -> IncidentPayload:
    """A payload with its own incident id, so tests sharing the receiver stay apart."""
    return sample_payload(incident_id=str(uuid.uuid4()))


def _post(
    receiver: ReceiverProcess, payload: IncidentPayload, *, key: str = KEY, fmt: str = "eido"
) -> requests.Response:
    """Sign (fresh nonce, same idempotency key per revision) and post one incident."""
    body = to_eido_json(payload) if fmt == "eido" else to_cap_xml(payload)
    headers = signing.sign(body, key, idempotency_key=payload.idempotency_key)
    headers["Content-Type"] = "application/json" if fmt == "eido" else "application/cap+xml"
    return requests.post(receiver.incidents_url, data=body, headers=headers, timeout=TIMEOUT)


def _records(receiver: ReceiverProcess, key: str) -> list[dict[str, Any]]:
    """Stored incidents with an idempotency key."""
    listing = requests.get(receiver.incidents_url, timeout=TIMEOUT).json()
    return [r for r in listing["incidents"] if r["idempotency_key"] == key]


def test_signed_incident_is_recorded_once(receiver: ReceiverProcess) -> None:
    # given a dispatched incident
    payload = _fresh()

    # when it is delivered, then retried with a new nonce but the same idempotency key
    first = _post(receiver, payload)
    second = _post(receiver, payload)

    # then the first is created, the retry returns the original record marked duplicate
    assert first.status_code == 201
    assert second.status_code == 200
    assert first.json()["duplicate"] is False
    assert second.json() == {**first.json(), "duplicate": True}
    assert first.json()["incident_id"] == payload.incident_id
    assert first.json()["document"]["incidentComponent"]["internalIncidentId"] == payload.incident_id
    assert [r["seq"] for r in _records(receiver, payload.idempotency_key)] == [first.json()["seq"]]


def test_cap_incident_is_accepted_by_content_type(receiver: ReceiverProcess) -> None:
    payload = _fresh()
    answer = _post(receiver, payload, fmt="cap")
    assert answer.status_code == 201
    assert (answer.json()["format"], answer.json()["incident_id"]) == ("cap", payload.incident_id)


def test_bad_signature_gets_401_and_records_nothing(receiver: ReceiverProcess) -> None:
    # given an incident signed with a key the receiver does not hold
    payload = _fresh()

    # when it is delivered
    answer = _post(receiver, payload, key="stolen-or-stale-key")

    # then it is refused with the reason and nothing is stored
    assert answer.status_code == 401
    assert answer.json() == {
        "error": "bad_signature",
        "reason": "signature does not match any of 2 configured key(s)",
    }
    assert _records(receiver, payload.idempotency_key) == []


def test_replayed_request_gets_409(receiver: ReceiverProcess) -> None:
    payload = _fresh()
    body = to_eido_json(payload)
    headers = {**signing.sign(body, KEY), "Content-Type": "application/json"}
    assert requests.post(receiver.incidents_url, data=body, headers=headers, timeout=5).ok
    replay = requests.post(receiver.incidents_url, data=body, headers=headers, timeout=5)
    assert (replay.status_code, replay.json()["error"]) == (409, "replayed_nonce")


def test_invalid_document_gets_422_with_the_reason(receiver: ReceiverProcess) -> None:
    body = json.dumps({"eidoVersion": "2.0"}).encode()
    headers = {**signing.sign(body, KEY), "Content-Type": "application/json"}
    answer = requests.post(receiver.incidents_url, data=body, headers=headers, timeout=TIMEOUT)
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_document"
    assert "'$id' is a required property" in answer.json()["reason"]


def test_simulated_outage_then_recovery(receiver: ReceiverProcess) -> None:
    # given a receiver that will be down for the next two incident posts
    outage = requests.post(f"{receiver.url}/admin/fail?count=2", timeout=TIMEOUT)
    assert outage.json() == {"fail_next": 2}
    payload = _fresh()

    # when the sender retries three times
    answers = [_post(receiver, payload) for _ in range(3)]

    # then two 503s with Retry-After, then one record
    assert [a.status_code for a in answers] == [503, 503, 201]
    assert answers[0].headers["Retry-After"] == "1"
    assert answers[0].json()["error"] == "unavailable"
    assert len(_records(receiver, payload.idempotency_key)) == 1


def test_restart_keeps_records_and_port(receiver: ReceiverProcess) -> None:
    # given a delivered incident
    payload = _fresh()
    assert _post(receiver, payload).status_code == 201
    url = receiver.url

    # when the receiver is stopped, a delivery attempt fails to connect, and it comes back
    receiver.stop()
    with pytest.raises(requests.ConnectionError):
        _post(receiver, payload)
    receiver.start()

    # then it listens on the same URL and still knows the incident
    assert receiver.url == url
    assert _post(receiver, payload).status_code == 200


def test_status_push_is_signed_for_the_command_center(
    receiver: ReceiverProcess, webhook: tuple[str, list[tuple[dict[str, str], bytes]]]
) -> None:
    # given the CAD has a unit en route to an incident
    incident_id = str(uuid.uuid4())
    request = {"incident_id": incident_id, "status": "en_route", "unit": "P-12"}

    # when the receiver is told to report it
    answer = requests.post(f"{receiver.url}/admin/status", json=request, timeout=TIMEOUT)

    # then the webhook got one correctly signed request and the receiver relays its answer
    assert answer.status_code == 200
    assert answer.json()["response"] == {"status": 202, "body": '{"accepted": true}'}
    headers, body = webhook[1][-1]
    signing.verify(headers, body, STATUS_KEY, seen_nonce=signing.NonceCache())
    update = parse_status_update(body)
    assert (update.incident_id, update.status, update.unit) == (
        incident_id,
        UnitStatus.EN_ROUTE,
        "P-12",
    )
    assert headers["Idempotency-Key"] == f"{incident_id}:en_route:P-12"
    assert answer.json()["sent"] == json.loads(body)
