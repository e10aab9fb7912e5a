"""Test servers (RTSP, MJPEG) used by the capture tests; not imported in production."""
