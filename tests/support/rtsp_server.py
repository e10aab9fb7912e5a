"""A real RTSP server on loopback for tests, run as a subprocess of Debian's python3 + GStreamer."""

from __future__ import annotations

import functools
import logging
import selectors
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

logger = logging.getLogger(__name__)

SYSTEM_PYTHON = Path("/usr/bin/python3")
SERVE_SCRIPT = Path(__file__).with_name("gst_rtsp_serve.py")
APT_PACKAGES = (
    "python3-gi",
    "gir1.2-gstreamer-1.0",
    "gir1.2-gst-plugins-base-1.0",
    "gir1.2-gst-rtsp-server-1.0",
    "gstreamer1.0-plugins-base",
    "gstreamer1.0-plugins-good",
    "gstreamer1.0-plugins-bad",
)
REQUIRED_ELEMENTS = ("qtdemux", "h264parse", "rtph264pay", "h265parse", "rtph265pay")
_PROBE = (
    "import gi\n"
    "gi.require_version('Gst', '1.0')\n"
    "gi.require_version('GstRtspServer', '1.0')\n"
    "from gi.repository import Gst, GstRtspServer\n"
    "Gst.init(None)\n"
    "missing = [e for e in {elements!r} if Gst.ElementFactory.find(e) is None]\n"
    "print('MISSING ' + ' '.join(missing) if missing else 'OK')\n"
)


class RtspServerError(RuntimeError):
    """The test RTSP server could not be started."""


@functools.cache
def ensure_rtsp_server_available() -> str | None:
    """Return why the RTSP test server cannot run here, or None when it can."""
    install = "apt-get install -y " + " ".join(APT_PACKAGES)
    if not SYSTEM_PYTHON.exists():
        return f"{SYSTEM_PYTHON} not found; install python3 and: {install}"
    probe = _PROBE.format(elements=REQUIRED_ELEMENTS)
    try:
        result = subprocess.run(
            [str(SYSTEM_PYTHON), "-c", probe],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run {SYSTEM_PYTHON}: {exc}"
    output = result.stdout.strip()
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["unknown error"])[-1]
        return f"GStreamer RTSP server not usable ({last}); {install}"
    if output != "OK":
        return f"GStreamer elements {output.removeprefix('MISSING ')} missing; {install}"
    return None


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RtspTestServer:
    """Serves one H.264/H.265 mp4/mkv file at rtsp://127.0.0.1:<port>/<mount>; restartable."""

    def __init__(
        self,
        media: Path,
        *,
        port: int = 0,
        mount: str = "/stream",
        codec: str = "h264",
        start_timeout_s: float = 15.0,
    ) -> None:
        self.media = media
        self.port = port
        self.mount = mount if mount.startswith("/") else f"/{mount}"
        self.codec = codec
        self.start_timeout_s = start_timeout_s
        self._process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        """The RTSP URL clients open (valid once started)."""
        return f"rtsp://127.0.0.1:{self.port}{self.mount}"

    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the server (on the same port as before after a stop) and wait until it listens."""
        if self.running:
            return
        reason = ensure_rtsp_server_available()
        if reason is not None:
            raise RtspServerError(reason)
        deadline = time.monotonic() + self.start_timeout_s
        while True:
            try:
                self._spawn(deadline)
                return
            except RtspServerError:
                if self.port == 0 or time.monotonic() >= deadline:
                    raise
                time.sleep(0.2)  # port still held by the previous process; retry

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and wait for the process to exit."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        if process.stdout is not None:
            process.stdout.close()
        logger.debug("rtsp test server on port %s stopped", self.port)

    def restart(self) -> None:
        """Stop and start again on the same port."""
        self.stop()
        self.start()

    def __enter__(self) -> RtspTestServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _spawn(self, deadline: float) -> None:
        command = [
            str(SYSTEM_PYTHON),
            str(SERVE_SCRIPT),
            f"--file={self.media}",
            f"--port={self.port}",
            f"--mount={self.mount}",
            f"--codec={self.codec}",
        ]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = _read_line(process, deadline)
        if not line.startswith("READY "):
            process.kill()
            process.wait()
            raise RtspServerError(f"rtsp test server did not start: {line or 'no output'}")
        self.port = int(line.split()[1])
        self._process = process
        logger.debug("rtsp test server ready at %s", self.url)


def _read_line(process: subprocess.Popen[str], deadline: float) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(max(0.0, deadline - time.monotonic())):
            return ""
    return process.stdout.readline().strip()
