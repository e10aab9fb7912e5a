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


def _start_services(env: dict[str, str]) -> None:
    """Embedded servers for URLs left unset; this launcher is their user on behalf of all its children.

    The children inherit the URLs (so they start and count nothing); the servers stop when the launcher
    exits unless another process (a `manage.py` command in another shell) still uses them.
    """
    embedded.ensure_services(env)
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ[name] = env[name]


def pin_web_port(env: dict[str, str]) -> str:
    """The web port (PORT, default 8000), pinned as CC_WEB_PORT: honcho overwrites PORT in each child."""
    port = env.get("CC_WEB_PORT") or env.get("PORT") or "8000"
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise SystemExit(f"PORT must be a port number, got {port!r}")
    env["CC_WEB_PORT"] = port
    return port


def web_url(env: dict[str, str]) -> str:
    """The address a browser on this machine opens: the bound host and the pinned port."""
    host = env.get("CC_BIND", "").strip() or "127.0.0.1"
    if host in {"0.0.0.0", "::", "[::]"}:  # noqa: S104 (bound to all interfaces: this machine answers on loopback)
        host = "127.0.0.1"
    return f"http://{host}:{pin_web_port(env)}/"


def honcho_command(*processes: str) -> list[str]:
    """Honcho running the Procfile's processes (all unless some are named)."""
    return [str(BIN / "honcho"), "start", "-f", str(REPO / "Procfile"), *processes]


def run() -> int:
    """Prepare, then run all processes until Ctrl-C (the embedded servers stop with the last user)."""
    env = _env()
    _start_services(env)
    url = web_url(env)
    prepare(env, demo=True)
    print(f"\n  Command center: {url}   (logins: var/demo_credentials.txt)\n", flush=True)
    honcho = subprocess.Popen(honcho_command(), env=env, cwd=REPO)
    try:
        return honcho.wait()
    except KeyboardInterrupt:
        honcho.send_signal(signal.SIGINT)
        return honcho.wait()


def test(pytest_args: list[str]) -> int:
    """Embedded services (unless URLs are set), models, then pytest."""
    env = _env()
    _start_services(env)
    _manage(env, "provision_models")
    return subprocess.run([str(BIN / "pytest"), *pytest_args], env=env, cwd=REPO, check=False).returncode


def main(argv: list[str]) -> int:
    """Dispatch the sub-command."""
    command = argv[0] if argv else "run"
    if command == "run":
        return run()
    if command == "test":
        return test(argv[1:])
    if command == "prepare":
        env = _env()
        _start_services(env)
        prepare(env, demo=True)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
