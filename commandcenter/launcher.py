"""`python -m commandcenter.launcher run|test|prepare`: the README's one-command run and test.

run:     embedded services (unless URLs are set), models, migrations, demo users and venue, then
         web + WebSocket, stream workers, job workers and beat under honcho; Ctrl-C stops all.
test:    embedded services, models, then pytest (extra arguments go to pytest).
prepare: everything `run` does before starting the processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from commandcenter import embedded

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "commandcenter.settings")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("OPENBLAS_NUM_THREADS", "1")  # one BLAS thread per process: exact search is faster
    return env


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, str(REPO / "manage.py"), *args], env=env, cwd=REPO, check=True)


def prepare(env: dict[str, str], *, demo: bool) -> None:
    """Models, migrations, users and (optionally) the demo venue, in one process."""
    _manage(env, "prepare", *(["--demo"] if demo else []))


def _start_services(env: dict[str, str]) -> list[str]:
    env["CC_EMBEDDED_KEEP"] = "1"  # this launcher stops them itself, after its children
    started = embedded.ensure_services(env)
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ[name] = env[name]
    return started


def run() -> int:
    """Prepare, then run all processes until Ctrl-C; stop embedded servers we started."""
    env = _env()
    started = _start_services(env)
    try:
        prepare(env, demo=True)
        port = env.get("PORT", "8000")
        print(f"\n  Command center: http://127.0.0.1:{port}/   (logins: var/demo_credentials.txt)\n", flush=True)
        honcho = subprocess.Popen([str(BIN / "honcho"), "start", "-f", str(REPO / "Procfile")], env=env, cwd=REPO)
        try:
            return honcho.wait()
        except KeyboardInterrupt:
            honcho.send_signal(signal.SIGINT)
            return honcho.wait()
    finally:
        if started:
            embedded.stop_services(which=started)


def test(pytest_args: list[str]) -> int:
    """Embedded services (unless URLs are set), models, then pytest."""
    env = _env()
    started = _start_services(env)
    try:
        _manage(env, "provision_models")
        return subprocess.run([str(BIN / "pytest"), *pytest_args], env=env, cwd=REPO, check=False).returncode
    finally:
        if started:
            embedded.stop_services(which=started)


def main(argv: list[str]) -> int:
    """Dispatch the sub-command."""
    command = argv[0] if argv else "run"
    if command == "run":
        return run()
    if command == "test":
        return test(argv[1:])
    if command == "prepare":
        env = _env()
        started = _start_services(env)
        try:
            prepare(env, demo=True)
        finally:
            if started:
                embedded.stop_services(which=started)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
