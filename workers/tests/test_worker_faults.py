"""Faults: bad sources keep their session up and report why; killed or stopped workers hand over.

The Celery tests run real ``celery worker`` subprocesses (prefork, one slot each) on a queue of
their own; the test itself plays beat, calling ``assign_cameras_once`` every second.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from core.redis import lease_key, redis_client
from tests.support.mjpeg_server import MjpegTestServer, jpeg_frames_from_clip, wait_until
from tests.support.rtsp_server import free_port
from tests.support.sessions import HAMILTON, health, quick_config, start_in_thread
from workers import lease as leases
from workers.assignment import assign_cameras_once
from workers.session import CameraSession

REPO = Path(__file__).resolve().parents[2]


def _camera(venue, name: str, url: str, **extra):
    from venues.models import Camera

    fields = {
        "analysis_fps": 2.0,
        "face_recognition_enabled": False,
        "crowd_enabled": False,
        "fight_enabled": False,
        "offline_after_s": 5,
    }
    fields.update(extra)
    return Camera.objects.create(venue=venue, name=name, stream_url=url, **fields)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_bad_sources_report_offline_with_their_error_while_others_keep_running(venue, sample_file, tmp_path):
    from alerts.models import Alert

    # given a healthy looping file camera and four broken ones
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(os.urandom(64 * 1024))
    mjpeg = MjpegTestServer(jpeg_frames_from_clip(sample_file(*HAMILTON), max_frames=20, width=320), fps=10)
    mjpeg.start()
    cameras = {
        "healthy": _camera(venue, "Healthy", f"file://{sample_file(*HAMILTON)}", loop_file=True),
        "missing": _camera(venue, "Missing", f"file://{tmp_path}/missing.mp4"),
        "corrupt": _camera(venue, "Corrupt", f"file://{corrupt}"),
        "refused": _camera(venue, "Refused", f"rtsp://127.0.0.1:{free_port()}/stream"),
        "stops": _camera(venue, "Stops", mjpeg.url),
    }
    sessions = {name: CameraSession(cam.pk, config=quick_config()) for name, cam in cameras.items()}
    threads = [start_in_thread(session) for session in sessions.values()]
    try:
        assert wait_until(lambda: health(cameras["stops"].pk).get("state") == "online", 10.0, 0.2)
        # when the MJPEG stream stops mid-way
        mjpeg.stop()

        # then each broken camera is offline with its own error, still owned by its session
        def state(name: str) -> str:
            return health(cameras[name].pk).get("state", "")

        broken = ["missing", "corrupt", "refused", "stops"]
        assert wait_until(lambda: all(state(name) == "offline" for name in broken), 15.0, 0.2)
        errors = {name: health(cameras[name].pk)["last_error"] for name in broken}
        assert errors["missing"].startswith("file not found")
        assert "corrupt" in errors["corrupt"] or "no decodable frames" in errors["corrupt"]
        assert errors["refused"].startswith("connection refused")
        assert errors["stops"]
        assert all(sessions[name].lease.holder() == sessions[name].lease.token for name in broken)
        assert wait_until(lambda: health(cameras["missing"].pk).get("reconnects", 0) >= 2, 10.0, 0.2)
        # and the offline alert follows after offline_after_s, while the healthy camera keeps analysing
        assert wait_until(
            lambda: Alert.objects.filter(camera=cameras["missing"], kind="camera_offline").exists(), 10.0, 0.2
        )
        healthy = health(cameras["healthy"].pk)
        assert healthy["state"] == "online"
        assert healthy["analysed_fps"] > 1.0
        assert not Alert.objects.filter(camera=cameras["healthy"]).exists()
    finally:
        for session in sessions.values():
            session.stop()
        for thread in threads:
            thread.join(15.0)
    assert not any(thread.is_alive() for thread in threads)


# --- real Celery workers ----------------------------------------------------------------------


class Workers:
    """Celery worker subprocesses on a private queue, each in its own process group."""

    def __init__(self, tmp_path: Path, queue: str) -> None:
        self.tmp_path = tmp_path
        self.queue = queue
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def env(self) -> dict[str, str]:
        db = connection.settings_dict
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        env = dict(os.environ)
        env.update(
            {
                "DATABASE_URL": f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
                "REDIS_URL": django_settings.REDIS_URL,
                "CELERY_BROKER_URL": django_settings.CELERY_BROKER_URL,
                "CC_STREAM_QUEUE": self.queue,
                "CC_LEASE_TTL_S": "6",
                "CC_HEARTBEAT_S": "1",
                "CC_START_CLAIM_S": "4",
                "DJANGO_SETTINGS_MODULE": "commandcenter.settings",
                "LOG_LEVEL": "INFO",
            }
        )
        return env

    def start(self, name: str) -> None:
        log = open(self.tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "commandcenter",
            "worker",
            "-Q",
            self.queue,
            "-n",
            f"{name}@%h",
            "--pool",
            "prefork",
            "--concurrency",
            "1",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "INFO",
        ]
        self.procs[name] = subprocess.Popen(
            command, cwd=REPO, env=self.env(), stdout=log, stderr=log, start_new_session=True
        )

    def kill(self, name: str, sig: int, *, group: bool = True) -> None:
        if group:
            os.killpg(self.procs[name].pid, sig)
        else:
            os.kill(self.procs[name].pid, sig)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


def _host_of(entry: dict) -> str:
    return str(entry.get("host", "")).split("@")[0]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_killed_worker_is_replaced_within_15s_and_sigterm_hands_over_promptly(venue, sample_file, tmp_path, settings):
    from workers.tasks import _enqueue_plain

    queue = f"streams-test-{uuid.uuid4().hex[:8]}"
    settings.CC_STREAM_QUEUE = queue
    settings.CC_START_CLAIM_S = 4.0
    camera = _camera(venue, "Looped", f"file://{sample_file(*HAMILTON)}", loop_file=True)
    client = redis_client()
    workers = Workers(tmp_path, queue)
    holders: list[tuple[float, str | None]] = []

    def beat_and_sample(seconds: float, until=None) -> bool:
        """Act as beat (every 1 s) and sample the lease holder (every 0.2 s)."""
        deadline, next_beat = time.monotonic() + seconds, 0.0
        while time.monotonic() < deadline:
            if time.monotonic() >= next_beat:
                assign_cameras_once(enqueue=_enqueue_plain, client=client, claim_s=4.0)
                next_beat = time.monotonic() + 1.0
            holders.append((time.time(), leases.lease_holder(client, camera.pk)))
            if until is not None and until():
                return True
            time.sleep(0.2)
        return until is None

    def starts() -> list[dict]:
        return [e for e in leases.session_log(client, camera.pk) if e["event"] == "start"]

    try:
        workers.start("w1")
        workers.start("w2")
        # given a session running on one of two workers
        assert beat_and_sample(40.0, until=lambda: len(starts()) == 1)
        first = _host_of(starts()[0])
        workers.start("w3")  # the spare that takes over on SIGTERM later

        # when that worker is killed with SIGKILL (no goodbye, lease left to lapse)
        killed_at = time.time()
        workers.kill(first, signal.SIGKILL)
        # then another worker runs the camera within 15 s
        assert beat_and_sample(20.0, until=lambda: len(starts()) == 2)
        second = starts()[1]
        assert _host_of(second) != first
        assert second["at"] - killed_at < 15.0
        assert second["at"] >= killed_at

        # when the worker now running it gets SIGTERM (warm shutdown of its main process)
        running = _host_of(second)
        term_at = time.time()
        workers.kill(running, signal.SIGTERM, group=False)
        # then the session stops, releases, and another worker resumes it promptly
        assert beat_and_sample(15.0, until=lambda: len(starts()) == 3)
        third = starts()[2]
        assert _host_of(third) not in {first, running}
        assert third["at"] - term_at < 6.0
        assert workers.procs[running].wait(15.0) is not None
        stop = [e for e in leases.session_log(client, camera.pk) if e["event"] == "stop"]
        assert [e["reason"] for e in stop] == ["draining"]
        assert stop[0]["at"] <= third["at"]
    finally:
        workers.stop_all()
        client.delete(queue)
        leases.clear_start_claim(client, camera.pk)
        client.delete(lease_key(camera.pk))
    # and never two: exactly three sessions ran, one after the other, and every sampled
    # lease holder is the session that was running at that moment
    log = leases.session_log(client, camera.pk)
    runs = [e for e in log if e["event"] == "start"]
    assert len(runs) == 3
    ends = [killed_at + 6.5, stop[0]["at"], float("inf")]  # a killed holder stays until its TTL
    for t, token in holders:
        owners = [r["token"] for r, end in zip(runs, ends, strict=True) if r["at"] - 0.5 <= t <= end + 0.3]
        assert token is None or token in owners, (t, token, owners)
