"""A tiny HTTP MJPEG (multipart/x-mixed-replace) server on loopback, run in a thread for tests."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

import cv2

logger = logging.getLogger(__name__)

BOUNDARY = "ccframe"


def jpeg_frames_from_clip(
    path: Path, *, max_frames: int = 50, width: int | None = None, quality: int = 80
) -> list[bytes]:
    """Decode up to ``max_frames`` frames of a clip and return them as JPEG bytes."""
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    frames: list[bytes] = []
    try:
        while len(frames) < max_frames:
            ok, image = cap.read()
            if not ok:
                break
            if width is not None and image.shape[1] != width:
                height = round(image.shape[0] * width / image.shape[1])
                image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
            encoded, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if encoded:
                frames.append(buffer.tobytes())
    finally:
        cap.release()
    if not frames:
        raise ValueError(f"no frames decoded from {path}")
    return frames


class MjpegTestServer:
    """Serves the given JPEG frames in a loop at ``fps`` on http://127.0.0.1:<port>/<path>."""

    def __init__(self, frames: Sequence[bytes], *, fps: float = 15.0, port: int = 0, path: str = "/video") -> None:
        if not frames:
            raise ValueError("frames must not be empty")
        self.frames = list(frames)
        self.fps = fps
        self.port = port
        self.path = path
        self._stop = threading.Event()
        self._flowing = threading.Event()
        self._flowing.set()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The stream URL (valid once started)."""
        return f"http://127.0.0.1:{self.port}{self.path}"

    def start(self) -> None:
        """Start serving in a background thread."""
        self._stop.clear()
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler_for(self))
        server.daemon_threads = True
        self.port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="mjpeg-test", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, end open streams and close the socket."""
        self._stop.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None

    def pause(self) -> None:
        """Keep connections open but stop sending frames (a stalled camera)."""
        self._flowing.clear()

    def resume(self) -> None:
        """Send frames again."""
        self._flowing.set()

    def __enter__(self) -> MjpegTestServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stream_to(self, handler: BaseHTTPRequestHandler) -> None:
        """Write frames to one client until it disconnects or the server stops."""
        handler.send_response(200)
        handler.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        handler.send_header("Cache-Control", "no-cache")
        handler.end_headers()
        interval = 1.0 / self.fps
        index = 0
        while not self._stop.is_set():
            if not self._flowing.wait(0.1):
                continue
            jpeg = self.frames[index % len(self.frames)]
            head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
            try:
                handler.wfile.write(head.encode("ascii") + jpeg + b"\r\n")
                handler.wfile.flush()
            except OSError:
                return
            index += 1
            self._stop.wait(interval)


def _handler_for(owner: MjpegTestServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != owner.path:
                self.send_error(404)
                return
            owner.stream_to(self)

        def log_message(self, format: str, *args: object) -> None:
            logger.debug("mjpeg test server: %s", format % args)

    return Handler


def wait_until(predicate: object, timeout: float, interval: float = 0.05) -> bool:
    """Poll a zero-argument callable until it returns truthy or ``timeout`` passes."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
