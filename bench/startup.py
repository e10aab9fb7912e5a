"""Time from the run command to a served login page, and the memory of each process.

Runs `python -m commandcenter.launcher run` twice on a private var/ folder and free ports: the first
run initialises the embedded PostgreSQL (cold data folder), the second is a restart on a warm machine.
Baseline in the same run: a bare uvicorn process serving the login page with the services already up.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable
sys.path.insert(0, str(REPO))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, timeout: float) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback only)
                if response.status == 200:
                    return time.perf_counter() - started
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(url)


def tree_memory(root: psutil.Process) -> dict[str, float]:
    sizes: dict[str, float] = {}
    for proc in [root, *root.children(recursive=True)]:
        try:
            cmd = " ".join(proc.cmdline())
            rss = proc.memory_info().rss / 2**20
        except psutil.Error:
            continue
        name = (
            "streams worker"
            if "-Q streams" in cmd
            else "jobs worker"
            if "-Q default" in cmd
            else "beat"
            if " beat" in cmd
            else "web (uvicorn, all workers)"
            if "uvicorn" in cmd or "multiprocessing.spawn" in cmd
            else "postgres"
            if "postgres" in cmd
            else "redis"
            if "redis-server" in cmd
            else "launcher/honcho"
        )
        sizes[name] = sizes.get(name, 0.0) + rss
    return sizes


def run_once(env: dict[str, str], port: int) -> tuple[float, dict[str, float]]:
    started = time.perf_counter()
    proc = subprocess.Popen(
        [PY, "-m", "commandcenter.launcher", "run"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/login/", 300)
        elapsed = time.perf_counter() - started
        time.sleep(8)  # let the workers load their models
        memory = tree_memory(psutil.Process(proc.pid))
        for server in psutil.process_iter(["cmdline"]):
            cmd = " ".join(server.info["cmdline"] or [])
            if env["CC_VAR_DIR"] in cmd:
                name = "postgres" if "postgres" in cmd else "redis" if "redis" in cmd else None
                if name:
                    memory[name] = memory.get(name, 0.0) + server.memory_info().rss / 2**20
        return elapsed, memory
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=60)


def baseline(env: dict[str, str]) -> float:
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(Path(PY).parent / "uvicorn"), "--port", str(port), "--lifespan", "off", "commandcenter.asgi:application"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/login/", 120)
        return time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="cc-startup-") as var:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
        env.update(
            CC_VAR_DIR=var,
            PORT=str(port),
            CC_EMBEDDED_PG_PORT=str(free_port()),
            CC_EMBEDDED_REDIS_PORT=str(free_port()),
            DEEPFACE_HOME=str(REPO / "var" / "deepface"),
        )
        cold, _ = run_once(env, port)
        warm, memory = run_once(env, port)
        from commandcenter import embedded

        config = embedded.EmbeddedConfig.from_env(env)
        services_env = dict(env, CC_EMBEDDED_KEEP="1")
        embedded.ensure_services(services_env)
        try:
            bare = baseline(services_env)
        finally:
            embedded.stop_services(config)
    print(f"run command -> login page served, fresh var/ (initdb, migrate, demo): {cold:6.1f} s")
    print(f"run command -> login page served, warm restart:                      {warm:6.1f} s")
    print(
        f"baseline: bare uvicorn with services up:                             {bare:6.1f} s "
        f"(warm run = {warm / bare:.1f}x baseline)"
    )
    print("resident memory per process (MiB, after workers loaded):")
    for name, mib in sorted(memory.items()):
        print(f"  {name:<28} {mib:8.1f}")
    print(f"  {'total':<28} {sum(memory.values()):8.1f}")


if __name__ == "__main__":
    main()
