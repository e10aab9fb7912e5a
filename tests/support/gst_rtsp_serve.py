"""Serve one H.264/H.265 video file over RTSP on loopback (GStreamer RTSP server, no re-encode).

Run with Debian's ``/usr/bin/python3`` (it needs ``python3-gi`` and
``gir1.2-gst-rtsp-server-1.0``); prints ``READY <port>`` on stdout once listening.
Every client gets its own pipeline that plays the file from the start; at the end
of the file the session ends, as a camera that drops its stream would.
This script must not import the project: it runs outside the project's venv.
"""

from __future__ import annotations

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

DEMUXERS = {".mp4": "qtdemux", ".m4v": "qtdemux", ".mov": "qtdemux", ".mkv": "matroskademux"}


def launch_line(path: str, codec: str) -> str:
    """Return the gst-launch description of the media pipeline."""
    suffix = path[path.rfind(".") :].lower()
    demuxer = DEMUXERS.get(suffix)
    if demuxer is None:
        raise SystemExit(f"unsupported container {suffix}: use .mp4, .mov or .mkv")
    location = path.replace("\\", "\\\\").replace('"', '\\"')
    return (
        f'( filesrc location="{location}" ! {demuxer} ! {codec}parse config-interval=-1 '
        f"! rtp{codec}pay name=pay0 pt=96 config-interval=1 )"
    )


def main(argv: list[str]) -> int:
    """Start the server and run until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--file", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mount", default="/stream")
    parser.add_argument("--codec", choices=["h264", "h265"], default="h264")
    args = parser.parse_args(argv)
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch_line(args.file, args.codec))
    factory.set_shared(False)
    server.get_mount_points().add_factory(args.mount, factory)
    if server.attach(None) == 0:
        print(f"FAILED cannot listen on port {args.port}", flush=True)
        return 2
    loop = GLib.MainLoop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, loop.quit)
    print(f"READY {server.get_bound_port()}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
